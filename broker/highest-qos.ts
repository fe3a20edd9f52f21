import type { Client } from 'aedes';
import { filterMatches } from '../core/topics.js';

/** What of an Aedes 1.2 client this reaches into: its delivery functions and subscriptions (not in Aedes' types). */
interface DeliveringClient {
  deliver0(packet: { topic: string; qos: number }, cb: () => void): void;
  deliverQoS(packet: { topic: string; qos: number }, cb: () => void): void;
  subscriptions: Record<string, { qos: number }>;
}

const patched = new WeakSet<Client>();

/**
 * [MQTT-3.3.5-1]: a message matching several of a client's subscriptions goes out at the highest
 * QoS granted. Aedes 1.2 sends one copy through whichever subscription matched first (its
 * per-client dedupe drops the others), so a QoS 1 message could leave at QoS 0 through an
 * overlapping QoS 0 filter. Called before the client subscribes to anything (preConnect: Aedes
 * takes `deliver0` when a subscription is made, also a restored one), this makes the QoS 0 path
 * hand a QoS 1 message to the QoS 1 path when another subscription of the client matching the
 * topic was granted QoS 1 or more. Costs nothing for a client without such a subscription.
 */
export function deliverAtHighestQos(client: Client): void {
  if (patched.has(client)) return;
  patched.add(client);
  const c = client as unknown as DeliveringClient;
  const deliver0 = c.deliver0;
  c.deliver0 = function deliverAtHighestGranted(packet, cb) {
    if (packet.qos > 0) {
      for (const filter in c.subscriptions) {
        if (c.subscriptions[filter]!.qos > 0 && filterMatches(filter, packet.topic)) return c.deliverQoS(packet, cb);
      }
    }
    return deliver0.call(c, packet, cb);
  };
}

import type { AedesOptions } from 'aedes';
import { hasRole } from '../core/principal.js';
import { isDeviceFilter, parseAlertFilter, parseDeviceTopic } from '../core/topics.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { ClientSessions } from './sessions.js';
import type { Principal } from './types.js';

export interface AuthorizeSubscribeDeps {
  sessions: ClientSessions;
  metrics: Metrics;
  log: Logger;
}

/**
 * Aedes runs this for each topic filter of a SUBSCRIBE, and again for the stored subscriptions of
 * a persistent session when it reconnects. Calling back (null, subscription) grants it; (null,
 * null) negates it, so the SUBACK carries 128 for that filter and the connection stays open.
 * Deny by default.
 */
export function createAuthorizeSubscribe(deps: AuthorizeSubscribeDeps): NonNullable<AedesOptions['authorizeSubscribe']> {
  const log = deps.log.child({ component: 'broker-acl' });
  return (client, subscription, callback) => {
    const principal = deps.sessions.principalOf(client);
    const reason = principal ? subscribeRefusal(principal, subscription.topic) : 'no_principal';
    if (!reason) return callback(null, subscription);
    deps.metrics.mqttRefused.inc({ action: 'subscribe', reason });
    log.debug({ clientId: client.id, filter: subscription.topic, reason }, 'subscription refused');
    callback(null, null);
  };
}

/** The filter inside an MQTT 5 shared subscription `$share/<group>/<filter>` [MQTT-4.8.2]; others as they are. */
function unshared(filter: string): string {
  const m = /^\$share\/[^/]+\/(.*)$/.exec(filter);
  return m ? m[1]! : filter;
}

/** Why this principal may not subscribe to this filter; null when it may. */
export function subscribeRefusal(p: Principal, filter: string): string | null {
  if (p.type === 'device') {
    const t = parseDeviceTopic(filter);
    const own = t !== null && t.kind === 'drone' && p.kind === 'drone' && t.deviceId === p.id && t.channel === 'commands';
    return own ? null : 'foreign_topic';
  }
  // GridPatrol's own workers and api: every device topic, in a shared-subscription group or not, and alerts
  if (p.type === 'service') return isDeviceFilter(unshared(filter)) || parseAlertFilter(filter) ? null : 'topic';
  const alert = parseAlertFilter(filter);
  if (alert) {
    // as in the HTTP API, alerts are for officers and admins; `grids` confines a token to those cells
    if (!hasRole(p, 'officer')) return 'role';
    if (p.grids && !p.grids.includes(alert.gridId)) return 'grid';
    return null;
  }
  // operators and above watch every drone and sensor topic, wildcards included
  return isDeviceFilter(filter) ? null : 'topic';
}

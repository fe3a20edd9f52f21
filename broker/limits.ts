import type { AedesOptions, Client } from 'aedes';
import { finished, type Duplex } from 'node:stream';
import type { Config } from '../core/config.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { PacketLimitedStream } from './packet-limit.js';

export interface LimitsDeps {
  limits: Config['limits'];
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

export interface Limits {
  preConnect: NonNullable<AedesOptions['preConnect']>;
  /**
   * How long the caller holds this PUBLISH back, in ms: 0 to take it now; more while the
   * connection publishes faster than allowed (Aedes reads nothing more from a connection while
   * one of its packets is held, so TCP throttles the publisher to the rate); -1 once the held-back
   * messages would wait over THROTTLE_MAX_MS: the caller refuses the publish, which closes it.
   */
  admitPublish(client: Client): number;
  /** Wraps a new connection so that a packet over `maxPacketBytes` closes it before it is buffered. */
  guard(conn: Duplex, remote: string | undefined): Duplex;
  /** Counts a connection closed for an oversize packet elsewhere (a WebSocket message over the limit). */
  oversize(remote: string | undefined): void;
}

/** a PUBLISH is held back at most this long (ms); a connection whose backlog would wait longer is closed */
export const THROTTLE_MAX_MS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * The broker's resource limits, each failing only the connection that goes over it: how many
 * connections are admitted, how fast one connection may publish, how large one packet may be.
 */
export function createLimits(deps: LimitsDeps): Limits {
  const { limits, metrics, now } = deps;
  const log = deps.log.child({ component: 'broker-limits' });
  const admittedClients = new WeakSet<Client>();
  const buckets = new WeakMap<Client, Bucket>();
  const overRate = new WeakSet<Client>();
  let admitted = 0;

  /*
   * Runs when a CONNECT arrives, before authentication, so a refused connection costs no password check.
   * Callback (null, true) lets the connect go on; an error closes the socket without a CONNACK.
   */
  const preConnect: Limits['preConnect'] = (client, _packet, callback) => {
    if (admittedClients.has(client)) return callback(null, true);
    if (admitted >= limits.maxConnections || client.conn.destroyed) {
      metrics.mqttRefused.inc({ action: 'connect', reason: 'max_connections' });
      log.debug({ admitted }, 'connection refused: at the connection limit');
      return callback(new Error('too many connections'), false);
    }
    admitted++;
    admittedClients.add(client);
    finished(client.conn, () => admitted--);
    callback(null, true);
  };

  // A token bucket: bursts up to one second's worth, then maxMessagesPerSec sustained. Below zero
  // the tokens are a debt: messages admitted for later, each its 1/rate s after the previous.
  function admitPublish(client: Client): number {
    if (overRate.has(client)) return -1;
    const rate = limits.maxMessagesPerSec;
    const t = now();
    const b = buckets.get(client) ?? { tokens: rate, at: t };
    b.tokens = Math.min(rate, b.tokens + ((t - b.at) * rate) / 1000);
    b.at = t;
    buckets.set(client, b);
    const waitMs = b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) * 1000) / rate);
    if (waitMs > THROTTLE_MAX_MS) {
      overRate.add(client);
      metrics.mqttLimitDisconnects.inc({ limit: 'rate' });
      log.info({ clientId: client.id, maxMessagesPerSec: rate }, 'connection closed: publishing faster than allowed for too long');
      return -1;
    }
    b.tokens -= 1;
    if (waitMs > 0) metrics.mqttThrottled.inc();
    return waitMs;
  }

  function oversize(remote: string | undefined): void {
    metrics.mqttLimitDisconnects.inc({ limit: 'packet_size' });
    log.info({ remote, maxPacketBytes: limits.maxPacketBytes }, 'connection closed: packet larger than allowed');
  }

  function guard(conn: Duplex, remote: string | undefined): Duplex {
    return new PacketLimitedStream(conn, limits.maxPacketBytes, () => oversize(remote));
  }

  return { preConnect, admitPublish, guard, oversize };
}

import { Aedes } from 'aedes';
import type { IncomingMessage } from 'node:http';
import { finished, type Duplex } from 'node:stream';
import { createAuthenticate } from './authenticate.js';
import { createAuthorizePublish, orphanWillOf } from './authorize-publish.js';
import { createAuthorizeSubscribe } from './authorize-subscribe.js';
import { createLimits } from './limits.js';
import { listenTcp, listenTls, listenWs, type Listener, type OnBadProxyHeader } from './listeners.js';
import { deliverAtHighestQos } from './highest-qos.js';
import { LoginThrottle } from './login-throttle.js';
import { openRedisBackplane } from './redis-backplane.js';
import { ClientSessions } from './sessions.js';
import type { Broker, BrokerDeps } from './types.js';

// a socket that never sends CONNECT holds a connection slot this long (ms)
const CONNECT_TIMEOUT_MS = 10_000;
/** how often a broker looks for devices another process disabled, rotated or removed, ms */
const REVOCATION_POLL_MS = 1000;

/**
 * The embedded MQTT broker, wired but not listening: Aedes with GridPatrol's hooks (one file
 * each), limits, and TCP and WebSocket listeners started by `listen()`.
 */
export function buildBroker(deps: BrokerDeps): Broker {
  const { config, metrics } = deps;
  const log = deps.log.child({ component: 'broker' });
  const now = deps.now ?? Date.now;
  const sessions = new ClientSessions();
  const limits = createLimits({ limits: config.limits, metrics, log, now });
  const open = new Set<Duplex>();
  const remotes = new WeakMap<object, string>();
  // connections that completed CONNECT, and those whose failure was already reported: each is counted once
  const connected = new WeakSet<object>();
  const reported = new WeakSet<object>();
  const throttle = new LoginThrottle({ maxFailures: config.mqttAuth?.maxFailures ?? 20, lockoutMs: config.mqttAuth?.lockoutMs ?? 300_000, now });
  let listeners: Listener[] = [];
  let closing = false;
  // with Redis, several nodes share sessions, retained messages, wills and delivery (README: Scaling past one machine)
  const deviceOf = (id: string) => deps.devices.get(id);
  const backplane = config.redis ? openRedisBackplane(config.redis.url, deps.log, { keepOrphanWill: (will) => orphanWillOf(deviceOf, will) !== null }) : null;

  const aedes = new Aedes({
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(backplane && config.redis && { persistence: backplane.persistence, mq: backplane.mq, heartbeatInterval: config.redis.heartbeatMs }),
    preConnect: (client, packet, callback) => {
      deliverAtHighestQos(client);
      sessions.rememberWill(client, packet.will);
      sessions.rememberClientId(client, packet.clientId, packet.clean ?? true);
      limits.preConnect(client, packet, callback);
    },
    authenticate: createAuthenticate({ devices: deps.devices, verifyToken: deps.verifyToken, isServiceToken: deps.isServiceToken, sessions, throttle, remoteOf: (client) => remotes.get(client.conn), metrics, log }),
    authorizePublish: createAuthorizePublish({ sessions, admitPublish: limits.admitPublish, ingest: deps.ingest, closing: () => closing, ...(backplane && { deviceOf }), metrics, log, now }),
    authorizeSubscribe: createAuthorizeSubscribe({ sessions, metrics, log }),
  });
  // Aedes reports persistence failures here; unhandled they would end the process
  (aedes as NodeJS.EventEmitter).on('error', (err: Error) => log.error({ err }, 'broker error'));
  // a connection is counted once, by its first error (a parser may report several)
  const countBad = (conn: object, err: Error) => {
    if (reported.has(conn)) return;
    reported.add(conn);
    const reason = badConnectionReason(err);
    if (reason) metrics.mqttBadConnections.inc({ reason });
  };
  aedes.on('client', (client) => connected.add(client.conn));
  aedes.on('clientError', (client, err) => {
    countBad(client.conn, err);
    log.debug({ clientId: client.id, err: err.message }, 'connection closed on error');
  });
  // the same before a CONNECT was accepted: garbage, a broken CONNECT, or none in time
  aedes.on('connectionError', (client, err) => {
    countBad(client.conn, err);
    log.debug({ err: err.message }, 'connection closed before CONNECT on error');
  });

  function accept(raw: Duplex, remote: string | undefined, req?: IncomingMessage): void {
    if (closing) return void raw.destroy();
    const conn = limits.guard(raw, remote);
    if (remote) remotes.set(conn, remote);
    open.add(conn);
    metrics.mqttConnections.inc();
    finished(conn, () => {
      open.delete(conn);
      metrics.mqttConnections.dec();
      // e.g. a PUBLISH before CONNECT [MQTT-3.1.0-1], or a peer that hung up without a word: Aedes just closes
      // these. Looked at a turn later: `finished` fires on the stream's error before Aedes reports it.
      setImmediate(() => {
        if (connected.has(conn) || reported.has(conn) || closing) return;
        metrics.mqttBadConnections.inc({ reason: 'closed_before_connect' });
      });
    });
    aedes.handle(conn, req);
  }

  function disconnectDevice(id: string): void {
    for (const client of sessions.clientsOf(id)) client.close();
  }
  const stopWatchingDevices = deps.devices.onRevoked(disconnectDevice);
  // a separate `api` process disables or rotates devices in the shared database: seen here within a second
  let revocationFailing = false;
  const revocationPoll = setInterval(() => {
    try {
      deps.devices.pollRevocations();
      if (revocationFailing) log.info('device revocations are read again');
      revocationFailing = false;
    } catch (err) {
      if (!revocationFailing) log.warn({ err }, 'cannot read device revocations; retried every second');
      revocationFailing = true;
    }
  }, REVOCATION_POLL_MS);
  revocationPoll.unref();

  const proxy: OnBadProxyHeader | undefined = config.mqttProxyProtocol
    ? (remote, err) => {
      metrics.mqttBadConnections.inc({ reason: 'proxy_header' });
      log.debug({ remote, err: err.message }, 'connection closed: no valid PROXY protocol header');
    }
    : undefined;

  async function listen(): Promise<{ mqttPort: number; wsPort: number; mqttsPort: number | null }> {
    await backplane?.ready();
    await aedes.listen();
    const tcp = await listenTcp(config.host, config.mqttPort, accept, proxy);
    listeners.push(tcp);
    const ws = await listenWs(config.host, config.mqttWsPort, config.limits.maxPacketBytes, accept, limits.oversize, deps.tls, proxy);
    listeners.push(ws);
    const mqtts = deps.tls && config.tls ? await listenTls(config.host, config.tls.mqttsPort, deps.tls, accept) : null;
    if (mqtts) listeners.push(mqtts);
    log.info({ host: config.host, mqttPort: tcp.port, wsPort: ws.port, mqttsPort: mqtts?.port ?? null }, 'MQTT broker listening');
    return { mqttPort: tcp.port, wsPort: ws.port, mqttsPort: mqtts?.port ?? null };
  }

  async function close(): Promise<void> {
    if (closing) return;
    closing = true;
    clearInterval(revocationPoll);
    stopWatchingDevices();
    const stopped = Promise.all(listeners.map((l) => l.close()));
    listeners = [];
    const aedesClosed = new Promise<void>((resolve) => aedes.close(() => resolve()));
    await (backplane ? backplane.close(aedesClosed) : aedesClosed);
    // connections that never completed CONNECT are not Aedes clients yet
    for (const conn of open) conn.destroy();
    await stopped;
  }

  return { aedes, listen, close, disconnectDevice, redis: backplane && { health: () => backplane.health() } };
}

/**
 * A small fixed set of metric labels for why a connection failed; null for our own refusals
 * (login, ACL, limits), which gridpatrol_mqtt_refused_total and the limit counters already count.
 */
function badConnectionReason(err: Error & { code?: string; errorCode?: number }): string | null {
  if (err.errorCode !== undefined || /^(connect|publish) refused|too many connections/.test(err.message)) return null;
  if (/did not arrive in time/.test(err.message)) return 'connect_timeout';
  if (/packet larger/.test(err.message)) return 'packet_size';
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'reset';
  return 'malformed';
}

import { Aedes } from 'aedes';
import type { IncomingMessage } from 'node:http';
import { finished, type Duplex } from 'node:stream';
import { createAuthenticate } from './authenticate.js';
import { createAuthorizePublish } from './authorize-publish.js';
import { createAuthorizeSubscribe } from './authorize-subscribe.js';
import { createLimits } from './limits.js';
import { listenTcp, listenWs, type Listener } from './listeners.js';
import { ClientSessions } from './sessions.js';
import type { Broker, BrokerDeps } from './types.js';

// a socket that never sends CONNECT holds a connection slot this long (ms)
const CONNECT_TIMEOUT_MS = 10_000;

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
  let listeners: Listener[] = [];
  let closing = false;

  const aedes = new Aedes({
    connectTimeout: CONNECT_TIMEOUT_MS,
    preConnect: (client, packet, callback) => {
      sessions.rememberWill(client, packet.will);
      limits.preConnect(client, packet, callback);
    },
    authenticate: createAuthenticate({ devices: deps.devices, verifyToken: deps.verifyToken, sessions, metrics, log }),
    authorizePublish: createAuthorizePublish({ sessions, allowPublish: limits.allowPublish, ingest: deps.ingest, closing: () => closing, metrics, log, now }),
    authorizeSubscribe: createAuthorizeSubscribe({ sessions, metrics, log }),
  });
  // Aedes reports persistence failures here; unhandled they would end the process
  (aedes as NodeJS.EventEmitter).on('error', (err: Error) => log.error({ err }, 'broker error'));
  aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'connection closed on error'));

  function accept(raw: Duplex, remote: string | undefined, req?: IncomingMessage): void {
    if (closing) return void raw.destroy();
    const conn = limits.guard(raw, remote);
    open.add(conn);
    metrics.mqttConnections.inc();
    finished(conn, () => {
      open.delete(conn);
      metrics.mqttConnections.dec();
    });
    aedes.handle(conn, req);
  }

  function disconnectDevice(id: string): void {
    for (const client of sessions.clientsOf(id)) client.close();
  }
  const stopWatchingDevices = deps.devices.onRevoked(disconnectDevice);

  async function listen(): Promise<{ mqttPort: number; wsPort: number }> {
    await aedes.listen();
    const tcp = await listenTcp(config.host, config.mqttPort, accept);
    listeners.push(tcp);
    const ws = await listenWs(config.host, config.mqttWsPort, config.limits.maxPacketBytes, accept, limits.oversize);
    listeners.push(ws);
    log.info({ host: config.host, mqttPort: tcp.port, wsPort: ws.port }, 'MQTT broker listening');
    return { mqttPort: tcp.port, wsPort: ws.port };
  }

  async function close(): Promise<void> {
    if (closing) return;
    closing = true;
    stopWatchingDevices();
    const stopped = Promise.all(listeners.map((l) => l.close()));
    listeners = [];
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    // connections that never completed CONNECT are not Aedes clients yet
    for (const conn of open) conn.destroy();
    await stopped;
  }

  return { aedes, listen, close, disconnectDevice };
}

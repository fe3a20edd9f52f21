import type { Config } from '../core/config.js';
import { buildBroker } from '../broker/build.js';
import { loadTls } from '../lib/tls.js';
import type { Logger } from '../lib/logger.js';
import { buildApiRole } from './api-role.js';
import { dataFolderReadiness } from '../storage/write-guard.js';
import { openFoundation } from './foundation.js';
import { openIngestNode } from './ingest-node.js';
import { createMqttSource } from './mqtt-source.js';
import { buildNodeHttp, portOf } from './node-http.js';

/** One process of a deployment split by role (README: Scaling past one machine). */
export interface RoleProcess {
  role: Config['role'];
  nodeId: string;
  adminToken: { token: string; generated: boolean; file: string };
  /** Connects and listens; the real ports (0 picks free ones; MQTT ports only for the broker). */
  start(): Promise<{ httpPort: number; mqttPort?: number; wsPort?: number; mqttsPort?: number | null }>;
  stop(): Promise<void>;
}

/** The process for `config.role` other than `all` (that one is buildGridPatrol, unchanged). */
export async function buildRole(config: Readonly<Config>, log: Logger): Promise<RoleProcess> {
  if (config.role === 'broker') return buildBrokerRole(config, log);
  if (config.role === 'ingest') return buildIngestRole(config, log);
  if (config.role === 'api') return buildApiRole(config, log);
  throw new Error(`role ${config.role} is built by buildGridPatrol`);
}

/**
 * Aedes with device authentication and the ACL. BROKER_INGEST=local: devices' messages are ingested
 * in this process as in `all` (PUBACK after the spool append); none: they only pass through to
 * subscribers (ingest workers, the api).
 */
async function buildBrokerRole(config: Readonly<Config>, baseLog: Logger): Promise<RoleProcess> {
  const f = openFoundation(config, baseLog);
  const node = config.cluster.brokerIngest === 'local' ? await openIngestNode(config, f) : null;
  const broker = buildBroker({
    config, tls: loadTls(config.tls), devices: f.devices, verifyToken: f.verifyToken, isServiceToken: f.isServiceToken,
    ingest: node ? (msg) => node.ingest.accept(msg) : () => Promise.resolve(), metrics: f.metrics, log: f.log,
  });
  let listening = false;
  const http = await buildNodeHttp({
    metrics: f.metrics, log: f.log,
    readiness: async () => ({
      broker: { ok: listening, detail: listening ? undefined : 'not listening' },
      ...(broker.redis && { redis: broker.redis.health() }),
      data: dataFolderReadiness([f.metaGuard]),
      ...(node ? await node.readiness() : {}),
    }),
  });
  return {
    role: 'broker', nodeId: f.nodeId, adminToken: f.adminToken,
    async start() {
      f.startCheckpoints(node?.store);
      node?.start();
      const ports = await broker.listen();
      await http.listen({ host: config.host, port: config.httpPort });
      listening = true;
      return { ...ports, httpPort: portOf(http, config.httpPort) };
    },
    async stop() {
      listening = false;
      await broker.close();
      await http.close();
      await node?.stop();
      await f.close();
    },
  };
}

/**
 * An MQTT client worker: a persistent session (fixed client id from the node id) on the device
 * topics, in a shared-subscription group with GRIDPATROL_INGEST_SHARE; every message goes
 * through the pipeline into this node's spool before its PUBACK.
 */
async function buildIngestRole(config: Readonly<Config>, baseLog: Logger): Promise<RoleProcess> {
  const f = openFoundation(config, baseLog);
  const node = await openIngestNode(config, f);
  // several members of the shared-subscription group: their spool appends overlap (one group commit)
  const n = config.cluster.ingestConnections;
  const sources = Array.from({ length: n }, (_, k) => createMqttSource({
    url: config.cluster.mqttUrl!, clientId: n === 1 ? `gridpatrol-ingest-${f.nodeId}` : `gridpatrol-ingest-${f.nodeId}-${k + 1}`,
    password: f.adminToken.token, share: config.cluster.ingestShare, onMessage: (env) => node.ingest.accept(env), log: f.log,
  }));
  const connected = () => sources.every((s) => s.connected());
  const http = await buildNodeHttp({
    metrics: f.metrics, log: f.log,
    readiness: async () => ({ broker: { ok: connected(), detail: connected() ? undefined : `not connected to ${config.cluster.mqttUrl}` }, ...(await node.readiness()) }),
  });
  return {
    role: 'ingest', nodeId: f.nodeId, adminToken: f.adminToken,
    async start() {
      f.startCheckpoints(node.store);
      node.start();
      await Promise.all(sources.map((s) => s.start()));
      await http.listen({ host: config.host, port: config.httpPort });
      return { httpPort: portOf(http, config.httpPort) };
    },
    async stop() {
      await Promise.all(sources.map((s) => s.stop()));
      await http.close();
      await node.stop();
      await f.close();
    },
  };
}

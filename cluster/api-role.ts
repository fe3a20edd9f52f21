import { Counter } from 'prom-client';
import { buildAlerting } from '../alerts/runtime.js';
import { buildApp } from '../api/app.js';
import type { Config } from '../core/config.js';
import { dataGuards, registerStateGauges } from '../gridpatrol.js';
import { buildIngest } from '../ingest/pipeline.js';
import type { Logger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { loadTls } from '../lib/tls.js';
import { dataFolderReadiness } from '../storage/write-guard.js';
import { openFoundation } from './foundation.js';
import { openSpooledStore } from './ingest-node.js';
import { createMqttSource } from './mqtt-source.js';
import { portOf } from './node-http.js';
import type { RoleProcess } from './roles.js';

/**
 * The HTTP API and dashboard, the alerts, and the ONE rules evaluator with the live state. The
 * evaluator is fed by its own persistent session on the device topics (never shared), so it
 * sees every message of every device in the order the broker delivers them, whichever worker
 * stores it: stateful rules (durations, lost link, rate of change) see what the single process
 * sees. It runs the same stages as ingest (decode → validate → normalize → dedup → enrich) but
 * stores nothing: the ingest workers store telemetry and dead letters; this process stores
 * only alert transitions, through its own spool.
 */
export async function buildApiRole(config: Readonly<Config>, baseLog: Logger): Promise<RoleProcess> {
  const f = openFoundation(config, baseLog);
  const { metrics, log } = f;
  const { live, store, spool, writer } = await openSpooledStore(config, f);

  let publish: (topic: string, payload: string) => void = () => {};
  const alerting = buildAlerting({ config, db: f.meta, dataGuard: f.metaGuard, grids: f.grids, devices: f.devices, live, sink: spool, publish: (t, p) => publish(t, p), metrics, log });
  const evaluated = new Counter({ name: 'gridpatrol_rules_records_total', help: 'records the rules evaluator took from the broker (api role)', registers: [metrics.registry] });
  const evaluator = buildIngest({
    config, grids: f.grids, sensorCell: (id) => f.devices.get(id)?.gridId, live, log,
    observer: { records: (rs) => (evaluated.inc(rs.length), alerting.observer.records(rs)), status: alerting.observer.status },
    // the workers store and count what they take: here records only feed the rules and the live state
    sink: { append: () => Promise.resolve() }, deadLetters: { add: () => {} }, metrics: createMetrics(),
  });
  const source = createMqttSource({
    url: config.cluster.mqttUrl!, clientId: `gridpatrol-api-${f.nodeId}`, password: f.adminToken.token,
    onMessage: (env) => evaluator.accept(env), log,
  });
  publish = source.publish;

  const readiness = async () => {
    const s = spool.stats();
    const storeOk = await store.ping().catch(() => false);
    return {
      broker: { ok: source.connected(), detail: source.connected() ? undefined : `not connected to ${config.cluster.mqttUrl}` },
      store: { ok: storeOk, detail: storeOk ? undefined : `${store.kind} store does not answer; alert transitions wait in the spool` },
      spool: { ok: !s.full && !s.writeError, detail: s.writeError ?? (s.full ? 'at its disk budget' : `${s.pendingRecords} records waiting`) },
      data: dataFolderReadiness(dataGuards(f.metaGuard, store)),
    };
  };
  registerStateGauges(metrics, { spool, alerting, now: Date.now });
  const api = await buildApp({
    store, live, devices: f.devices, deadLetters: f.deadLetters, grids: f.grids, metrics, log, verifyToken: f.verifyToken, readiness,
    alerting, db: f.meta, tokens: f.tokens, tls: loadTls(config.tls),
    // the dashboard's live MQTT feed is the broker's business in a split deployment: it falls back to the API
    dashboard: { mqttWsPort: () => null, tileUrl: config.dashboard.tileUrl, tileAttribution: config.dashboard.tileAttribution },
  });

  return {
    role: 'api', nodeId: f.nodeId, adminToken: f.adminToken,
    async start() {
      f.startCheckpoints(store);
      writer.start();
      alerting.start();
      await source.start();
      await api.listen({ host: config.host, port: config.httpPort });
      return { httpPort: portOf(api, config.httpPort) };
    },
    async stop() {
      await source.stop();
      await api.close();
      await alerting.stop();
      await writer.stop();
      await spool.close();
      await store.close();
      await f.close();
    },
  };
}

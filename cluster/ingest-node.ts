import { join } from 'node:path';
import type { Config } from '../core/config.js';
import { dataGuards, makeStore, initStore } from '../gridpatrol.js';
import { dataFolderReadiness } from '../storage/write-guard.js';
import { buildIngest, type Ingest, type IngestObserver } from '../ingest/pipeline.js';
import { Spool } from '../ingest/spool.js';
import { SpoolWriter } from '../ingest/writer.js';
import { LiveState } from '../storage/live-state.js';
import type { TelemetryStore } from '../storage/telemetry-store.js';
import type { Foundation } from './foundation.js';

/** The ingest stage of one node: the pipeline, its own spool under <data>/nodes/<id>/spool, the writer to the shared store. */
export interface IngestNode {
  ingest: Ingest;
  spool: Spool;
  writer: SpoolWriter;
  store: TelemetryStore;
  live: LiveState;
  readiness(): Promise<Record<string, { ok: boolean; detail?: string }>>;
  start(): void;
  stop(): Promise<void>;
}

/** The node's store (live state seeded from it), its own spool and the writer draining one into the other. */
export async function openSpooledStore(config: Readonly<Config>, f: Foundation) {
  const { metrics, log } = f;
  const live = new LiveState();
  const store = makeStore(config, log, metrics);
  await initStore(store, live, log);
  const spool = await Spool.open({ dir: join(f.nodeDir, 'spool'), maxBytes: config.spool.maxBytes, fsync: config.spool.fsync, log, metrics });
  const writer = new SpoolWriter({ spool, store, deadLetters: f.deadLetters, batchSize: config.writer.batchSize, flushIntervalMs: config.writer.flushIntervalMs, log, metrics });
  return { live, store, spool, writer };
}

export async function openIngestNode(config: Readonly<Config>, f: Foundation, observer?: IngestObserver): Promise<IngestNode> {
  const { metrics, log } = f;
  const { live, store, spool, writer } = await openSpooledStore(config, f);
  const ingest = buildIngest({ config, grids: f.grids, sensorCell: (id) => f.devices.get(id)?.gridId, sink: spool, deadLetters: f.deadLetters, live, metrics, log, observer });
  return {
    ingest, spool, writer, store, live,
    async readiness() {
      const s = spool.stats();
      const storeOk = await store.ping().catch(() => false);
      return {
        store: { ok: storeOk, detail: storeOk ? undefined : `${store.kind} store does not answer; records wait in the spool` },
        spool: { ok: !s.full && !s.writeError, detail: s.writeError ?? (s.full ? 'at its disk budget' : `${s.pendingRecords} records waiting`) },
        data: dataFolderReadiness(dataGuards(f.metaGuard, store)),
      };
    },
    start: () => writer.start(),
    async stop() {
      await writer.stop();
      await spool.close();
      await store.close();
    },
  };
}

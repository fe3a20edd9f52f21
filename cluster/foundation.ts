import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../core/config.js';
import type { GridIndex } from '../core/grids.js';
import type { Principal } from '../core/principal.js';
import { resolveAdminToken } from '../lib/admin-token.js';
import { prepareDataDir } from '../lib/data-dir.js';
import { loadGrids } from '../lib/grids.js';
import type { Logger } from '../lib/logger.js';
import { createMetrics, type Metrics } from '../lib/metrics.js';
import { DeadLetters } from '../storage/dead-letters.js';
import { DeviceRegistry } from '../storage/devices.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import { TokenStore } from '../storage/tokens.js';
import { Checkpointer } from '../storage/checkpointer.js';
import type { TelemetryStore } from '../storage/telemetry-store.js';
import { openGuardedMetadataDb, sqliteFiles } from '../gridpatrol.js';
import type { WriteGuard } from '../storage/write-guard.js';

/** What every process of a split deployment opens in the shared data folder. */
export interface Foundation {
  nodeId: string;
  /** this node's own folder, <data>/nodes/<nodeId>: its spool lives there */
  nodeDir: string;
  metrics: Metrics;
  grids: GridIndex;
  meta: MetadataDb;
  /** between the metadata database and a data folder that turns read-only */
  metaGuard: WriteGuard;
  devices: DeviceRegistry;
  deadLetters: DeadLetters;
  tokens: TokenStore;
  adminToken: { token: string; generated: boolean; file: string };
  verifyToken(token: string): Promise<Principal | null>;
  /** the admin token: the password of GridPatrol's own processes at the broker */
  isServiceToken(token: string): boolean;
  log: Logger;
  /** Starts checkpointing the metadata database and, when it is SQLite, the store, out of this process (storage/checkpointer.ts). */
  startCheckpoints(store?: TelemetryStore): void;
  close(): Promise<void>;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export function openFoundation(config: Readonly<Config>, baseLog: Logger): Foundation {
  const nodeId = config.cluster.nodeId ?? hostname();
  const log = baseLog.child({ node: nodeId, role: config.role });
  prepareDataDir(config.dataDir);
  const nodeDir = join(config.dataDir, 'nodes', nodeId);
  mkdirSync(nodeDir, { recursive: true });
  const metrics = createMetrics();
  const grids = loadGrids(config.gridsFile);
  // WAL mode: every process of the deployment opens the same metadata database
  const metaFile = openGuardedMetadataDb(config.dataDir, log, metrics);
  const { db: meta, guard: metaGuard } = metaFile;
  let checkpointer: Checkpointer | undefined;
  const devices = new DeviceRegistry(meta);
  const deadLetters = new DeadLetters(meta, config.deadLetters.maxRows, (rows) => metrics.deadLettersRotated.inc(rows));
  const tokens = new TokenStore(meta);
  const adminToken = sharedAdminToken(config);
  return {
    nodeId, nodeDir, metrics, grids, meta, metaGuard, devices, deadLetters, tokens, adminToken, log,
    verifyToken: async (token) =>
      constantTimeEqual(token, adminToken.token) ? { type: 'person', tokenId: 'admin', name: 'admin', role: 'admin' } : tokens.verify(token),
    isServiceToken: (token) => constantTimeEqual(token, adminToken.token),
    startCheckpoints(store) {
      checkpointer = new Checkpointer({ files: store ? sqliteFiles(metaFile, store) : [metaFile], log });
      checkpointer.start();
    },
    async close() {
      await checkpointer?.stop();
      meta.close();
    },
  };
}

/** Processes started together may race to generate the token: the one that loses reads the winner's file. */
function sharedAdminToken(config: Readonly<Config>) {
  try {
    return resolveAdminToken(config.dataDir, config.adminToken);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return resolveAdminToken(config.dataDir, config.adminToken);
  }
}

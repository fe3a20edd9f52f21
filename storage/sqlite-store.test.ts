import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeTelemetryStoreContract } from './contract.js';
import { SqliteStore } from './sqlite-store.js';

describeTelemetryStoreContract('SqliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridpatrol-sqlite-'));
  return {
    store: new SqliteStore(join(dir, 'telemetry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

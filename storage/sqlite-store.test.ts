import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeTelemetryStoreContract } from './contract.js';
import { SqliteStore } from './sqlite-store.js';

describeTelemetryStoreContract('SqliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridpatrol-sqlite-'));
  const path = join(dir, 'telemetry.db');
  return {
    store: new SqliteStore(path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    async measurement(name) {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}" ORDER BY ts`).all() as Array<Record<string, unknown>>;
        return rows.map(({ ts, ...r }) => ({ time: ts, ...r }));
      } finally {
        db.close();
      }
    },
  };
});

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type MetadataDb = Database.Database;

/**
 * The data folder's metadata database (devices, dead letters, later tokens and alerts): small,
 * transactional, separate from the telemetry store so that the store can be InfluxDB.
 * WAL mode: readers (the api) never block the writer (ingest).
 */
export function openMetadataDb(path: string): MetadataDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

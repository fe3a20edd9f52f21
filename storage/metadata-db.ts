import type Database from 'better-sqlite3';
import { openSqlite } from './sqlite-file.js';
import type { WriteGuard } from './write-guard.js';

export type MetadataDb = Database.Database;

/**
 * The data folder's metadata database (devices, tokens, dead letters, alerts): small,
 * transactional, separate from the telemetry store so that the store can be InfluxDB.
 */
export function openMetadataDb(path: string, guard?: WriteGuard): MetadataDb {
  return openSqlite(path, guard);
}

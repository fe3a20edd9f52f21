import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { guardDatabase, WriteGuard } from './write-guard.js';

/**
 * Opens one of the data folder's SQLite files as GridPatrol uses them all: WAL mode (readers, the
 * api and other processes, never block the writer), synchronous NORMAL (a power cut may lose the
 * last commits, never corrupt), a busy timeout for the other processes of a split deployment,
 * and a WriteGuard between the connection and a folder that turns read-only.
 */
export function openSqlite(path: string, guard: WriteGuard = new WriteGuard(path)): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return guardDatabase(db, guard);
}

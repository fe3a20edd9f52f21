// @ts-check
/**
 * The checkpointer's child process (storage/checkpointer.ts): every
 * GRIDPATROL_CHECKPOINT_INTERVAL_MS (1000) it copies what the WAL of each database given as an
 * argument holds into the database file, while the folder can be written. PASSIVE checkpoints
 * never wait for GridPatrol's writers or readers (a wait inside SQLite, after GridPatrol's write
 * guard has checked the folder, would open a window for SIGBUS there); pass after pass until one
 * has caught up, so that GridPatrol's next write starts the WAL over. A checkpoint syncs the files
 * before it stores its progress in the WAL index: should the folder turn read-only in that window,
 * the SIGBUS ends this process, not GridPatrol, which starts another.
 *
 * Plain JavaScript on purpose: run by `node` alone it takes about half the memory it would
 * through tsx. It checks the folder as storage/write-guard.ts does (the folder, then the index).
 */
import Database from 'better-sqlite3';
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';

const intervalMs = Number(process.env.GRIDPATROL_CHECKPOINT_INTERVAL_MS ?? 1000);
const MAX_PASSES = 20;

/** @param {string} path */
function writable(path) {
  try {
    accessSync(dirname(path), constants.W_OK);
    accessSync(`${path}-shm`, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const files = process.argv.slice(2).map((path) => {
  const db = new Database(path, { fileMustExist: true });
  // opened while the folder was read-only, SQLite falls back to a read-only connection for good
  if (db.readonly) process.exit(1);
  db.pragma('busy_timeout = 0');
  return { path, db };
});

const timer = setInterval(() => {
  for (const { path, db } of files) {
    try {
      for (let pass = 0; pass < MAX_PASSES && writable(path); pass++) {
        const [done] = /** @type {{ busy: number; log: number; checkpointed: number }[]} */ (db.pragma('wal_checkpoint(PASSIVE)'));
        if (!done || done.busy !== 0 || done.checkpointed >= done.log) break;
      }
    } catch (err) {
      // busy: the next round tries again; anything else (read-only, I/O): a fresh process, once the parent sees the folder writable
      if (!/^SQLITE_(BUSY|LOCKED)/.test(String(/** @type {{ code?: unknown }} */ (err).code))) process.exit(1);
    }
  }
  process.send?.('checkpointed');
}, intervalMs);

// the parent went away: nothing is left to checkpoint for
process.on('disconnect', () => {
  clearInterval(timer);
  for (const { path, db } of files) if (writable(path)) db.close();
  process.exit(0);
});

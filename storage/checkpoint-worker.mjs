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
 * PASSIVE passes alone never let the WAL start over under a writer that commits every few
 * milliseconds (an alert storm): each pass catches up with the WAL as it was when the pass began,
 * but the writer has appended more by the time its fsync ends, so no write ever finds the WAL
 * wholly copied (measured: ~2 MB/s of WAL, never reused, at 450 small commits/s). Once the WAL
 * holds FULL_AT_FRAMES, one FULL checkpoint holds GridPatrol's writer back for the few
 * milliseconds it takes to copy the rest, as SQLite's own checkpoint in the writer would, and
 * GridPatrol's next write starts the WAL over. That wait is inside SQLite, after the write guard's
 * check, so a folder turning read-only during it can still end in a SIGBUS: FULL_AT_FRAMES is 4
 * times SQLite's 1,000 to make those waits rare, for a WAL of up to ~16 MiB (at 1,000 one
 * 300-flip run of the read-only-flapping test saw 2 deaths; PASSIVE alone also saw 2 in 900).
 *
 * Plain JavaScript on purpose: run by `node` alone it takes about half the memory it would
 * through tsx. It checks the folder as storage/write-guard.ts does (the folder, then the index).
 */
import Database from 'better-sqlite3';
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';

const intervalMs = Number(process.env.GRIDPATROL_CHECKPOINT_INTERVAL_MS ?? 1000);
const MAX_PASSES = 20;
/** 4 × SQLite's own checkpoint threshold (wal_autocheckpoint's default, 1,000 pages) */
const FULL_AT_FRAMES = 4000;
/** how long a FULL checkpoint waits for the writer's lock between GridPatrol's commits */
const FULL_WAIT_MS = 200;

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

/**
 * @param {import('better-sqlite3').Database} db
 * @param {'PASSIVE' | 'FULL'} mode
 */
function checkpoint(db, mode) {
  return /** @type {{ busy: number; log: number; checkpointed: number }[]} */ (db.pragma(`wal_checkpoint(${mode})`));
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
      /** frames in the WAL when the last pass began */
      let frames = 0;
      for (let pass = 0; pass < MAX_PASSES && writable(path); pass++) {
        const [done] = checkpoint(db, 'PASSIVE');
        frames = done?.log ?? 0;
        if (!done || done.busy !== 0 || done.checkpointed >= done.log) break;
      }
      if (frames >= FULL_AT_FRAMES && writable(path)) {
        db.pragma(`busy_timeout = ${FULL_WAIT_MS}`);
        try {
          checkpoint(db, 'FULL');
        } finally {
          db.pragma('busy_timeout = 0');
        }
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

import Database from 'better-sqlite3';
import { WriteGuard } from './write-guard.js';

/**
 * The checkpointer's child process (storage/checkpointer.ts): every CHECKPOINT_INTERVAL_MS it
 * copies what the WAL of each database given as an argument holds into the database file, when
 * the folder can be written. A PASSIVE checkpoint never waits, but from another process it
 * rarely catches the writer up, and SQLite starts the WAL over only when it has; so once the WAL
 * holds RESTART_AT_FRAMES (SQLite's own autocheckpoint threshold), a RESTART checkpoint holds
 * new writers back (they wait in their busy timeout: the milliseconds of one sync, as SQLite's
 * own checkpoint in their process would take) until the next write starts the WAL over. A
 * checkpoint syncs the files before it stores its progress in the WAL index; should the folder
 * turn read-only in that window, the SIGBUS ends this process, not GridPatrol.
 */
const intervalMs = Number(process.env.GRIDPATROL_CHECKPOINT_INTERVAL_MS ?? 1000);
const MAX_PASSES = 20;
const files = process.argv.slice(2).map((path) => {
  const db = new Database(path, { fileMustExist: true });
  // opened while the folder was read-only, SQLite falls back to a read-only connection for good
  if (db.readonly) process.exit(1);
  db.pragma('busy_timeout = 0');
  return { db, guard: new WriteGuard(path) };
});
type Checkpoint = { busy: number; log: number; checkpointed: number };

const timer = setInterval(() => {
  for (const { db, guard } of files) {
    if (guard.problem() !== null) continue;
    try {
      // again while GridPatrol appended more meanwhile: once a pass has caught up, its next write starts the WAL over
      for (let pass = 0; pass < MAX_PASSES && guard.problem() === null; pass++) {
        const [done] = db.pragma('wal_checkpoint(PASSIVE)') as Checkpoint[];
        if (!done || done.busy !== 0 || done.checkpointed >= done.log) break;
      }
    } catch (err) {
      // busy: the next round tries again; anything else (read-only, I/O): a fresh process, once the parent sees the folder writable
      if (!/^SQLITE_(BUSY|LOCKED)/.test(String((err as { code?: unknown }).code))) process.exit(1);
    }
  }
  process.send?.('checkpointed');
}, intervalMs);

// the parent went away: nothing is left to checkpoint for
process.on('disconnect', () => {
  clearInterval(timer);
  for (const { db, guard } of files) if (guard.problem() === null) db.close();
  process.exit(0);
});

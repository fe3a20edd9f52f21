import type Database from 'better-sqlite3';
import { fork, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Logger } from '../lib/logger.js';
import { projectPath } from '../lib/paths.js';
import type { WriteGuard } from './write-guard.js';

export interface CheckpointedFile {
  path: string;
  /** GridPatrol's own connection to it */
  db: Database.Database;
  guard: WriteGuard;
}

/** SQLite's own default: a checkpoint once the WAL holds this many pages. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

/**
 * Moves SQLite's WAL checkpoints out of GridPatrol's process. SQLite checkpoints after a commit
 * once the WAL is long; a checkpoint syncs the database file and then stores its progress in
 * the memory-mapped WAL index. If the data folder turns read-only during those milliseconds of
 * fsync, that store is a SIGBUS (every SIGBUS that storage/write-guard.ts left was there, in
 * walCheckpoint). So GridPatrol's connections do not checkpoint (`wal_autocheckpoint = 0`) and
 * a child process (storage/checkpoint-worker.mjs) does, every second, started once a WAL passes
 * `startAtWalBytes` (short runs, most tests among them, never need it) and started again the
 * same way if it dies. If it cannot be started at all, the connections checkpoint themselves
 * again, as SQLite does by default.
 */
export class Checkpointer {
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** times the child was started */
  starts = 0;

  constructor(private readonly o: { files: readonly CheckpointedFile[]; log: Logger; intervalMs?: number; startAtWalBytes?: number }) {}

  start(): void {
    if (this.o.files.length === 0) return;
    this.setAutoCheckpoint(0);
    this.timer = setInterval(() => this.ensureChild(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.disconnect();
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(kill);
  }

  /** Resolves at the child's next round of checkpoints (for tests). */
  nextRound(): Promise<void> {
    return new Promise((resolve) => this.child?.once('message', () => resolve()));
  }

  /** the child's process id while it runs */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private ensureChild(): void {
    if (this.stopped || this.child) return;
    const minBytes = this.o.startAtWalBytes ?? 1024 * 1024;
    if (!this.o.files.some((f) => walBytes(f.path) >= minBytes)) return;
    if (this.o.files.some((f) => f.guard.problem() !== null)) return;
    this.spawn();
  }

  private spawn(): void {
    let child: ChildProcess;
    try {
      child = fork(projectPath('storage', 'checkpoint-worker.mjs'), this.o.files.map((f) => f.path), {
        execArgv: [],
        env: { ...process.env, ...(this.o.intervalMs !== undefined && { GRIDPATROL_CHECKPOINT_INTERVAL_MS: String(this.o.intervalMs) }) },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
    } catch (err) {
      this.o.log.warn({ err }, 'cannot start the checkpointer; SQLite checkpoints in this process');
      clearInterval(this.timer);
      this.setAutoCheckpoint(SQLITE_AUTOCHECKPOINT_PAGES);
      return;
    }
    this.starts++;
    // neither the child nor its channel keeps GridPatrol running
    child.unref();
    child.channel?.unref();
    this.child = child;
    child.once('exit', (code, signal) => {
      this.child = undefined;
      if (!this.stopped) this.o.log.warn({ code, signal }, 'the checkpointer process ended; started again once a WAL grows and the data folder can be written');
    });
  }

  private setAutoCheckpoint(pages: number): void {
    for (const f of this.o.files) f.db.pragma(`wal_autocheckpoint = ${pages}`);
  }
}

function walBytes(dbPath: string): number {
  try {
    return statSync(`${dbPath}-wal`).size;
  } catch {
    return 0;
  }
}

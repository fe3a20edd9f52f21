import type Database from 'better-sqlite3';
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { Gauge } from 'prom-client';
import { GridPatrolError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

export type WriteGuardChange = { writable: false; file: string; code: string; reason: string } | { writable: true; file: string; unwritableForMs: number };

/**
 * Keeps SQLite's hands off a database whose files can no longer be written.
 *
 * Why: in WAL mode SQLite keeps its index in `<db>-shm`, a shared memory map. When that file
 * turns read-only under a running process (`chattr +i`, which also flushes and write-protects
 * its pages; an ext4 that shut itself down after I/O errors), SQLite's next store into the map
 * is a SIGBUS that kills the process, not an error it could return. So every top-level use of
 * the connection first asks the kernel whether the folder and the file can still be written
 * (access(2), a microsecond or two each) and, if not, throws GP_ERR_DATA_UNWRITABLE instead of touching it:
 * before a statement outside a transaction, before a transaction begins and again just before it
 * commits, and before close. Statements inside a transaction do not touch the map.
 *
 * What is left is the time between the last check and SQLite's store into the map: the writing
 * of a commit's WAL frames (which fails with an error, not a signal, once the WAL file itself is
 * read-only) and a few microseconds of SQLite's own work. Checkpoints, which store into the map
 * after an fsync, run in another process (checkpointer.ts) for that reason.
 */
export class WriteGuard {
  /** null for an in-memory database: nothing to guard */
  readonly shmPath: string | null;
  private readonly dirPath: string | null;
  private failing: { since: number; code: string } | undefined;

  constructor(
    dbPath: string,
    private readonly onChange: (change: WriteGuardChange) => void = () => {},
  ) {
    this.shmPath = dbPath === ':memory:' || dbPath === '' ? null : `${dbPath}-shm`;
    this.dirPath = this.shmPath === null ? null : dirname(dbPath);
  }

  /** Throws GP_ERR_DATA_UNWRITABLE while the database cannot be written. */
  check(): void {
    const problem = this.problem();
    if (problem !== null) throw new GridPatrolError('GP_ERR_DATA_UNWRITABLE', problem);
  }

  /** Checks now: null while the database can be written, otherwise why not. */
  problem(): string | null {
    if (this.shmPath === null) return null;
    try {
      // the folder first: `chattr -R +i` flags it before its files, so this sees a flip coming
      // while the map itself may still be writable for a few more system calls
      accessSync(this.dirPath!, constants.W_OK);
      accessSync(this.shmPath, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      // no index file (not in WAL mode yet): nothing is mapped, SQLite reports its own errors
      if (code !== 'ENOENT') return this.fail(code, (err as Error).message);
    }
    if (this.failing) {
      const unwritableForMs = Date.now() - this.failing.since;
      this.failing = undefined;
      this.onChange({ writable: true, file: this.shmPath, unwritableForMs });
    }
    return null;
  }

  private fail(code: string, message: string): string {
    const reason = `the data folder cannot be written (${code}); the database is paused until it can`;
    if (!this.failing) {
      this.failing = { since: Date.now(), code };
      this.onChange({ writable: false, file: this.shmPath!, code, reason: message });
    }
    return reason;
  }
}

/** Whether `err` is a WriteGuard's refusal (the data folder cannot be written), not a fault of the request. */
export function isDataUnwritable(err: unknown): boolean {
  return err instanceof GridPatrolError && err.code === 'GP_ERR_DATA_UNWRITABLE';
}

const SQLITE_DISK_CODES = /^SQLITE_(IOERR|FULL|READONLY|CANTOPEN)/;

/**
 * Whether `err` says the database's files could not be written or read (a WriteGuard's refusal,
 * or SQLite's own I/O error when a file turned read-only or the disk filled just before it wrote),
 * not that what was being written is wrong: the same work succeeds later, so keep it and retry.
 */
export function isDiskFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isDataUnwritable(err) || (typeof code === 'string' && SQLITE_DISK_CODES.test(code));
}

type Db = Database.Database;
type Statement = Database.Statement;
type Transaction = ReturnType<Db['transaction']>;
const STATEMENT_CALLS = ['run', 'get', 'all', 'iterate'] as const;
const TRANSACTION_KINDS = ['deferred', 'immediate', 'exclusive'] as const;

/** Makes every top-level use of `db` pass `guard.check()` first (see WriteGuard). Returns `db`. */
export function guardDatabase(db: Db, guard: WriteGuard): Db {
  if (guard.shmPath === null) return db;
  const check = () => {
    if (!db.inTransaction) guard.check();
  };
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => guardStatement(prepare(source), check)) as Db['prepare'];
  for (const name of ['exec', 'pragma'] as const) {
    const call = db[name].bind(db) as (...args: unknown[]) => unknown;
    (db as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      check();
      return call(...args);
    };
  }
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: (...args: unknown[]) => unknown) =>
    guardTransaction(
      transaction(function (this: unknown, ...args: unknown[]) {
        const result = fn.apply(this, args);
        // the commit follows at once; an outer transaction checks again before its own commit
        guard.check();
        return result;
      }),
      check,
    )) as Db['transaction'];
  const close = db.close.bind(db);
  db.close = () => {
    // closing checkpoints the WAL through the map: an unwritable folder keeps it open until exit
    if (guard.problem() === null) close();
    return db;
  };
  return db;
}

function guardStatement(stmt: Statement, check: () => void): Statement {
  for (const name of STATEMENT_CALLS) {
    const call = stmt[name].bind(stmt) as (...args: unknown[]) => unknown;
    (stmt as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      check();
      return call(...args);
    };
  }
  return stmt;
}

function guardTransaction(tx: Transaction, check: () => void): Transaction {
  const wrap = (run: (...args: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]) {
      check();
      return run.apply(this, args);
    };
  const guarded = wrap(tx) as unknown as Transaction;
  for (const kind of TRANSACTION_KINDS) Object.defineProperty(guarded, kind, { value: wrap(tx[kind]) });
  Object.defineProperty(guarded, 'default', { value: guarded });
  Object.defineProperty(guarded, 'database', { value: (tx as unknown as { database: Db }).database, enumerable: true });
  return guarded;
}

/** The usual onChange: an ERROR line per episode (a person must fix the folder), INFO when it ends, a gauge. */
export function reportWriteGuard(db: 'metadata' | 'telemetry', log: Logger, gauge: Gauge<'db'>): (change: WriteGuardChange) => void {
  gauge.set({ db }, 1);
  return (change) => {
    gauge.set({ db }, change.writable ? 1 : 0);
    if (change.writable) log.info({ db, file: change.file, unwritableForMs: change.unwritableForMs }, 'data folder writable again: the database is back');
    else log.error({ db, file: change.file, code: change.code, reason: change.reason }, 'data folder cannot be written: the database is paused (requests answer 503) until it can');
  };
}

/** The /readyz check of the data folder's databases: checks each now. */
export function dataFolderReadiness(guards: readonly WriteGuard[]): { ok: boolean; detail?: string } {
  const problems = guards.map((g) => g.problem()).filter((p): p is string => p !== null);
  return problems.length === 0 ? { ok: true } : { ok: false, detail: problems[0] };
}

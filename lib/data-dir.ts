import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, sep } from 'node:path';
import { isDiskFault } from '../storage/write-guard.js';
import type { Logger } from './logger.js';

/** What GridPatrol writes in the data folder that may already be there: each must stay writable. */
const WRITTEN = ['gridpatrol.db', 'telemetry.db', 'spool'].flatMap((f) => (f === 'spool' ? [f] : [f, `${f}-wal`, `${f}-shm`]));

/**
 * Creates the data folder if needed and checks, before anything opens a file in it, that it and
 * what GridPatrol keeps in it can be written. A problem is one error whose message names
 * GRIDPATROL_DATA_DIR (main prints it as one line and exits 2), instead of SQLite's "unable to
 * open database file" or a SIGBUS later.
 */
export function prepareDataDir(dir: string): void {
  const refuse = (path: string, err: unknown): never => {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const what = path === dir ? '' : ` (${path.slice(dir.length + 1)} in it)`;
    throw Object.assign(new Error(`GRIDPATROL_DATA_DIR=${dir} cannot be written${what}: ${code}; make it writable by GridPatrol's user or point GRIDPATROL_DATA_DIR elsewhere`), { dataDir: true });
  };
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    refuse(dir, err);
  }
  for (const name of WRITTEN) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.W_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') refuse(path, err);
    }
  }
}

/**
 * prepareDataDir for a GridPatrol started again after a crash: the folder may still be read-only
 * (a SIGBUS from a read-only folder is the likely crash), so instead of exiting, which would only
 * have the supervisor start it again and again, it waits for the folder, checking every
 * `intervalMs`, and says so once.
 */
export async function waitForDataDir(dir: string, log: Logger, intervalMs = 250): Promise<void> {
  let since: number | undefined;
  for (;;) {
    try {
      prepareDataDir(dir);
      if (since !== undefined) log.info({ dataDir: dir, waitedMs: Math.round(performance.now() - since) }, 'data folder writable again; starting');
      return;
    } catch (err) {
      if (since === undefined) log.error({ dataDir: dir, reason: (err as Error).message }, 'data folder cannot be written; waiting for it before starting');
      since ??= performance.now();
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

const FILE_FAULTS = new Set(['EPERM', 'EROFS', 'EACCES', 'ENOSPC', 'EIO']);

/**
 * Whether a start-up failed because the data folder could not be written at that moment: this
 * module's refusal, the databases' (storage/write-guard.ts isDiskFault), or a file in the folder
 * that could not be opened or written. A restarted GridPatrol whose start-up a folder turning
 * read-only again cut off asks its supervisor to try again soon (EXIT_RETRY) rather than wait
 * the doubling waits of a crash.
 */
export function isDataFolderFault(err: unknown, dir: string): boolean {
  const e = err as (NodeJS.ErrnoException & { dataDir?: boolean }) | null;
  if (e?.dataDir === true || isDiskFault(err)) return true;
  return typeof e?.code === 'string' && FILE_FAULTS.has(e.code) && typeof e.path === 'string' && (e.path === dir || e.path.startsWith(dir + sep));
}

import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';

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
    throw new Error(`GRIDPATROL_DATA_DIR=${dir} cannot be written${what}: ${code}; make it writable by GridPatrol's user or point GRIDPATROL_DATA_DIR elsewhere`);
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

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GridPatrolError } from './errors.js';
import { isDataFolderFault, prepareDataDir } from './data-dir.js';

describe('isDataFolderFault: a start-up cut off by the data folder, not by a mistake', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'gridpatrol-datadir-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is prepareDataDir’s refusal, the databases’ refusal or I/O error, or a file error inside the folder', () => {
    writeFileSync(join(dir, 'a-file'), '');
    const refusal = (() => {
      try {
        prepareDataDir(join(dir, 'a-file', 'data'));
      } catch (err) {
        return err;
      }
    })();
    expect((refusal as Error).message).toMatch(/^GRIDPATROL_DATA_DIR=.* cannot be written: ENOTDIR/);
    expect(isDataFolderFault(refusal, dir)).toBe(true);
    expect(isDataFolderFault(new GridPatrolError('GP_ERR_DATA_UNWRITABLE', 'paused'), dir)).toBe(true);
    expect(isDataFolderFault(Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' }), dir)).toBe(true);
    expect(isDataFolderFault(Object.assign(new Error('open'), { code: 'EPERM', path: join(dir, 'spool', 'x') }), dir)).toBe(true);
  });

  it('is not a file error elsewhere, a port taken, or any other error', () => {
    expect(isDataFolderFault(Object.assign(new Error('open'), { code: 'EPERM', path: '/etc/gridpatrol/cert.pem' }), dir)).toBe(false);
    expect(isDataFolderFault(Object.assign(new Error('listen'), { code: 'EADDRINUSE', port: 1883 }), dir)).toBe(false);
    expect(isDataFolderFault(new Error('GRIDPATROL_REDIS_URL does not answer'), dir)).toBe(false);
    expect(isDataFolderFault(undefined, dir)).toBe(false);
  });
});

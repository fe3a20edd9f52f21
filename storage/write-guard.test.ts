import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from './sqlite-file.js';
import { SwitchedGuard } from './test-kit.js';
import { dataFolderReadiness, isDataUnwritable, WriteGuard, type WriteGuardChange } from './write-guard.js';

describe('WriteGuard between SQLite and a folder that turns read-only', () => {
  let dir: string;
  let guard: SwitchedGuard;
  let db: ReturnType<typeof openSqlite>;
  const rows = () => (db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gp-guard-'));
    guard = new SwitchedGuard(join(dir, 'x.db'));
    db = openSqlite(join(dir, 'x.db'), guard);
    db.exec('CREATE TABLE t (x INTEGER)');
  });
  afterEach(() => {
    guard.unwritable = false;
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses statements, exec, pragmas and every kind of transaction with GP_ERR_DATA_UNWRITABLE (503)', () => {
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const tx = db.transaction((n: number) => insert.run(n));
    guard.unwritable = true;
    const refused = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(isDataUnwritable(err)).toBe(true);
        expect(err).toMatchObject({ status: 503, detail: expect.stringMatching(/cannot be written \(EPERM\)/) });
        return;
      }
      throw new Error('not refused');
    };
    refused(() => insert.run(1));
    refused(() => db.prepare('SELECT 1').get());
    refused(() => db.prepare('SELECT 1').all());
    refused(() => db.prepare('SELECT 1').iterate());
    refused(() => db.exec('INSERT INTO t VALUES (2)'));
    refused(() => db.pragma('user_version'));
    for (const run of [tx, tx.deferred, tx.immediate, tx.exclusive, tx.default]) refused(() => run(3));
    guard.unwritable = false;
    expect(rows()).toBe(0);
  });

  it('checks once before a transaction and once before its commit, not for each statement in it', () => {
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const many = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) insert.run(i);
    });
    guard.checks = 0;
    many.immediate(100);
    expect(guard.checks).toBe(2);
    expect(rows()).toBe(100);
  });

  it('rolls a transaction back when the folder turns read-only before its commit', () => {
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const tx = db.transaction(() => {
      insert.run(1);
      guard.unwritable = true; // as if chattr +i ran while the transaction was being built
    });
    expect(() => tx()).toThrow(/GP_ERR_DATA_UNWRITABLE/);
    guard.unwritable = false;
    expect(db.inTransaction).toBe(false);
    expect(rows()).toBe(0);
  });

  it('keeps an unwritable database open at close (closing writes the map), and closes it once writable', () => {
    guard.unwritable = true;
    db.close();
    expect(db.open).toBe(true);
    guard.unwritable = false;
  });

  // the episodes themselves (an ERROR line each, then writable again) are checked with a real
  // immutable folder in test/reliability/disk-faults.test.ts
  it('guards nothing where nothing is mapped, and /readyz names the first unwritable database', () => {
    const changes: WriteGuardChange[] = [];
    const real = new WriteGuard(join(dir, 'missing-dir', 'y.db'), (c) => changes.push(c));
    // no index file yet: nothing is mapped, nothing to guard
    expect(real.problem()).toBeNull();
    expect(new WriteGuard(':memory:').shmPath).toBeNull();
    expect(dataFolderReadiness([real])).toEqual({ ok: true });
    const failing = new SwitchedGuard(join(dir, 'z.db'));
    failing.unwritable = true;
    expect(dataFolderReadiness([real, failing])).toEqual({ ok: false, detail: expect.stringMatching(/EPERM/) });
    expect(changes).toEqual([]);
  });
});

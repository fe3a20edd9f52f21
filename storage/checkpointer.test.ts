import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../test/helpers/gridpatrol.js';
import { silentLogger } from '../lib/logger.js';
import { Checkpointer } from './checkpointer.js';
import { openSqlite } from './sqlite-file.js';
import { WriteGuard } from './write-guard.js';

describe('Checkpointer: WAL checkpoints in a child process', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  function setUp() {
    const dir = mkdtempSync(join(tmpdir(), 'gp-ckpt-'));
    const path = join(dir, 'x.db');
    const guard = new WriteGuard(path);
    const db = openSqlite(path, guard);
    db.exec('CREATE TABLE t (x TEXT)');
    const checkpointer = new Checkpointer({ files: [{ path, db, guard }], log: silentLogger(), intervalMs: 100, startAtWalBytes: 256 * 1024 });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => void db.close(), () => checkpointer.stop());
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const write = (kib: number) => db.transaction(() => {
      for (let i = 0; i < kib; i++) insert.run('x'.repeat(1000));
    })();
    return { path, db, checkpointer, write, dbBytes: () => statSync(path).size };
  }

  it("leaves this process's connection without checkpoints and starts the child only once a WAL is long", async () => {
    const { db, checkpointer, write, dbBytes } = setUp();
    checkpointer.start();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    write(100); // ~100 KiB: under the threshold
    await new Promise((r) => setTimeout(r, 300));
    expect(checkpointer.pid).toBeUndefined();
    const before = dbBytes();
    write(2000); // ~2 MiB: SQLite alone would have checkpointed in this process by now
    expect(dbBytes()).toBe(before);
    await eventually(() => checkpointer.pid !== undefined, 10_000);
    await eventually(() => dbBytes() > 1_000_000, 15_000, 100);
    expect(checkpointer.starts).toBe(1);
  });

  it('starts the child again when it dies (a SIGBUS there is not GridPatrol dying), and stops it', async () => {
    const { checkpointer, write, dbBytes } = setUp();
    checkpointer.start();
    write(600);
    await eventually(() => checkpointer.pid !== undefined, 10_000);
    const first = checkpointer.pid!;
    process.kill(first, 'SIGBUS');
    await eventually(() => checkpointer.pid !== undefined && checkpointer.pid !== first, 10_000);
    expect(checkpointer.starts).toBe(2);
    const before = dbBytes();
    write(600);
    await eventually(() => dbBytes() > before, 15_000, 100);
    const second = checkpointer.pid!;
    await checkpointer.stop();
    expect(() => process.kill(second, 0)).toThrow();
  });

  it('keeps the WAL bounded while this process writes without pause (PASSIVE alone never lets it start over)', async () => {
    const { path, checkpointer, write, dbBytes } = setUp();
    checkpointer.start();
    let walMax = 0;
    const written = { kib: 0 };
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      write(100);
      written.kib += 100;
      walMax = Math.max(walMax, statSync(`${path}-wal`).size);
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`checkpointer: ${(written.kib / 1024).toFixed(0)} MiB written in 4 s; WAL at most ${(walMax / 1048576).toFixed(1)} MiB`);
    expect(written.kib).toBeGreaterThan(8 * 1024);
    // SQLite's own threshold is 1000 pages (4 MiB); a second or so of writing may come on top
    expect(walMax).toBeLessThan(16 * 1024 * 1024);
    expect(dbBytes()).toBeGreaterThan(4 * 1024 * 1024);
  });

  it('keeps the WAL bounded under small commits back to back, as in an alert storm (each PASSIVE pass is overtaken)', async () => {
    const { path, db, checkpointer, dbBytes } = setUp();
    checkpointer.start();
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    let walMax = 0;
    let commits = 0;
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      db.transaction(() => insert.run('x'.repeat(200)))();
      commits++;
      if (commits % 20 === 0) walMax = Math.max(walMax, statSync(`${path}-wal`).size);
      await new Promise((r) => setImmediate(r));
    }
    console.log(`checkpointer: ${commits} commits in 4 s; WAL at most ${(walMax / 1048576).toFixed(1)} MiB`);
    // a commit appends at least one 4 KiB page. Without a FULL checkpoint now and then the WAL
    // never starts over and holds all of it (measured: 470 MiB of ~440); with one, it is reused
    const wentThrough = commits * 4096;
    expect(wentThrough).toBeGreaterThan(64 * 1024 * 1024);
    expect(walMax).toBeLessThan(wentThrough / 4);
    expect(dbBytes()).toBeGreaterThan((commits * 200) / 2);
  });
});

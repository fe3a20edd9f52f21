import { appendFile, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoreRecord, TelemetryRecord } from '../core/records.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { Spool, SpoolClosedError, SpoolFullError, type SpoolOptions } from './spool.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  vi.restoreAllMocks();
});

function tel(seq: number, droneId = 'drone-1'): TelemetryRecord {
  return { type: 'telemetry', droneId, gridId: 'g-1', ts: 1_700_000_000_000 + seq, seq, lat: 30.1, lon: 120.2, alt: 80, speed: 5, heading: 90, battery: 77, mode: 'patrol', rssi: -60, sats: 12 };
}
const seqs = (records: readonly StoreRecord[]): number[] => records.map((r) => (r as TelemetryRecord).seq);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gp-spool-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A spool whose logs land in `logs`; closed after the test. */
async function openSpool(dir: string, opts: Partial<SpoolOptions> = {}) {
  const logs: Array<{ level: number; msg: string }> = [];
  const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line)) });
  const metrics = createMetrics();
  const spool = await Spool.open({ dir, maxBytes: 1 << 30, fsync: false, log, metrics, checkpointIntervalMs: 0, ...opts });
  cleanup.push(() => spool.close());
  return { spool, logs, metrics };
}

async function readAll(spool: Spool, max = 1000): Promise<StoreRecord[]> {
  const out: StoreRecord[] = [];
  for (let b = await spool.read(max); b; b = await spool.read(max)) out.push(...b.records);
  return out;
}

const segmentFiles = async (dir: string) => (await readdir(dir)).filter((f) => f.startsWith('seg-')).sort();

describe('Spool', () => {
  it('reads records back in append order, also across segments and chunk edges', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { segmentBytes: 2000, readChunkBytes: 100 });
    for (let i = 0; i < 50; i++) await spool.append([tel(2 * i), tel(2 * i + 1)]);
    expect((await segmentFiles(dir)).length).toBeGreaterThan(5);
    expect(seqs(await readAll(spool, 7))).toEqual([...Array(100).keys()]);
    expect(await spool.read(10)).toBeNull();
  });

  it('writes the appends of one tick, and those arriving during a write, in one write call each', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir);
    const probe = await open(join(dir, 'probe'), 'w');
    const write = vi.spyOn(Object.getPrototypeOf(probe) as { write: () => unknown }, 'write');
    await probe.close();
    const first = Array.from({ length: 1000 }, (_, i) => spool.append([tel(i)]));
    await new Promise((r) => setImmediate(r)); // the first group's write is now in flight
    const second = Array.from({ length: 1000 }, (_, i) => spool.append([tel(1000 + i)]));
    await Promise.all([...first, ...second]);
    expect(write).toHaveBeenCalledTimes(2);
    expect(seqs(await readAll(spool))).toEqual([...Array(2000).keys()]);
  });

  it('cuts a failed partial write back so the next append is not glued to it', async () => {
    const dir = await tempDir();
    const { spool, logs } = await openSpool(dir);
    await spool.append([tel(1)]);
    const probe = await open(join(dir, 'probe'), 'w');
    type Write = (this: unknown, buf: Buffer, off: number, len: number, pos: null) => Promise<unknown>;
    const proto = Object.getPrototypeOf(probe) as { write: Write };
    await probe.close();
    const realWrite = proto.write;
    vi.spyOn(proto, 'write').mockImplementationOnce(async function (this: unknown, buf, off, len, pos) {
      await realWrite.call(this, buf, off, Math.floor(len / 2), pos);
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    });
    await expect(spool.append([tel(2), tel(3)])).rejects.toMatchObject({ code: 'ENOSPC' });
    await spool.append([tel(4)]);
    expect(seqs(await readAll(spool))).toEqual([1, 4]);
    // the failure is reported (a person must free space), and nothing was lost
    expect(logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual(['spool cannot write to disk: publishes are refused (no PUBACK) until it can']);
  });

  it('refuses appends while the disk refuses writes and the cut back, says why, and takes them again once it can', async () => {
    const dir = await tempDir();
    const { spool, logs, metrics } = await openSpool(dir);
    await spool.append([tel(1)]);
    const probe = await open(join(dir, 'probe'), 'w');
    type Write = (this: unknown, buf: Buffer, off: number, len: number, pos: null) => Promise<unknown>;
    const proto = Object.getPrototypeOf(probe) as { write: Write; truncate: (len?: number) => Promise<void> };
    await probe.close();
    const realWrite = proto.write;
    const eperm = () => Object.assign(new Error('operation not permitted'), { code: 'EPERM' });
    // the file turns read-only after part of a group reached it: neither the rest nor the cut back goes through
    vi.spyOn(proto, 'write').mockImplementationOnce(async function (this: unknown, buf, off, len, pos) {
      await realWrite.call(this, buf, off, Math.floor(len / 2), pos);
      throw eperm();
    });
    const truncate = vi.spyOn(proto, 'truncate').mockRejectedValueOnce(eperm()).mockRejectedValueOnce(eperm());
    await expect(spool.append([tel(2), tel(3)])).rejects.toMatchObject({ code: 'EPERM' });
    // still read-only: the cut is tried again first, and this append is refused too
    await expect(spool.append([tel(4)])).rejects.toMatchObject({ code: 'EPERM' });
    expect(spool.stats().writeError).toMatch(/^EPERM: operation not permitted/);
    expect((await metrics.spoolWritable.get()).values[0]?.value).toBe(0);
    expect((await metrics.spoolWriteErrors.get()).values).toEqual([expect.objectContaining({ labels: { code: 'EPERM' }, value: 2 })]);
    expect(logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual(['spool cannot write to disk: publishes are refused (no PUBACK) until it can']);

    // writable again: the half group is cut away before the next write, which goes through
    await spool.append([tel(5)]);
    expect(truncate).toHaveBeenCalledTimes(3);
    expect(spool.stats().writeError).toBeUndefined();
    expect((await metrics.spoolWritable.get()).values[0]?.value).toBe(1);
    expect(logs.at(-1)?.msg).toBe('spool writes again: publishes are acknowledged again');
    expect(seqs(await readAll(spool))).toEqual([1, 5]);
    await spool.close();
    const { spool: again } = await openSpool(dir);
    expect(seqs(await readAll(again))).toEqual([1, 5]);
  });

  it('refuses appends with SpoolFullError at the budget and takes them again once committed', async () => {
    const dir = await tempDir();
    const { spool, metrics } = await openSpool(dir, { maxBytes: 5000 });
    let accepted = 0;
    const err = await (async () => {
      for (;;) {
        await spool.append([tel(accepted)]);
        accepted++;
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolFullError);
    expect(err).toMatchObject({ code: 'GP_ERR_SPOOL_FULL', status: 503 });
    expect(spool.stats()).toMatchObject({ full: true, pendingRecords: accepted });
    expect(spool.stats().pendingBytes).toBeGreaterThanOrEqual(5000);
    expect((await metrics.spoolFull.get()).values[0]?.value).toBe(1);
    expect((await metrics.spoolRefused.get()).values[0]?.value).toBe(1);

    const batch = await spool.read(accepted);
    spool.commit(batch!.end);
    expect(spool.stats()).toMatchObject({ full: false, pendingRecords: 0, pendingBytes: 0 });
    expect((await metrics.spoolFull.get()).values[0]?.value).toBe(0);
    await expect(spool.append([tel(accepted)])).resolves.toBeUndefined();
  });

  it('replays uncommitted records after close and reopen', async () => {
    const dir = await tempDir();
    const a = await openSpool(dir, { checkpointIntervalMs: 60_000 });
    await a.spool.append(Array.from({ length: 100 }, (_, i) => tel(i)));
    const first = await a.spool.read(40);
    a.spool.commit(first!.end);
    await a.spool.read(30); // read but not committed: must come back
    await a.spool.close(); // saves the throttled checkpoint

    const b = await openSpool(dir);
    expect(b.spool.stats().pendingRecords).toBe(60);
    expect(seqs(await readAll(b.spool))).toEqual([...Array(60).keys()].map((i) => i + 40));
  });

  it('replays from the last saved checkpoint when the process dies before saving the newest', async () => {
    const dir = await tempDir();
    const a = await openSpool(dir, { checkpointIntervalMs: 60_000 });
    await a.spool.append(Array.from({ length: 10 }, (_, i) => tel(i)));
    a.spool.commit((await a.spool.read(4))!.end);
    await a.spool.flushCheckpoint();
    a.spool.commit((await a.spool.read(4))!.end); // only in memory: the "crash" comes before the save
    const b = await openSpool(dir); // a second spool over the same files, as a restarted process
    expect(seqs(await readAll(b.spool))).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('cuts a torn last line (no newline) and an unparseable last line on open', async () => {
    const dir = await tempDir();
    const a = await openSpool(dir);
    await a.spool.append([tel(1), tel(2)]);
    await a.spool.close();
    const [seg] = await segmentFiles(dir);
    const path = join(dir, seg!);
    const goodSize = (await stat(path)).size;
    await appendFile(path, '{"type":"telemetry","drone\n\0\0{"type":"tel');

    const b = await openSpool(dir);
    expect((await stat(path)).size).toBe(goodSize);
    expect(b.logs.some((l) => l.level === 40 && /cut an unfinished write/.test(l.msg))).toBe(true);
    await b.spool.append([tel(3)]);
    expect(seqs(await readAll(b.spool))).toEqual([1, 2, 3]);
    expect(b.spool.stats().pendingRecords).toBe(3);
  });

  it('deletes segments the checkpoint has passed', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { segmentBytes: 1000 });
    for (let i = 0; i < 60; i++) await spool.append([tel(i)]);
    const before = await segmentFiles(dir);
    expect(before.length).toBeGreaterThan(5);
    const half = await spool.read(30);
    spool.commit(half!.end);
    await spool.flushCheckpoint();
    const remaining = await segmentFiles(dir);
    expect(remaining.length).toBeLessThan(before.length);
    expect(remaining).toEqual(before.slice(before.length - remaining.length));
    expect(spool.stats().segments).toBe(remaining.length);
    const rest = await spool.read(1000);
    spool.commit(rest!.end);
    await spool.flushCheckpoint();
    expect(await segmentFiles(dir)).toHaveLength(1);
    expect(spool.stats()).toMatchObject({ segments: 1, pendingRecords: 0, pendingBytes: 0 });
    expect(JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8'))).toMatchObject({ segment: Number(remaining.at(-1)!.slice(4, 16)) });
  });

  it('replays everything when the checkpoint is unreadable', async () => {
    const dir = await tempDir();
    const a = await openSpool(dir);
    await a.spool.append([tel(1), tel(2)]);
    a.spool.commit((await a.spool.read(1))!.end);
    await a.spool.close();
    await writeFile(join(dir, 'checkpoint.json'), '{"segm');
    const b = await openSpool(dir);
    expect(seqs(await readAll(b.spool))).toEqual([1, 2]);
  });

  it('wakes a waiting reader on append and refuses appends after close', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir);
    const waited = spool.waitForAppend();
    void spool.append([tel(1)]);
    await waited;
    expect(spool.backlog().records).toBe(1);
    await spool.close();
    await expect(spool.append([tel(2)])).rejects.toBeInstanceOf(SpoolClosedError);
  });
});

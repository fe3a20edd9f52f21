import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordDeviceId, type StoreRecord, type TelemetryRecord } from '../core/records.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { DeadLetters } from '../storage/dead-letters.js';
import { openMetadataDb } from '../storage/metadata-db.js';
import type { TelemetryStore, WriteResult } from '../storage/telemetry-store.js';
import { Spool, SpoolFullError } from './spool.js';
import { SpoolWriter, type SpoolWriterOptions } from './writer.js';

type Script = (batch: readonly StoreRecord[]) => WriteResult | Promise<WriteResult>;

/** Keeps what it accepts by key, as the real adapters do, and answers what the test scripts. */
class FakeStore implements TelemetryStore {
  readonly kind = 'sqlite' as const;
  readonly rows = new Map<string, StoreRecord>();
  /** every record of every accepted write, in write order */
  readonly accepted: StoreRecord[] = [];
  /** answered writes (a write that threw is not here) */
  readonly calls: Array<{ size: number; at: number; status: WriteResult['status'] }> = [];
  script: Script = () => ({ status: 'accepted' });

  async write(batch: readonly StoreRecord[]): Promise<WriteResult> {
    const res = await this.script(batch);
    this.calls.push({ size: batch.length, at: performance.now(), status: res.status });
    if (res.status === 'accepted') {
      for (const r of batch) this.rows.set(`${r.type}|${recordDeviceId(r)}|${r.ts}`, r);
      this.accepted.push(...batch);
    }
    return res;
  }
  async init() {}
  async latestTelemetry() { return []; }
  async latestReadings() { return []; }
  async track() { return []; }
  async readings() { return []; }
  async events() { return []; }
  async ping() { return true; }
  async close() {}
}

function tel(seq: number, droneId = 'drone-1'): TelemetryRecord {
  return { type: 'telemetry', droneId, gridId: 'g-1', ts: 1_700_000_000_000 + seq, seq, lat: 30.1, lon: 120.2, alt: 80, speed: 5, heading: 90, battery: 77, mode: 'patrol', rssi: -60, sats: 12 };
}
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => tel(from + i));
const seqs = (records: readonly StoreRecord[]) => records.map((r) => (r as TelemetryRecord).seq);

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(opts: Partial<SpoolWriterOptions> & { maxBytes?: number; dir?: string } = {}) {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'gp-writer-')));
  if (!opts.dir) cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const logs: Array<Record<string, unknown> & { level: number; msg: string }> = [];
  const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line)) });
  const metrics = createMetrics();
  const spool = await Spool.open({ dir, maxBytes: opts.maxBytes ?? 1 << 30, fsync: false, log, metrics, checkpointIntervalMs: 0 });
  const store = new FakeStore();
  const db = openMetadataDb(':memory:');
  const deadLetters = new DeadLetters(db);
  const writer = new SpoolWriter({ spool, store, deadLetters, batchSize: 100, flushIntervalMs: 5, log, metrics, backoff: { minMs: 2, maxMs: 20 }, ...opts });
  cleanup.push(async () => {
    await writer.stop();
    await spool.close();
    db.close();
  });
  return { dir, spool, store, deadLetters, writer, logs, metrics };
}

describe('SpoolWriter', () => {
  it('writes everything once, in order, in batches of at most batchSize', async () => {
    const { spool, store, writer } = await setup();
    writer.start();
    for (let i = 0; i < 1234; i += 17) await spool.append(range(i, Math.min(17, 1234 - i)));
    await writer.whenDrained();
    expect(seqs(store.accepted)).toEqual(seqs(range(0, 1234)));
    expect(Math.max(...store.calls.map((c) => c.size))).toBeLessThanOrEqual(100);
    expect(spool.stats()).toMatchObject({ pendingRecords: 0, pendingBytes: 0 });
  });

  it('writes a full batch at once and holds a partial one until the flush interval', async () => {
    const { spool, store, writer } = await setup({ batchSize: 50, flushIntervalMs: 60_000 });
    writer.start();
    await spool.append(range(0, 120));
    await vi.waitFor(() => expect(store.calls.map((c) => c.size)).toEqual([50, 50]), { timeout: 2000, interval: 5 });
    await new Promise((r) => setTimeout(r, 100));
    expect(store.calls).toHaveLength(2);
    expect(spool.backlog().records).toBe(20);
  });

  it('writes a partial batch once its oldest record is flushIntervalMs old', async () => {
    const { spool, store, writer } = await setup({ batchSize: 1000, flushIntervalMs: 60 });
    writer.start();
    const t0 = performance.now();
    await spool.append(range(0, 3));
    await new Promise((r) => setTimeout(r, 20));
    await spool.append(range(3, 2)); // younger records do not push the deadline out
    await writer.whenDrained();
    expect(store.calls.map((c) => c.size)).toEqual([5]);
    expect(store.calls[0]!.at - t0).toBeGreaterThanOrEqual(55);
    expect(store.calls[0]!.at - t0).toBeLessThan(1000);
  });

  it('retries with growing delays through an outage, warns once, and then lands everything once', async () => {
    const { spool, store, writer, logs } = await setup({ backoff: { minMs: 2, maxMs: 40 }, random: () => 0.5 });
    let up = false;
    store.script = () => (up ? { status: 'accepted' } : { status: 'retry', reason: 'HTTP 503' });
    writer.start();
    expect(writer.storeFailure).toBeUndefined();
    for (let i = 0; i < 500; i += 50) await spool.append(range(i, 50));
    await new Promise((r) => setTimeout(r, 300));
    // what readiness reports while the store answers but fails every write
    expect(writer.storeFailure).toEqual({ since: expect.any(Number), reason: 'HTTP 503' });
    up = true;
    await writer.whenDrained();
    expect(writer.storeFailure).toBeUndefined();

    expect(seqs(store.accepted)).toEqual(seqs(range(0, 500)));
    const failed = store.calls.filter((c) => c.status === 'retry');
    expect(failed.length).toBeGreaterThan(4);
    expect(failed.length).toBeLessThan(30); // a 300 ms outage at 2…40 ms: backed off, not hammered
    const gaps = failed.slice(1).map((c, i) => c.at - failed[i]!.at);
    expect(gaps[3]!).toBeGreaterThan(gaps[0]!);
    expect(Math.max(...gaps)).toBeLessThan(40 + 30);
    expect(logs.filter((l) => l.level === 40 && /store unavailable/.test(l.msg))).toHaveLength(1);
    const recovered = logs.filter((l) => l.level === 30 && /available again/.test(l.msg));
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ waitingRecords: 500 });
    expect(recovered[0]!.outageMs).toBeGreaterThanOrEqual(250);
  });

  it('retries as soon as a store that did not answer answers its ping again, not after the grown backoff', async () => {
    const { spool, store, writer, logs } = await setup({ backoff: { minMs: 200_000, maxMs: 200_000 }, probeIntervalMs: 10 });
    let up = false;
    store.ping = async () => up;
    store.script = () => (up ? { status: 'accepted' } : { status: 'retry', reason: 'connect ECONNREFUSED' });
    writer.start();
    await spool.append(range(0, 10));
    await vi.waitFor(() => expect(store.calls).toHaveLength(1));
    up = true;
    // without the probe the writer would sleep at least 100 s (half the backoff): past the test's timeout
    await writer.whenDrained();
    expect(store.calls.map((c) => c.status)).toEqual(['retry', 'accepted']);
    expect(logs.some((l) => /available again/.test(l.msg))).toBe(true);
  });

  it('waits out the backoff in full when the store answers pings but fails writes', async () => {
    const { spool, store, writer } = await setup({ backoff: { minMs: 300, maxMs: 300 }, probeIntervalMs: 10, random: () => 0 });
    let calls = 0;
    store.script = () => (++calls === 1 ? { status: 'retry', reason: 'HTTP 500' } : { status: 'accepted' });
    writer.start();
    await spool.append(range(0, 10));
    await writer.whenDrained();
    const [failed, accepted] = store.calls;
    expect(accepted!.at - failed!.at).toBeGreaterThanOrEqual(140); // half the step at the lowest jitter
  });

  it('honours retryAfterMs and retries a store that throws', async () => {
    const { spool, store, writer } = await setup({ backoff: { minMs: 1, maxMs: 5 } });
    let call = 0;
    store.script = () => {
      call++;
      if (call === 1) return { status: 'retry', reason: '429', retryAfterMs: 80 };
      if (call === 2) throw new Error('socket hang up');
      return { status: 'accepted' };
    };
    writer.start();
    await spool.append(range(0, 10));
    await writer.whenDrained();
    expect(store.calls).toHaveLength(2); // the throw never reached `calls`
    expect(store.calls[1]!.at - store.calls[0]!.at).toBeGreaterThanOrEqual(75);
    expect(store.rows.size).toBe(10);
  });

  it('bisects a rejected batch: 999 of 1000 written, the poison record a dead letter', async () => {
    const { spool, store, writer, deadLetters, metrics } = await setup({ batchSize: 1000, flushIntervalMs: 10 });
    const batch = range(0, 1000);
    batch[537] = { ...tel(537), droneId: 'poison-1' };
    store.script = (b) => (b.some((r) => recordDeviceId(r) === 'poison-1') ? { status: 'rejected', reason: 'field type conflict: battery' } : { status: 'accepted' });
    writer.start();
    await spool.append(batch);
    await writer.whenDrained();

    expect(store.rows.size).toBe(999);
    expect(store.calls.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(1000)) + 1);
    const letters = deadLetters.list({ limit: 10 });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      deviceId: 'poison-1',
      topic: 'gridpatrol/v1/drones/poison-1/telemetry',
      stage: 'store',
      code: 'store_rejected',
      reason: 'field type conflict: battery',
      truncated: false,
    });
    expect(JSON.parse(letters[0]!.payload)).toEqual(batch[537]);
    expect((await metrics.deadLetters.get()).values[0]).toMatchObject({ value: 1, labels: { stage: 'store' } });
    expect(spool.stats().pendingRecords).toBe(0);
  });

  it('stop lets the write in flight finish and commits it', async () => {
    const { spool, store, writer } = await setup();
    let release!: () => void;
    store.script = () => new Promise((r) => (release = () => r({ status: 'accepted' })));
    writer.start();
    await spool.append(range(0, 10));
    await vi.waitFor(() => expect(release).toBeTypeOf('function'), { interval: 2 });
    let stopped = false;
    const stopping = writer.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(store.rows.size).toBe(10);
    expect(spool.stats().pendingRecords).toBe(0);
  });

  it('stops promptly during an outage, and a restart writes what waited', async () => {
    const first = await setup({ backoff: { minMs: 10_000, maxMs: 10_000 } });
    first.store.script = () => ({ status: 'retry', reason: 'ECONNREFUSED' });
    first.writer.start();
    await first.spool.append(range(0, 30));
    await vi.waitFor(() => expect(first.store.calls.length).toBe(1), { interval: 2 });
    const t0 = performance.now();
    await first.writer.stop();
    expect(performance.now() - t0).toBeLessThan(500);
    await first.spool.close();

    const second = await setup({ dir: first.dir, flushIntervalMs: 60_000 });
    second.writer.start();
    await second.writer.whenDrained(); // replayed records are old: no waiting for the interval
    expect(seqs(second.store.accepted)).toEqual(seqs(range(0, 30)));
  });

  it('drains a backlog in full batches back to back, faster than the flush interval', async () => {
    const { spool, store, writer } = await setup({ flushIntervalMs: 300, backoff: { minMs: 1, maxMs: 5 } });
    let up = false;
    store.script = () => (up ? { status: 'accepted' } : { status: 'retry', reason: 'timeout' });
    writer.start();
    for (let i = 0; i < 1000; i += 100) await spool.append(range(i, 100));
    up = true;
    const t0 = performance.now();
    await writer.whenDrained();
    expect(performance.now() - t0).toBeLessThan(300);
    expect(store.calls.filter((c) => c.status === 'accepted').map((c) => c.size)).toEqual(Array(10).fill(100));
  });

  it('refuses appends while the store is down past the budget, and takes them again once drained', async () => {
    const { spool, store, writer, metrics } = await setup({ maxBytes: 20_000, backoff: { minMs: 1, maxMs: 5 } });
    let up = false;
    store.script = () => (up ? { status: 'accepted' } : { status: 'retry', reason: 'HTTP 500' });
    writer.start();
    let n = 0;
    const err = await (async () => {
      for (;; n += 10) await spool.append(range(n, 10));
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolFullError);
    up = true;
    await writer.whenDrained();
    expect(store.rows.size).toBe(n);
    expect(spool.stats().full).toBe(false);
    expect((await metrics.spoolFull.get()).values[0]?.value).toBe(0);
    await spool.append(range(n, 10));
    await writer.whenDrained();
    expect(store.rows.size).toBe(n + 10);
  });
});

import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import type { StoreRecord, TelemetryRecord } from '../core/records.js';
import { Spool } from '../ingest/spool.js';
import { SpoolWriter } from '../ingest/writer.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { DeadLetters } from '../storage/dead-letters.js';
import { openMetadataDb } from '../storage/metadata-db.js';
import type { TelemetryStore } from '../storage/telemetry-store.js';

/**
 * The spool's promise under kill -9: a real child process (test/fixtures/spool-appender.ts)
 * appends from 16 concurrent clients while its writer drains the spool into a file "store";
 * it prints each seq once its append resolved. We SIGKILL it at a random moment, several
 * rounds over the same folder, so each round starts by recovering what the last one left.
 *
 * Asserted at the end, after reopening the spool in this process:
 * - every acknowledged seq is in the store file or still in the spool (nothing acknowledged is lost);
 * - the spool holds each seq at most once, in append order per device, with no corrupt line;
 * - after draining the rest, the store's keys (seq) are exactly the acknowledged seqs plus some
 *   appended but unacknowledged ones (killed mid-write: allowed, MQTT would redeliver them), and
 *   nothing outside the seqs the child issued. The store file may hold a key twice (written,
 *   killed before the checkpoint, replayed): the real stores keep one row per key.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixture = join(root, 'test/fixtures/spool-appender.ts');
const ROUNDS = 6;
const ROUND_BASE = 1_000_000_000;

let work = '';
afterAll(() => rm(work, { recursive: true, force: true }));

interface Round {
  acked: number[];
  stderr: string;
  killedAfterMs: number;
}

function runAndKill(spoolDir: string, storeFile: string, round: number): Promise<Round> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, spoolDir, storeFile, String(round * ROUND_BASE)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  let killedAfterMs = 0;
  // a fixture that never gets going must not outlive the test
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (killedAfterMs === 0 && out.startsWith('ready\n') && out.length > 2000) {
      killedAfterMs = 1 + Math.floor(Math.random() * 400);
      setTimeout(() => child.kill('SIGKILL'), killedAfterMs);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(watchdog);
      if (signal !== 'SIGKILL') return reject(new Error(`fixture exited by itself (${signal}): ${stderr}`));
      // a line cut by the kill is not an acknowledgement we saw
      const lines = out.split('\n').slice(1, -1);
      resolve({ acked: lines.map(Number), stderr, killedAfterMs });
    });
  });
}

const seqOf = (r: StoreRecord) => (r as TelemetryRecord).seq;

async function storeSeqs(storeFile: string): Promise<number[]> {
  const text = await readFile(storeFile, 'utf8').catch(() => '');
  // a write the kill cut short was never accepted, so its records are still in the spool
  return text.split('\n').flatMap((line) => {
    try {
      return [seqOf(JSON.parse(line) as StoreRecord)];
    } catch {
      return [];
    }
  });
}

function fileStore(path: string): TelemetryStore {
  const none = async () => [];
  return {
    kind: 'sqlite',
    init: async () => {},
    write: async (batch) => {
      await appendFile(path, batch.map((r) => JSON.stringify(r) + '\n').join(''));
      return { status: 'accepted' };
    },
    latestTelemetry: none, latestReadings: none, track: none, readings: none, events: none,
    ping: async () => true,
    close: async () => {},
  };
}

it('keeps every acknowledged record through repeated kill -9', async () => {
  work = await mkdtemp(join(tmpdir(), 'gp-spool-kill-'));
  const spoolDir = join(work, 'spool');
  const storeFile = join(work, 'store.ndjson');
  const acked = new Set<number>();
  let tornTails = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const r = await runAndKill(spoolDir, storeFile, round);
    expect(r.acked.length).toBeGreaterThan(0);
    for (const s of r.acked) acked.add(s);
    tornTails += (r.stderr.match(/cut an unfinished write/g) ?? []).length;
    console.log(`round ${round}: killed ${r.killedAfterMs} ms in, ${r.acked.length} acknowledged`);
  }

  const logs: Array<{ level: number; msg: string }> = [];
  const log = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line)) });
  const metrics = createMetrics();
  const spool = await Spool.open({ dir: spoolDir, maxBytes: 1 << 30, fsync: false, log, metrics });
  tornTails += logs.filter((l) => /cut an unfinished write/.test(l.msg)).length;

  const spooled: StoreRecord[] = [];
  for (let b = await spool.read(10_000); b; b = await spool.read(10_000)) spooled.push(...b.records);
  const spooledSeqs = spooled.map(seqOf);
  expect(new Set(spooledSeqs).size).toBe(spooledSeqs.length); // the spool itself never holds a record twice
  expect(logs.filter((l) => l.level >= 50)).toEqual([]);
  const lastByDevice = new Map<string, number>();
  for (const r of spooled as TelemetryRecord[]) {
    expect(r.seq).toBeGreaterThan(lastByDevice.get(r.droneId) ?? -1);
    lastByDevice.set(r.droneId, r.seq);
  }
  const stored = new Set(await storeSeqs(storeFile));
  const inSpool = new Set(spooledSeqs);
  const lost = [...acked].filter((s) => !stored.has(s) && !inSpool.has(s));
  expect(lost).toEqual([]);

  // fresh reader: the records read above are not committed, the writer starts from the checkpoint
  await spool.close();
  const again = await Spool.open({ dir: spoolDir, maxBytes: 1 << 30, fsync: false, log, metrics });
  const db = openMetadataDb(':memory:');
  const writer = new SpoolWriter({ spool: again, store: fileStore(storeFile), deadLetters: new DeadLetters(db), batchSize: 5000, flushIntervalMs: 1, log, metrics });
  writer.start();
  await writer.whenDrained();
  await writer.stop();
  await again.close();
  db.close();

  const all = await storeSeqs(storeFile);
  const keys = new Set(all);
  expect([...acked].filter((s) => !keys.has(s))).toEqual([]);
  const maxAcked = new Map<number, number>();
  for (const s of acked) maxAcked.set(Math.floor(s / ROUND_BASE), Math.max(maxAcked.get(Math.floor(s / ROUND_BASE)) ?? 0, s));
  // unacknowledged extras are the few appends in flight at each kill: at most 16 clients × 5 records
  const extras = [...keys].filter((s) => !acked.has(s));
  expect(extras.every((s) => s <= (maxAcked.get(Math.floor(s / ROUND_BASE)) ?? -1) + 16 * 5 * 4)).toBe(true);
  console.log(`${acked.size} acknowledged, ${keys.size} keys stored, ${all.length - keys.size} store writes repeated by replay, ${extras.length} unacknowledged extras, ${tornTails} torn tails cut`);
}, 120_000);

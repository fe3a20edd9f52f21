import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DroneMode } from '../../core/telemetry.js';
import { topics, type DeviceChannel } from '../../core/topics.js';
import { loadGrids } from '../../lib/grids.js';
import { silentLogger } from '../../lib/logger.js';
import { createMetrics } from '../../lib/metrics.js';
import { DeadLetters } from '../../storage/dead-letters.js';
import { LiveState } from '../../storage/live-state.js';
import { openMetadataDb } from '../../storage/metadata-db.js';
import { buildIngest } from '../pipeline.js';
import { decode, MAX_DEPTH } from './decode.js';
import { Dedup, SEQ_WINDOW } from './dedup.js';
import { cellOfEvent, cellOfPosition, cellOfSensor } from './enrich.js';
import { normalizeTime } from './normalize.js';
import { isRefusal, type Envelope, type Refusal } from './types.js';
import { validate } from './validate.js';

/**
 * Property tests of every ingest stage and of the runner: whatever arrives, nothing throws out
 * of a stage, and every refusal carries its stage, a fixed code and a reason a person can read.
 */
const NOW = Date.parse('2026-11-28T12:00:00Z');
const LIMITS = { maxFutureMs: 24 * 3600_000, maxAgeMs: 7 * 24 * 3600_000 };
const CHANNELS: DeviceChannel[] = ['telemetry', 'events', 'readings', 'status', 'commands'];

function expectGoodRefusal(r: Refusal, stage: Refusal['stage']): void {
  expect(r.stage).toBe(stage);
  expect(r.code).toMatch(/^[a-z][a-z_]*$/);
  expect(r.reason.trim().length).toBeGreaterThan(5);
}

const env = (payload: Buffer, channel: DeviceChannel = 'telemetry', deviceId = 'd1'): Envelope => ({
  deviceId, kind: channel === 'readings' ? 'sensor' : 'drone', channel, topic: topics.device(channel === 'readings' ? 'sensor' : 'drone', deviceId, channel), payload, receivedAt: NOW,
});

const telemetryish = fc.record(
  {
    ts: fc.oneof(fc.integer({ min: NOW - 10 * 86_400_000, max: NOW + 2 * 86_400_000 }), fc.string(), fc.constant(NOW - 1000)),
    seq: fc.oneof(fc.nat(5000), fc.integer(), fc.double()),
    lat: fc.double(), lon: fc.double(), alt: fc.double(), speed: fc.double(), heading: fc.double(), battery: fc.double(),
    mode: fc.oneof(fc.constantFrom(...DroneMode.options), fc.string()), rssi: fc.double(), sats: fc.integer(),
    droneId: fc.constantFrom('d1', 'd2', 'a"b'), metric: fc.string(), value: fc.double(), kind: fc.string(), confidence: fc.double(), state: fc.constantFrom('online', 'offline', 'x'),
  },
  { requiredKeys: [] },
);
const deep = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);
// bytes of every shape: random, JSON text, contract-like objects and batches, nesting bombs
const payloads = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.json({ maxDepth: 5 }).map((s) => Buffer.from(s)),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)),
  telemetryish.map((t) => Buffer.from(JSON.stringify(t))),
  fc.array(telemetryish, { maxLength: 5 }).map((a) => Buffer.from(JSON.stringify(a))),
  fc.integer({ min: 1, max: 20_000 }).map((n) => Buffer.from(deep(n, '[', ']'))),
  fc.integer({ min: 1, max: 20_000 }).map((n) => Buffer.from(`{"ts":${NOW},"state":"online","x":${deep(n, '{"a":', '}')}}`)),
  fc.integer({ min: 1, max: 5_000 }).map((n) => Buffer.from(`[{"ts":${NOW},"lat":${deep(n, '[', ']')}}]`)),
);

describe('decode (property)', () => {
  it('never throws; yields a non-empty list of items or a decode refusal with a reason', () => {
    fc.assert(
      fc.property(payloads, (p) => {
        const r = decode(env(p), 65536);
        if (isRefusal(r)) expectGoodRefusal(r, 'decode');
        else expect(r.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses anything nested deeper than MAX_DEPTH before JSON.stringify could overflow the stack later', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_DEPTH + 1, max: 30_000 }), (n) => {
        const r = decode(env(Buffer.from(deep(n, '[', ']'))), 1 << 20);
        expect(isRefusal(r) && r.code).toBe('too_deep');
      }),
      { numRuns: 50 },
    );
    // brackets inside strings are text, not nesting
    expect(isRefusal(decode(env(Buffer.from(JSON.stringify({ s: '['.repeat(500) }))), 65536))).toBe(false);
  });
});

describe('validate (property)', () => {
  it('never throws for any JSON value on any channel; a refusal names the stage and why', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), telemetryish, fc.anything()), fc.constantFrom(...CHANNELS), fc.constantFrom('d1', 's1'), (item, channel, id) => {
        const r = validate(item, channel, id);
        if (isRefusal(r)) expectGoodRefusal(r, 'validate');
        else expect(r.channel).toBe(channel);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('normalizeTime (property)', () => {
  it('never throws; accepts exactly the times within the limits and returns them unchanged in ms', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 2 * NOW }), fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'not a time' : d.toISOString()))), (ts) => {
        const r = normalizeTime(ts, NOW, LIMITS);
        const ms = typeof ts === 'number' ? ts : Date.parse(ts);
        const plausible = Number.isFinite(ms) && ms <= NOW + LIMITS.maxFutureMs && ms >= NOW - LIMITS.maxAgeMs;
        if (isRefusal(r)) {
          expectGoodRefusal(r, 'normalize');
          expect(plausible).toBe(false);
        } else expect([plausible, r]).toEqual([true, ms]);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('Dedup (property, against a reference model)', () => {
  // the documented behaviour, written plainly: a window of SEQ_WINDOW numbers below the highest seen
  class Model {
    max = -1;
    seen = new Set<number>();
    check(seq: number) {
      if (seq > this.max) {
        const gaps = this.max < 0 ? 0 : seq - this.max - 1;
        this.max = seq;
        for (const s of this.seen) if (s <= seq - SEQ_WINDOW) this.seen.delete(s);
        this.seen.add(seq);
        return { verdict: 'new', gaps };
      }
      if (seq <= this.max - SEQ_WINDOW) {
        this.max = seq;
        this.seen = new Set([seq]);
        return { verdict: 'new', gaps: 0 };
      }
      if (this.seen.has(seq)) return { verdict: 'duplicate', gaps: 0 };
      this.seen.add(seq);
      return { verdict: 'new', gaps: 0 };
    }
  }

  it('agrees with the model on any sequence: repeats, late, out of order, restarts, huge jumps', () => {
    const seqs = fc.array(fc.oneof(fc.nat(3 * SEQ_WINDOW), fc.nat(50), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), { maxLength: 300 });
    fc.assert(
      fc.property(seqs, (list) => {
        const d = new Dedup();
        const m = new Model();
        for (const s of list) expect(d.check('x', s)).toEqual(m.check(s));
      }),
      { numRuns: 500 },
    );
  });
});

describe('enrich (property)', () => {
  const grids = loadGrids();
  it('names a cell or `none` for any position and any device', () => {
    const deps = { grids, sensorCell: (id: string) => (id === 's1' ? 'LY-B2' : undefined), droneCell: () => undefined };
    fc.assert(
      fc.property(fc.double({ min: -90, max: 90, noNaN: true }), fc.double({ min: -180, max: 180, noNaN: true }), fc.string(), (lat, lon, id) => {
        for (const cell of [cellOfPosition(deps, lat, lon), cellOfEvent(deps, id, lat, lon), cellOfEvent(deps, id), cellOfSensor(deps, id)]) expect(cell).toMatch(/^(none|[A-Za-z0-9-]+)$/);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the runner (property): every item is stored, refused with a reason, or a counted duplicate', () => {
  it('never rejects while the spool takes records, and accounts for every item', async () => {
    const deadLetters = new DeadLetters(openMetadataDb(':memory:'), 1_000_000);
    const metrics = createMetrics();
    const appended: unknown[] = [];
    const ingest = buildIngest({
      config: { limits: { maxPayloadBytes: 65536, maxPacketBytes: 1 << 20, maxMessagesPerSec: 100, maxConnections: 10 }, time: LIMITS },
      grids: loadGrids(), sensorCell: () => undefined,
      sink: { append: async (r) => void appended.push(...r) },
      deadLetters, live: new LiveState(), metrics, log: silentLogger(), now: () => NOW,
    });
    await fc.assert(
      fc.asyncProperty(payloads, fc.constantFrom<DeviceChannel>('telemetry', 'events', 'readings', 'status'), async (p, channel) => {
        const total = async (c: typeof metrics.duplicates | typeof metrics.deadLetters) => (await c.get()).values.reduce((n, v) => n + v.value, 0);
        const before = { stored: appended.length, letters: await total(metrics.deadLetters), dups: await total(metrics.duplicates) };
        await ingest.accept(env(p, channel));
        const added = deadLetters.list({ limit: (await total(metrics.deadLetters)) - before.letters });
        for (const l of added) {
          expectGoodRefusal({ refused: true, stage: l.stage, code: l.code, reason: l.reason }, l.stage);
          expect(['decode', 'validate', 'normalize']).toContain(l.stage);
          expect(l).toMatchObject({ deviceId: 'd1', receivedAt: NOW });
        }
        const dups = (await total(metrics.duplicates)) - before.dups;
        const stored = appended.length - before.stored;
        const decoded = decode(env(p, channel), 65536);
        const items = isRefusal(decoded) ? 1 : decoded.length;
        // a status item is neither stored nor a letter: it sets online/offline
        const statuses = isRefusal(decoded) || channel !== 'status' ? 0 : decoded.filter((i) => !isRefusal(validate(i, 'status', 'd1'))).length;
        expect(stored + added.length + dups + statuses).toBe(items);
      }),
      { numRuns: 1500 },
    );
  });
});

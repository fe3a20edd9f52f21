import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertTransitionRecord, DetectionRecord, ReadingRecord, TelemetryRecord } from '../core/records.js';
import type { TelemetryStore } from './telemetry-store.js';

export interface StoreUnderTest {
  store: TelemetryStore;
  cleanup: () => Promise<void>;
  /**
   * Every row of a measurement as a user reads it (SQL, InfluxQL `SELECT *`): columns by their
   * CONTRACT names, `time` in epoch ms, oldest first. For what the port does not read back.
   */
  measurement: (name: string) => Promise<Array<Record<string, unknown>>>;
}

const T0 = Date.UTC(2026, 5, 1, 8, 0, 0); // epoch ms, a round minute
const MINUTE = 60_000;

/** Device ids that must neither break nor inject a query (quotes, spaces, backslashes). */
const NASTY_DRONE = `dr'o "ne\\x 1`;
const NASTY_SENSOR = `se'n"sor \\ 7' OR sensor_id =~ /.*/ --`;

function telemetry(droneId: string, ts: number, extra: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return {
    type: 'telemetry', droneId, gridId: 'g-101', ts, seq: ts - T0, lat: 33.8123, lon: 113.9541, alt: 118.5,
    speed: 8.2, heading: 270, battery: 76, mode: 'patrol', rssi: -67, sats: 14, ...extra,
  };
}

function reading(sensorId: string, ts: number, value: number, extra: Partial<ReadingRecord> = {}): ReadingRecord {
  return { type: 'reading', sensorId, gridId: 'g-7', ts, metric: 'water_level', value, ...extra };
}

function event(droneId: string, ts: number, extra: Partial<DetectionRecord> = {}): DetectionRecord {
  return { type: 'event', droneId, gridId: 'g-101', ts, kind: 'smoke', confidence: 0.91, ...extra };
}

function transition(ts: number, extra: Partial<AlertTransitionRecord> = {}): AlertTransitionRecord {
  return {
    type: 'alert_transition', gridId: 'g-7', severity: 'critical', rule: 'water-high', ts,
    alertId: 'al_01', entityId: 's1', state: 'open', actor: 'system', ...extra,
  };
}

/** An alert_transition row as CONTRACT.md names its columns; an absent note reads as null. */
function contractColumns(row: Record<string, unknown>) {
  const { time, grid_id, severity, rule, alert_id, entity_id, state, actor, note } = row;
  return { time, grid_id, severity, rule, alert_id, entity_id, state, actor, note: note ?? null };
}

/**
 * The promises every TelemetryStore keeps, run unchanged against each adapter.
 * `makeStore` returns a store that is not yet initialised and holds no data.
 */
export function describeTelemetryStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`TelemetryStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: TelemetryStore;

    beforeEach(async () => {
      sut = await makeStore();
      store = sut.store;
      await store.init();
    });

    afterEach(async () => {
      await store.close();
      await sut.cleanup();
    });

    async function write(...records: Parameters<TelemetryStore['write']>[0][]): Promise<void> {
      for (const batch of records) expect(await store.write(batch)).toEqual({ status: 'accepted' });
    }

    it('answers ping once initialised', async () => {
      expect(await store.ping()).toBe(true);
    });

    it('returns empty results from an empty store', async () => {
      const range = { from: T0, to: T0 + MINUTE };
      expect(await store.latestTelemetry()).toEqual([]);
      expect(await store.latestReadings()).toEqual([]);
      expect(await store.track('d1', { ...range, limit: 100 })).toEqual([]);
      expect(await store.readings('s1', { ...range, everyMs: MINUTE })).toEqual([]);
      expect(await store.events('d1', { ...range, limit: 10 })).toEqual([]);
      expect(await store.write([])).toEqual({ status: 'accepted' });
    });

    it('reads back telemetry with every field, and without the optional ones', async () => {
      const full = telemetry('d1', T0, { vs: -1.5, voltage: 22.4, patrolId: 'p-"9"\\a', mode: 'rth', gridId: 'none' });
      const bare = telemetry('d2', T0 + 1);
      await write([full, bare]);
      const latest = await store.latestTelemetry();
      expect(sortBy(latest, (r) => r.droneId)).toEqual([full, bare]);
      const d2 = latest.find((r) => r.droneId === 'd2');
      expect(Object.keys(d2 ?? {})).not.toContain('vs');
      expect(Object.keys(d2 ?? {})).not.toContain('patrolId');
    });

    it('reads back events with every field, newest first, at most limit', async () => {
      const full = event('d1', T0, { kind: 'fire', lat: 33.1, lon: 113.2, imageUrl: 'https://x.test/a.jpg?q="1"' });
      const bare = event('d1', T0 + 1000);
      const other = event('d2', T0 + 500);
      await write([full, bare, other]);
      const range = { from: T0, to: T0 + MINUTE };
      expect(await store.events('d1', { ...range, limit: 10 })).toEqual([bare, full]);
      expect(await store.events('d1', { ...range, limit: 1 })).toEqual([bare]);
      expect(await store.events('d1', { from: T0 + 1, to: T0 + MINUTE, limit: 10 })).toEqual([bare]);
      const [newest] = await store.events('d1', { ...range, limit: 1 });
      expect(Object.keys(newest ?? {})).not.toContain('imageUrl');
    });

    it('reads back readings with every field, and without the optional ones', async () => {
      const full = reading('s1', T0, 1.82, { seq: 7, unit: 'm' });
      const bare = reading('s1', T0, 21.5, { metric: 'temperature' });
      await write([full, bare]);
      expect(sortBy(await store.latestReadings(), (r) => r.metric)).toEqual([bare, full]);
    });

    it('keeps one point when the same record is written twice', async () => {
      const t = telemetry('d1', T0);
      const r = reading('s1', T0, 3, { seq: 1 });
      const e = event('d1', T0);
      await write([t, r, e, t], [t, r, e]);
      expect(await store.track('d1', { from: T0 - 1, to: T0 + 1, limit: 10 })).toHaveLength(1);
      expect(await store.readings('s1', { from: T0, to: T0, everyMs: MINUTE })).toEqual([
        { ts: T0, metric: 'water_level', mean: 3, min: 3, max: 3, count: 1 },
      ]);
      expect(await store.events('d1', { from: T0, to: T0, limit: 10 })).toHaveLength(1);
    });

    it('overwrites a point with the same key by the later write', async () => {
      await write([reading('s1', T0, 1)], [reading('s1', T0, 2)]);
      expect((await store.latestReadings()).map((r) => r.value)).toEqual([2]);
    });

    it('reports the newest record by device time, not by arrival', async () => {
      await write([telemetry('d1', T0 + 5000, { battery: 50 }), reading('s1', T0 + 5000, 9)]);
      await write([telemetry('d1', T0, { battery: 90 }), reading('s1', T0, 1)]);
      const [t] = await store.latestTelemetry();
      expect(t).toMatchObject({ droneId: 'd1', ts: T0 + 5000, battery: 50 });
      expect(await store.latestReadings()).toEqual([reading('s1', T0 + 5000, 9)]);
    });

    it('returns a short track whole, oldest first, only in the range and only of that drone', async () => {
      const points = [3, 1, 2, 0, 9].map((i) => telemetry('d1', T0 + i * 1000, { lat: 30 + i }));
      await write(points, [telemetry('d2', T0 + 1500)]);
      const track = await store.track('d1', { from: T0 + 1000, to: T0 + 3000, limit: 10 });
      expect(track.map((p) => p.ts)).toEqual([1, 2, 3].map((i) => T0 + i * 1000));
      expect(track[0]).toEqual({
        ts: T0 + 1000, lat: 31, lon: 113.9541, alt: 118.5, speed: 8.2, heading: 270, battery: 76, rssi: -67, mode: 'patrol', gridId: 'g-101',
      });
    });

    it('reduces a long track to the limit and keeps its shape', async () => {
      const n = 10_000;
      const points = Array.from({ length: n }, (_, i) =>
        telemetry('d1', T0 + i * 1000, { lat: 30 + i / n, lon: 110 + Math.sin(i / 500), gridId: i < n / 2 ? 'g-1' : 'g-2' }),
      );
      await write(points.slice(0, n / 2), points.slice(n / 2));
      const from = T0;
      const to = T0 + (n - 1) * 1000;
      const track = await store.track('d1', { from, to, limit: 500 });
      expect(track.length).toBeLessThanOrEqual(500);
      expect(track.length).toBeGreaterThanOrEqual(450);
      const bucketMs = (to - from + 1) / 500;
      expect(track[0]!.ts - from).toBeLessThan(2 * bucketMs);
      expect(to - track.at(-1)!.ts).toBeLessThan(2 * bucketMs);
      for (let i = 1; i < track.length; i++) expect(track[i]!.ts).toBeGreaterThan(track[i - 1]!.ts);
      // the shape: each point's values come from one stored point near its time
      for (const p of track) {
        const i = Math.round(p.lat * n - 30 * n);
        expect(Math.abs(points[i]!.ts - p.ts)).toBeLessThan(2 * bucketMs);
        expect(p.lon).toBeCloseTo(points[i]!.lon, 9);
        expect(p.gridId).toBe(points[i]!.gridId);
      }
    });

    it('aggregates readings per window: mean, min, max, count, windows aligned to the epoch', async () => {
      const base = T0 + 10 * MINUTE;
      await write([
        reading('s1', base + 1000, 1), reading('s1', base + 20_000, 2), reading('s1', base + 59_999, 6),
        reading('s1', base + MINUTE, 10),
        reading('s1', base + 3 * MINUTE + 5, -4), reading('s1', base + 3 * MINUTE + 6, 4),
        reading('s1', base + 20_000, 100, { metric: 'temperature' }),
        reading('s2', base + 20_000, 1000),
      ]);
      const range = { from: base, to: base + 5 * MINUTE, everyMs: MINUTE };
      const water = [
        { ts: base, metric: 'water_level', mean: 3, min: 1, max: 6, count: 3 },
        { ts: base + MINUTE, metric: 'water_level', mean: 10, min: 10, max: 10, count: 1 },
        { ts: base + 3 * MINUTE, metric: 'water_level', mean: 0, min: -4, max: 4, count: 2 },
      ];
      expect(await store.readings('s1', { ...range, metric: 'water_level' })).toEqual(water);
      const temperature = { ts: base, metric: 'temperature', mean: 100, min: 100, max: 100, count: 1 };
      // oldest first; within a window by metric name
      expect(await store.readings('s1', range)).toEqual([temperature, ...water]);
      // a range starting mid-window still reports the window by its aligned start
      expect(await store.readings('s1', { from: base + 30_000, to: base + 30 * 1000 + MINUTE, everyMs: MINUTE, metric: 'water_level' }))
        .toEqual([
          { ts: base, metric: 'water_level', mean: 6, min: 6, max: 6, count: 1 },
          { ts: base + MINUTE, metric: 'water_level', mean: 10, min: 10, max: 10, count: 1 },
        ]);
    });

    it('stores and finds devices whose ids hold quotes, spaces and backslashes', async () => {
      const t = telemetry(NASTY_DRONE, T0, { gridId: `g "1" \\ 'x'` });
      const e = event(NASTY_DRONE, T0);
      const r = reading(NASTY_SENSOR, T0, 5);
      await write([t, e, r, telemetry('plain', T0), reading('plain', T0, 7)]);
      expect((await store.latestTelemetry()).find((x) => x.droneId === NASTY_DRONE)).toEqual(t);
      expect((await store.latestReadings()).find((x) => x.sensorId === NASTY_SENSOR)).toEqual(r);
      const range = { from: T0, to: T0 };
      expect(await store.track(NASTY_DRONE, { ...range, limit: 5 })).toHaveLength(1);
      expect(await store.events(NASTY_DRONE, { ...range, limit: 5 })).toEqual([e]);
      expect(await store.readings(NASTY_SENSOR, { ...range, everyMs: MINUTE })).toEqual([
        { ts: T0, metric: 'water_level', mean: 5, min: 5, max: 5, count: 1 },
      ]);
      expect(await store.track(`x' OR drone_id =~ /.*/ --`, { ...range, limit: 5 })).toEqual([]);
    });

    it('lands alert transitions as measurement alert_transition with the contract tags and fields', async () => {
      const opened = transition(T0);
      const acked = transition(T0 + 90_000, { state: 'acknowledged', actor: 'officer "Li"', note: 'on my way\nline 2 \\ \'q\' 火' });
      await write([opened, acked]);
      expect((await sut.measurement('alert_transition')).map(contractColumns)).toEqual([
        { time: T0, grid_id: 'g-7', severity: 'critical', rule: 'water-high', alert_id: 'al_01', entity_id: 's1', state: 'open', actor: 'system', note: null },
        { time: T0 + 90_000, grid_id: 'g-7', severity: 'critical', rule: 'water-high', alert_id: 'al_01', entity_id: 's1', state: 'acknowledged', actor: 'officer "Li"', note: acked.note },
      ]);
    });

    it('keeps one alert_transition point per transition: a replay overwrites itself, distinct milliseconds stay apart', async () => {
      // the alert service gives each transition a distinct ms, also across alerts of one series
      const a = transition(T0, { alertId: 'al_a' });
      const b = transition(T0 + 1, { alertId: 'al_b', entityId: 's2' });
      const c = transition(T0 + 2, { alertId: 'al_a', state: 'resolved', actor: 'li', note: 'pump fixed' });
      await write([a, b, c], [c, a], [b]);
      const rows = (await sut.measurement('alert_transition')).map(contractColumns);
      expect(rows.map((r) => [r.time, r.alert_id, r.state])).toEqual([[T0, 'al_a', 'open'], [T0 + 1, 'al_b', 'open'], [T0 + 2, 'al_a', 'resolved']]);
    });
  });
}

function sortBy<T>(items: T[], key: (t: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

import { InfluxDB, Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import type { StoreRecord } from '../../core/records.js';
import { isWholeTrackRow, toPoint } from './points.js';

/** The client's own Point for a record (how points were built before lines were written directly): the reference. */
function clientPoint(r: StoreRecord): Point {
  const f = (p: Point, k: string, v: number | undefined) => (v === undefined ? p : p.floatField(k, v));
  const s = (p: Point, k: string, v: string | undefined) => (v === undefined ? p : p.stringField(k, v));
  switch (r.type) {
    case 'telemetry': {
      const p = new Point('drone_telemetry').tag('drone_id', r.droneId).tag('grid_id', r.gridId).timestamp(r.ts);
      for (const k of ['lat', 'lon', 'alt', 'speed', 'heading', 'battery', 'rssi', 'sats'] as const) p.floatField(k, r[k]);
      f(p, 'vs', r.vs);
      f(p, 'voltage', r.voltage);
      p.intField('seq', r.seq).stringField('mode', r.mode);
      return s(p, 'patrol_id', r.patrolId);
    }
    case 'event': {
      const p = new Point('drone_event').tag('drone_id', r.droneId).tag('grid_id', r.gridId).tag('kind', r.kind).timestamp(r.ts).floatField('confidence', r.confidence);
      return s(f(f(p, 'lat', r.lat), 'lon', r.lon), 'image_url', r.imageUrl);
    }
    case 'reading': {
      const p = new Point('sensor_reading').tag('sensor_id', r.sensorId).tag('grid_id', r.gridId).tag('metric', r.metric).timestamp(r.ts).floatField('value', r.value);
      if (r.seq !== undefined) p.intField('seq', r.seq);
      return s(p, 'unit', r.unit);
    }
    default: {
      const p = new Point('alert_transition').tag('grid_id', r.gridId).tag('severity', r.severity).tag('rule', r.rule).timestamp(r.ts);
      p.stringField('alert_id', r.alertId).stringField('entity_id', r.entityId).stringField('state', r.state).stringField('actor', r.actor);
      return s(p, 'note', r.note);
    }
  }
}

// the WriteApi passes itself to toLineProtocol: it converts the time at its precision (ms)
const writeApi = new InfluxDB({ url: 'http://127.0.0.1:1' }).getWriteApi('', 'db', 'ms', { flushInterval: 0 });
const line = (p: Point) => p.toLineProtocol(writeApi as unknown as Parameters<Point['toLineProtocol']>[0]);

const awkward = ['plain', 'with space', 'a,b=c', 'tab\there', 'new\nline', 'cr\rx', 'quote"d', 'back\\slash', 'ünï ✓'];

describe('toPoint', () => {
  const records: StoreRecord[] = [
    { type: 'telemetry', droneId: 'drone-7', gridId: 'LY-C3', ts: 1795852800123, seq: 42, lat: 33.8123, lon: 113.9541, alt: 118.5, speed: 8.2, heading: 270, battery: 76, mode: 'patrol', rssi: -67, sats: 14 },
    { type: 'telemetry', droneId: 'd', gridId: 'none', ts: 1795852800000.7, seq: 0, lat: -0.000001, lon: 1e-7, alt: 1e21, speed: 0, heading: 359.99999, battery: 100, mode: 'rth', rssi: -200, sats: 0, vs: -1.5, voltage: 22.2, patrolId: 'p "1" \\ x' },
    { type: 'event', droneId: 'drone-7', gridId: 'LY-C3', ts: 1, kind: 'fire', confidence: 0.9 },
    { type: 'event', droneId: 'drone-7', gridId: 'LY-C3', ts: 2, kind: 'smoke', confidence: 1, lat: 33.8, lon: 113.9, imageUrl: 'https://x/y?a="b"' },
    { type: 'reading', sensorId: 'gauge-1', gridId: 'LY-B2', ts: 3, metric: 'water_level', value: 1.8 },
    { type: 'reading', sensorId: 'gauge-1', gridId: 'LY-B2', ts: 4, metric: 'temperature', value: -12.25, seq: 9007199254740991, unit: '°C' },
    { type: 'alert_transition', gridId: 'LY-A1', severity: 'critical', rule: 'detect-fire', ts: 5, alertId: 'al-1', entityId: 'drone-7', state: 'open', actor: 'system' },
    ...awkward.map((x, i): StoreRecord => ({ type: 'alert_transition', gridId: x, severity: x, rule: x, ts: 6 + i, alertId: x, entityId: x, state: x, actor: x, note: x })),
    ...awkward.map((x, i): StoreRecord => ({ type: 'reading', sensorId: x, gridId: x, ts: 20 + i, metric: x, value: i, unit: x })),
  ];

  it.each(records.map((r) => [r.type, r] as const))('writes the line the client writes (%s)', (_type, r) => {
    expect(line(toPoint(r))).toBe(line(clientPoint(r)));
  });

  it('refuses what the client refuses', () => {
    const t = records[0]! as Extract<StoreRecord, { type: 'telemetry' }>;
    for (const bad of [{ ...t, lat: Number.NaN }, { ...t, alt: Number.POSITIVE_INFINITY }, { ...t, seq: Number.NaN }, { ...t, seq: 1e19 }]) {
      expect(() => clientPoint(bad)).toThrow();
      expect(() => toPoint(bad)).toThrow();
    }
  });
});

describe('isWholeTrackRow', () => {
  const whole = { time: 1, lat: 33.8, lon: 113.9, alt: 100, speed: 8, heading: 90, battery: 80, rssi: -60, mode: 'patrol', grid_id: 'LY-C3' };

  it('takes a row with every track column', () => {
    expect(isWholeTrackRow(whole)).toBe(true);
  });

  it('leaves out a point InfluxDB shows half-written (some fields null)', () => {
    expect(isWholeTrackRow({ ...whole, lat: null, lon: null, rssi: null, mode: null })).toBe(false);
    expect(isWholeTrackRow({ ...whole, grid_id: null })).toBe(false);
  });
});

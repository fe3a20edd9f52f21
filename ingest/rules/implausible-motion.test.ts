import { describe, expect, it } from 'vitest';
import { clears, harness, only, T0, telemetry } from './test-kit.js';

const jump = { id: 'gps-jump', kind: 'implausible_motion', severity: 'warning', maxSpeedMs: 40 };
const A = { lat: 33.82, lon: 113.88 };
const north = (m: number) => ({ lat: A.lat + m / 111_195, lon: A.lon });

describe('implausible_motion', () => {
  it('a GPS jump fires with both positions and the implied speed; the next plausible step clears', () => {
    const { engine } = harness([jump]);
    expect(engine.onRecords([telemetry('d', T0, A)])).toEqual([]);
    const s = only(engine.onRecords([telemetry('d', T0 + 2000, north(3000))]));
    expect(s).toMatchObject({ type: 'fire', position: north(3000), values: { fromLat: A.lat, fromLon: A.lon, toLat: north(3000).lat, toLon: A.lon, dtMs: 2000, maxSpeedMs: 40 } });
    expect(s.type === 'fire' && (s.values.speedMs as number)).toBeCloseTo(1500, -1);
    expect(s.type === 'fire' && s.description).toBe('d moved 3 km in 2 s (1500 m/s; at most 40 m/s is plausible): a GPS jump?');
    expect(clears(engine.onRecords([telemetry('d', T0 + 3000, north(3010))]))).toHaveLength(1);
  });

  it('ordinary flight, GPS noise over a short interval and a repeated device time do not fire', () => {
    const { engine } = harness([jump]);
    expect(engine.onRecords([telemetry('d', T0, A), telemetry('d', T0 + 1000, north(12)), telemetry('d', T0 + 2000, north(24))])).toEqual([]);
    // 8 m in 100 ms is 80 m/s, but under minJumpM (30 m): noise
    expect(engine.onRecords([telemetry('d', T0 + 2100, north(32))])).toEqual([]);
    expect(engine.onRecords([telemetry('d', T0 + 2100, north(5000))])).toEqual([]);
  });

  it('a long gap makes a long way plausible', () => {
    const { engine } = harness([jump]);
    engine.onRecords([telemetry('d', T0, A)]);
    expect(engine.onRecords([telemetry('d', T0 + 600_000, north(10_000))])).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { clears, harness, only, T0, telemetry } from './test-kit.js';

const reserve = { id: 'reserve', kind: 'battery_reserve', severity: 'critical', drainPctPerMin: 1.5, marginPct: 10, minSpeedMs: 5 };
const HOME = { lat: 33.82, lon: 113.88 };
const M_PER_DEG_LAT = 111_195;
const north = (m: number) => ({ lat: HOME.lat + m / M_PER_DEG_LAT, lon: HOME.lon });

describe('battery_reserve', () => {
  it('far from home: fires when the battery is below what the flight home needs plus the margin', () => {
    const { engine } = harness([reserve]);
    engine.onRecords([telemetry('d', T0, { ...HOME, mode: 'takeoff', speed: 0, battery: 95 })]);
    // 10 km out at 10 m/s: 16.7 min × 1.5 %/min + 10 % = 35 %
    const s = only(engine.onRecords([telemetry('d', T0 + 1000, { ...north(10_000), speed: 10, battery: 30 })]));
    expect(s).toMatchObject({ type: 'fire', severity: 'critical', values: { batteryPct: 30, neededPct: 35, speedMs: 10, homeLat: HOME.lat, homeLon: HOME.lon, homeIsTakeoff: true } });
    expect(s.type === 'fire' && (s.values.distanceHomeM as number)).toBeCloseTo(10_000, -1);
    expect(s.type === 'fire' && s.description).toBe('d battery 30 % is below the 35 % needed to fly 10 km home at 10 m/s (with a 10 % margin)');
  });

  it('near home the same battery is enough', () => {
    const { engine } = harness([reserve]);
    engine.onRecords([telemetry('d', T0, { ...HOME, mode: 'takeoff', speed: 0 })]);
    // 500 m at 10 m/s: 0.83 min × 1.5 + 10 = 11.3 %
    expect(engine.onRecords([telemetry('d', T0 + 1000, { ...north(500), speed: 10, battery: 15 })])).toEqual([]);
  });

  it('a hovering drone is assumed to fly home at minSpeedMs, not at 0', () => {
    const { engine } = harness([reserve]);
    engine.onRecords([telemetry('d', T0, { ...HOME, mode: 'takeoff', speed: 0 })]);
    // 3 km at 5 m/s: 10 min × 1.5 + 10 = 25 %
    const s = only(engine.onRecords([telemetry('d', T0 + 1000, { ...north(3000), speed: 0, battery: 24 })]));
    expect(s).toMatchObject({ values: { speedMs: 5, neededPct: 25 } });
  });

  it('home is where the latest take-off began, not the first position seen', () => {
    const { engine } = harness([reserve]);
    engine.onRecords([telemetry('d', T0, { ...north(20_000), mode: 'idle' })]);
    engine.onRecords([telemetry('d', T0 + 1000, { ...HOME, mode: 'takeoff' }), telemetry('d', T0 + 2000, { ...north(5), mode: 'takeoff' })]);
    expect(engine.onRecords([telemetry('d', T0 + 3000, { ...north(300), speed: 10, battery: 15 })])).toEqual([]);
  });

  it('without a take-off in sight, home is the first position; on the ground it never fires and an open condition clears', () => {
    const { engine } = harness([reserve]);
    engine.onRecords([telemetry('d', T0, { ...HOME, speed: 10 })]);
    expect(only(engine.onRecords([telemetry('d', T0 + 1000, { ...north(8000), speed: 10, battery: 20 })])).type).toBe('fire');
    expect(clears(engine.onRecords([telemetry('d', T0 + 2000, { ...north(8000), speed: 0, battery: 20, mode: 'landed' })]))).toHaveLength(1);
    expect(engine.onRecords([telemetry('d', T0 + 3000, { ...north(8000), speed: 0, battery: 5, mode: 'idle' })])).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { RateState } from './kinds/rate-of-change.js';
import { fires, harness, only, reading, T0 } from './test-kit.js';

const rise = { id: 'river-rise', kind: 'rate_of_change', severity: 'warning', appliesTo: { metrics: ['water_level'] }, field: 'value', direction: 'rising', change: 0.05, per: '10m' };
const MIN = 60_000;

/** one water_level reading a minute, minutes from..from+count-1, valued by `level(minute)` */
function series(from: number, count: number, level: (min: number) => number) {
  return Array.from({ length: count }, (_, i) => reading('river-3', 'water_level', T0 + (from + i) * MIN, Math.round(level(from + i) * 1e6) / 1e6, 'm'));
}

describe('rate_of_change', () => {
  it('fires when the value rose faster than change per `per`, with a description of the rise', () => {
    const { engine } = harness([rise]);
    // 0.008 m a minute = 0.08 m per 10 min; no verdict until 5 minutes of history exist
    const level = (m: number) => 1.5 + m * 0.008;
    expect(engine.onRecords(series(0, 5, level))).toEqual([]);
    const out = engine.onRecords(series(5, 6, level));
    expect(fires(out)).toHaveLength(6);
    const s = out.at(-1)!;
    expect(s).toMatchObject({ type: 'fire', entityId: 'river-3', gridId: 'LY-C3', at: T0 + 10 * MIN, values: { metric: 'water_level', change: 0.08, spanS: 600, limit: 0.05, unit: 'm' } });
    expect(s.type === 'fire' && s.description).toBe('river-3 water_level rose 0.08 m in 10 min (limit 0.05 per 10 min)');
  });

  it('does not fire for a slow rise or a fall, and clears once the rise stops', () => {
    const { engine } = harness([rise]);
    // 0.003 m a minute up for 30 minutes (1.5 → 1.59), then 0.01 m a minute down (→ 1.29)
    expect(engine.onRecords(series(0, 30, (m) => 1.5 + m * 0.003))).toEqual([]);
    expect(engine.onRecords(series(30, 30, (m) => 1.59 - (m - 30) * 0.01))).toEqual([]);
    // 0.01 m a minute up for 15 minutes, then flat: the 10-minute change falls under the limit, one clear
    const fast = engine.onRecords(series(60, 15, (m) => 1.29 + (m - 60) * 0.01));
    expect(fires(fast).length).toBeGreaterThan(0);
    const out = engine.onRecords(series(75, 15, () => 1.43));
    expect(out.filter((s) => s.type === 'clear')).toHaveLength(1);
    expect(out.at(-1)?.type).not.toBe('fire');
  });

  it('scales the change of irregular samples to `per`', () => {
    const { engine } = harness([rise]);
    expect(engine.onRecords([reading('r', 'water_level', T0, 2.0)])).toEqual([]);
    // 0.04 m in 7 minutes is 0.057 m per 10 minutes
    const s = only(engine.onRecords([reading('r', 'water_level', T0 + 7 * MIN, 2.04)]));
    expect(s).toMatchObject({ type: 'fire', values: { change: 0.04, spanS: 420, changePerPeriod: 0.0571 } });
    // a sample 20 minutes on has nothing about 10 minutes old to compare with: no verdict
    expect(engine.onRecords([reading('r', 'water_level', T0 + 27 * MIN, 3)])).toEqual([]);
  });

  it('a falling rule fires on a fall', () => {
    const { engine } = harness([{ ...rise, id: 'drain', direction: 'falling' }]);
    engine.onRecords([reading('r', 'water_level', T0, 2.0)]);
    expect(only(engine.onRecords([reading('r', 'water_level', T0 + 10 * MIN, 1.9)])).type === 'fire' && 'ok').toBe('ok');
  });

  it('keeps a bounded window whatever the sample rate', () => {
    const { engine, store } = harness([rise]);
    for (let s = 0; s < 3600; s++) engine.onRecords([reading('r', 'water_level', T0 + s * 1000, 1)]);
    const state = store.get('river-rise', 'sensor/r/water_level') as RateState;
    expect(state.window.length).toBeLessThanOrEqual(64);
    expect(state.window[0]![0]).toBeGreaterThanOrEqual(T0 + 3599_000 - 15 * MIN);
  });
});

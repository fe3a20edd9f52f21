import { describe, expect, it } from 'vitest';
import { clears, fires, harness, only, reading, T0, telemetry } from './test-kit.js';

const batteryLow = { id: 'battery-low', kind: 'threshold', severity: 'warning', appliesTo: { kind: 'drone' }, field: 'battery', op: 'below', value: 20 };
const hot = { id: 'hot', kind: 'threshold', severity: 'critical', appliesTo: { kind: 'sensor', metrics: ['temperature'] }, field: 'value', op: 'above', value: 60, for: '30s' };

describe('threshold', () => {
  it('fires below the value, says so for people, and not at the value itself', () => {
    const { engine } = harness([batteryLow]);
    expect(engine.onRecords([telemetry('drone-7', T0, { battery: 20 })])).toEqual([]);
    const s = only(engine.onRecords([telemetry('drone-7', T0 + 1000, { battery: 14 })]));
    expect(s).toMatchObject({
      type: 'fire', ruleId: 'battery-low', ruleKind: 'threshold', severity: 'warning', entityKind: 'drone', entityId: 'drone-7',
      gridId: 'LY-C3', position: { lat: 33.82, lon: 113.88 }, at: T0 + 1000, values: { value: 14, threshold: 20, field: 'battery', unit: '%' },
    });
    expect(s.type === 'fire' && s.description).toBe('drone-7 battery 14 % is below the 20 % threshold');
  });

  it('fires again on every sample while it holds and clears once, only past the clear level (hysteresis)', () => {
    const { engine } = harness([{ ...batteryLow, clear: 25 }]);
    expect(fires(engine.onRecords([telemetry('d', T0, { battery: 18 })]))).toHaveLength(1);
    expect(fires(engine.onRecords([telemetry('d', T0 + 1000, { battery: 19 })]))).toHaveLength(1);
    // back above 20 but not past 25: still open
    const still = only(engine.onRecords([telemetry('d', T0 + 2000, { battery: 22 })]));
    expect(still.type === 'fire' && still.description).toBe('d battery 22 % is still below 25 %, where it clears (threshold 20 %)');
    expect(engine.onRecords([telemetry('d', T0 + 3000, { battery: 25 })])).toEqual([{ type: 'clear', ruleId: 'battery-low', entityKind: 'drone', entityId: 'd', at: T0 + 3000 }]);
    expect(engine.onRecords([telemetry('d', T0 + 4000, { battery: 26 })])).toEqual([]);
    // 22 opens nothing: below 20 is needed to open again
    expect(engine.onRecords([telemetry('d', T0 + 5000, { battery: 22 })])).toEqual([]);
  });

  it('waits for minSamples samples in a row', () => {
    const { engine } = harness([{ ...batteryLow, minSamples: 3 }]);
    expect(engine.onRecords([telemetry('d', T0, { battery: 10 }), telemetry('d', T0 + 1000, { battery: 10 })])).toEqual([]);
    expect(engine.onRecords([telemetry('d', T0 + 2000, { battery: 30 })])).toEqual([]); // the run breaks
    expect(engine.onRecords([telemetry('d', T0 + 3000, { battery: 10 }), telemetry('d', T0 + 4000, { battery: 10 })])).toEqual([]);
    expect(fires(engine.onRecords([telemetry('d', T0 + 5000, { battery: 10 })]))).toHaveLength(1);
  });

  it('opens only after the condition held continuously for `for` (device time)', () => {
    const { engine } = harness([hot]);
    const t = (s: number, v: number) => engine.onRecords([reading('s1', 'temperature', T0 + s * 1000, v, '°C')]);
    expect([...t(0, 65), ...t(10, 66), ...t(20, 50), ...t(30, 70), ...t(50, 71)]).toEqual([]);
    const s = only(t(60, 72));
    expect(s).toMatchObject({ type: 'fire', entityKind: 'sensor', entityId: 's1', gridId: 'LY-C3', at: T0 + 60_000, values: { metric: 'temperature', value: 72, heldForS: 30 } });
    expect(s.type === 'fire' && s.description).toBe('s1 temperature 72 °C is above the 60 °C threshold for 30 s');
    expect(s.type === 'fire' && s.position).toBeUndefined();
  });

  it('a tick opens a `for` that ran out without a new sample, once', () => {
    const { engine, clock } = harness([hot]);
    engine.onRecords([reading('s1', 'temperature', T0, 65)]);
    expect(engine.tick(T0 + 29_999)).toEqual([]);
    const s = only(engine.tick(T0 + 30_000));
    expect(s).toMatchObject({ type: 'fire', at: T0 + 30_000, values: { value: 65, heldForS: 30 } });
    expect(engine.tick(T0 + 31_000)).toEqual([]);
    clock.now = T0 + 40_000;
    expect(fires(engine.onRecords([reading('s1', 'temperature', T0 + 40_000, 66)]))).toHaveLength(1);
  });

  it('reads only the selected metrics, and drone rules only telemetry fields present', () => {
    const { engine } = harness([hot, { ...batteryLow, id: 'vs', field: 'vs', op: 'above', value: 5 }]);
    expect(engine.onRecords([reading('s1', 'humidity', T0, 99), reading('s1', 'humidity', T0 + 60_000, 99)])).toEqual([]);
    expect(engine.onRecords([telemetry('d', T0)])).toEqual([]); // no vs in it
    expect(fires(engine.onRecords([telemetry('d', T0 + 1000, { vs: 7 })]))).toHaveLength(1);
  });

  it('one sensor, two metrics under one rule: clears only when neither holds', () => {
    const any = { id: 'high', kind: 'threshold', severity: 'warning', appliesTo: { kind: 'sensor' }, field: 'value', op: 'above', value: 50 };
    const { engine } = harness([any]);
    expect(fires(engine.onRecords([reading('w', 'temperature', T0, 60), reading('w', 'humidity', T0, 80)]))).toHaveLength(2);
    expect(engine.onRecords([reading('w', 'temperature', T0 + 1000, 20)])).toEqual([]);
    expect(clears(engine.onRecords([reading('w', 'humidity', T0 + 2000, 40)]))).toEqual([{ type: 'clear', ruleId: 'high', entityKind: 'sensor', entityId: 'w', at: T0 + 2000 }]);
  });
});

import { describe, expect, it } from 'vitest';
import { clears, fires, harness, only, reading, T0 } from './test-kit.js';

const stuck = { id: 'stuck', kind: 'stuck_value', severity: 'warning', for: '1h', minSamples: 10 };
const MIN = 60_000;

describe('stuck_value', () => {
  it('identical readings for `for` and minSamples fire, again while stuck; a change clears', () => {
    const { engine } = harness([stuck]);
    const at = (min: number, v = 1.82) => engine.onRecords([reading('r3', 'water_level', T0 + min * MIN, v, 'm')]);
    for (let m = 0; m < 60; m += 5) expect(at(m)).toEqual([]);
    const s = only(at(60));
    expect(s).toMatchObject({ type: 'fire', at: T0 + 60 * MIN, values: { metric: 'water_level', value: 1.82, sameForS: 3600, samples: 13, unit: 'm' } });
    expect(s.type === 'fire' && s.description).toBe('r3 water_level has read 1.82 m for 60 min (13 identical readings)');
    expect(fires(at(65))).toHaveLength(1);
    expect(clears(at(70, 1.83))).toHaveLength(1);
    expect(at(75, 1.83)).toEqual([]);
  });

  it('too few readings are not enough, however long they span', () => {
    const { engine } = harness([stuck]);
    for (let h = 0; h < 5; h++) expect(engine.onRecords([reading('r3', 'temperature', T0 + h * 3_600_000, 21)])).toEqual([]);
  });

  it('many identical readings in a short time are not enough either', () => {
    const { engine } = harness([stuck]);
    for (let s = 0; s < 100; s++) expect(engine.onRecords([reading('r3', 'temperature', T0 + s * 1000, 21)])).toEqual([]);
  });
});

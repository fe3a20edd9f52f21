import { describe, expect, it } from 'vitest';
import type { SilentState } from './kinds/sensor-silent.js';
import { harness, only, reading, T0 } from './test-kit.js';

const silent = { id: 'silent', kind: 'sensor_silent', severity: 'warning', factor: 3, minSilence: '1m' };

/** readings every `everyMs` on both clocks: the device's `ts` and the server's receive time agree */
function feed(h: ReturnType<typeof harness>, count: number, everyMs: number, from = T0) {
  for (let i = 0; i < count; i++) {
    h.clock.now = from + i * everyMs;
    h.engine.onRecords([reading('s1', 'water_level', h.clock.now, 1.2)]);
  }
  return h.clock.now;
}

describe('sensor_silent', () => {
  it("learns the sensor's interval and fires after factor × that silence, once; the next reading clears", () => {
    const h = harness([silent], { sensors: { s1: 'LY-D2' } });
    const last = feed(h, 6, 60_000);
    expect(h.engine.tick(last + 179_999)).toEqual([]);
    const s = only(h.engine.tick(last + 180_000));
    expect(s).toMatchObject({
      type: 'fire', entityKind: 'sensor', entityId: 's1', gridId: 'LY-D2', at: last + 180_000,
      values: { silentForS: 180, usualIntervalS: 60, factor: 3 }, description: 's1 sent no reading for 3 min (usually every 60 s)',
    });
    expect(h.engine.tick(last + 600_000)).toEqual([]);
    h.clock.now = last + 700_000;
    expect(h.engine.onRecords([reading('s1', 'water_level', last + 700_000, 1.2)])).toEqual([{ type: 'clear', ruleId: 'silent', entityKind: 'sensor', entityId: 's1', at: last + 700_000 }]);
    // the silence taught nothing: the usual interval is still a minute
    expect((h.store.get('silent', 'sensor/s1') as SilentState).intervalMs).toBe(60_000);
  });

  it('never sooner than minSilence', () => {
    const h = harness([silent]);
    const last = feed(h, 10, 5000);
    expect(h.engine.tick(last + 59_999)).toEqual([]);
    expect(only(h.engine.tick(last + 60_000)).type).toBe('fire');
  });

  it('adapts when a sensor reports less often, and a single long gap does not teach much', () => {
    const h = harness([silent]);
    let last = feed(h, 4, 60_000);
    last = feed(h, 1, 0, last + 600_000);
    // a 10-minute gap after 1-minute ones teaches at most 4 minutes: 0.8 × 60 s + 0.2 × 240 s
    expect((h.store.get('silent', 'sensor/s1') as SilentState).intervalMs).toBe(96_000);
    last = feed(h, 30, 600_000, last + 600_000);
    const learned = (h.store.get('silent', 'sensor/s1') as SilentState).intervalMs!;
    expect(learned).toBeGreaterThan(590_000);
    expect(learned).toBeLessThanOrEqual(600_000);
    expect(h.engine.tick(last + 1_700_000)).toEqual([]);
  });

  it('a sensor heard only twice is not judged yet', () => {
    const h = harness([silent]);
    const last = feed(h, 2, 60_000);
    expect(h.engine.tick(last + 86_400_000)).toEqual([]);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../core/alerts.js';
import { quantile, slaReport } from './sla.js';
import { HOUR, T0, clear, fire, harness, type Harness } from './testing.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.close();
});

const S = 1000;

describe('SLA report', () => {
  it('computes counts, median and p90 times and missed deadlines per cell and severity', () => {
    const alerts: Record<string, Alert> = {};
    const at = (t: number, step: () => void) => [t, step] as const;
    const open = (name: string, signal: ReturnType<typeof fire>) => () => {
      alerts[name] = h.service.handle(signal)!;
    };
    // C1 critical (fire-seen: 5 min to acknowledge, 4 h to resolve); C2 warning (water-high: 10 min, 12 h)
    const schedule = [
      at(-HOUR, open('G', fire('fire-seen', 'g'))), // before the report's range
      at(0, open('A', fire('fire-seen', 'a'))),
      at(10 * S, open('B', fire('fire-seen', 'b'))),
      at(20 * S, open('C', fire('fire-seen', 'c'))),
      at(30 * S, open('D', fire('fire-seen', 'd'))),
      at(40 * S, open('E', fire('fire-seen', 'e'))), // never answered
      at(50 * S, open('F', fire('water-high', 's1', { gridId: 'C2' }))),
      at(60 * S, () => h.service.acknowledge(alerts.A!.id, 'wang')), // 60 s
      at(130 * S, () => h.service.acknowledge(alerts.B!.id, 'wang')), // 120 s
      at(350 * S, () => h.service.handle(clear('water-high', 's1'))), // F auto-resolved after 300 s
      at(620 * S, () => h.service.acknowledge(alerts.C!.id, 'wang')), // 600 s: late
      at(630 * S, () => h.service.resolve(alerts.D!.id, 'wang', 'false alarm')), // 600 s, never acknowledged: late response
      at(3600 * S, () => h.service.resolve(alerts.A!.id, 'wang', 'out')), // 3600 s
      at(7210 * S, () => h.service.resolve(alerts.B!.id, 'wang', 'out')), // 7200 s
      at(18_020 * S, () => h.service.resolve(alerts.C!.id, 'wang', 'out')), // 18000 s: past 4 h
    ];
    for (const [t, step] of schedule) {
      h.clock.t = T0 + t;
      step();
    }
    const report = slaReport(h.db, { from: T0, to: T0 + HOUR, now: T0 + 6 * HOUR });
    expect(report).toEqual([
      {
        gridId: 'C1', severity: 'critical', count: 5, acknowledged: 3, resolved: 4,
        ackMedianS: 120, ackP90S: 504, // [60, 120, 600]
        resolveMedianS: 5400, resolveP90S: 14_760, // [600, 3600, 7200, 18000]
        responseMissed: 3, // C (late ack), D (resolved late without ack), E (still open)
        disposalMissed: 2, // C (late), E (still open after 6 h)
      },
      {
        gridId: 'C2', severity: 'warning', count: 1, acknowledged: 0, resolved: 1,
        ackMedianS: null, ackP90S: null, resolveMedianS: 300, resolveP90S: 300, responseMissed: 0, disposalMissed: 0,
      },
    ]);
    expect(slaReport(h.db, { from: T0 + 2 * HOUR, to: T0 + 3 * HOUR })).toEqual([]);
  });

  it('interpolates quantiles between the nearest ranks', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9.1);
  });
});

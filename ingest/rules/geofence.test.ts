import { describe, expect, it } from 'vitest';
import { clears, harness, IN_C3, IN_NFZ, only, T0, telemetry } from './test-kit.js';

const ceiling = { id: 'ceiling', kind: 'geofence', severity: 'warning', check: 'altitude' };
const noFly = { id: 'no-fly', kind: 'geofence', severity: 'critical', check: 'no_fly' };
const leave = { id: 'leave', kind: 'geofence', severity: 'warning', check: 'leave_cell', toleranceM: 50 };
/** LY-C3's east edge runs from (113.909184, 33.790583) to (113.90735, 33.838877): at 33.82 N it is at 113.908067 E */
const EDGE = { lat: 33.82, lon: 113.908067 };
const M_PER_DEG_LON = 111_320 * Math.cos((33.82 * Math.PI) / 180);
const eastOfEdge = (m: number) => ({ lat: EDGE.lat, lon: EDGE.lon + m / M_PER_DEG_LON });

describe('geofence', () => {
  it('altitude: above the ceiling (120 m by default) fires, back under it clears', () => {
    const { engine } = harness([ceiling]);
    expect(engine.onRecords([telemetry('d', T0, { alt: 120 })])).toEqual([]);
    const s = only(engine.onRecords([telemetry('d', T0 + 1000, { alt: 134 })]));
    expect(s).toMatchObject({ type: 'fire', values: { alt: 134, ceilingM: 120 }, description: 'd altitude 134 m is above the 120 m ceiling' });
    expect(clears(engine.onRecords([telemetry('d', T0 + 2000, { alt: 110 })]))).toHaveLength(1);
  });

  it('altitude: once above, clears only clearMarginM (5 m) below the ceiling, so a noisy altitude does not flap', () => {
    const { engine } = harness([ceiling]);
    only(engine.onRecords([telemetry('d', T0, { alt: 122 })]));
    expect(clears(engine.onRecords([telemetry('d', T0 + 1000, { alt: 118 })]))).toHaveLength(0);
    expect(clears(engine.onRecords([telemetry('d', T0 + 2000, { alt: 114 })]))).toHaveLength(1);
  });

  it('no_fly: inside a no-fly polygon fires with the zone, leaving it clears', () => {
    const { engine } = harness([noFly]);
    expect(engine.onRecords([telemetry('d', T0)])).toEqual([]);
    const s = only(engine.onRecords([telemetry('d', T0 + 1000, IN_NFZ)]));
    expect(s).toMatchObject({ type: 'fire', severity: 'critical', gridId: 'LY-C4', position: IN_NFZ, values: { zones: 'NFZ-GOV' } });
    expect(s.type === 'fire' && s.description).toMatch(/^d is inside no-fly zone NFZ-GOV \(/);
    expect(clears(engine.onRecords([telemetry('d', T0 + 2000)]))).toHaveLength(1);
  });

  it('leave_cell: farther than the tolerance outside the assigned cell fires, with the distance', () => {
    const { engine } = harness([leave], { assigned: { d: 'LY-C3' } });
    expect(engine.onRecords([telemetry('d', T0, IN_C3)])).toEqual([]);
    expect(engine.onRecords([telemetry('d', T0 + 1000, eastOfEdge(20))])).toEqual([]); // within 50 m
    const s = only(engine.onRecords([telemetry('d', T0 + 2000, eastOfEdge(500))]));
    expect(s).toMatchObject({ type: 'fire', gridId: 'LY-C4', values: { assignedCell: 'LY-C3', currentCell: 'LY-C4', toleranceM: 50 } });
    const outside = s.type === 'fire' ? (s.values.outsideM as number) : 0;
    expect(outside).toBeGreaterThan(490);
    expect(outside).toBeLessThan(510);
    expect(s.type === 'fire' && s.description).toMatch(/^d is (49\d|50\d) m outside its assigned cell LY-C3 \(in LY-C4; tolerance 50 m\)$/);
    expect(clears(engine.onRecords([telemetry('d', T0 + 3000, eastOfEdge(-100))]))).toHaveLength(1);
  });

  it('leave_cell: a drone without an assigned cell is not checked', () => {
    const { engine } = harness([leave]);
    expect(engine.onRecords([telemetry('free', T0, eastOfEdge(5000))])).toEqual([]);
  });
});

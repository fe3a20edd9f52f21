import { describe, expect, it } from 'vitest';
import { DetectionEvent } from '../../core/telemetry.js';
import { detectionConfidence, footprint, sees } from './camera.js';
import { runAll, scenario, world, type Publish } from '../test/helpers.js';

const cam = { hfovDeg: 70, vfovDeg: 55 };

describe('camera footprint', () => {
  it('grows with altitude and field of view', () => {
    const f = footprint({ x: 0, y: 0 }, 100, 0, cam);
    expect(f.halfWidthM).toBeCloseTo(100 * Math.tan((35 * Math.PI) / 180), 6); // 70.0 m
    expect(f.halfLengthM).toBeCloseTo(100 * Math.tan((27.5 * Math.PI) / 180), 6); // 52.1 m
    expect(footprint({ x: 0, y: 0 }, 200, 0, cam).halfWidthM).toBeCloseTo(2 * f.halfWidthM, 6);
    expect(footprint({ x: 0, y: 0 }, 100, 0, { hfovDeg: 90, vfovDeg: 55 }).halfWidthM).toBeCloseTo(100, 6);
  });

  it('sees what is under it and nothing beyond its edges, turned with the heading', () => {
    const north = footprint({ x: 0, y: 0 }, 100, 0, cam);
    expect(sees(north, { x: 0, y: 0 }, 0)).toBe(true);
    expect(sees(north, { x: 69, y: 0 }, 0)).toBe(true); // across track, inside the width
    expect(sees(north, { x: 75, y: 0 }, 0)).toBe(false);
    expect(sees(north, { x: 75, y: 0 }, 10)).toBe(true); // a 10 m incident reaches into the picture
    expect(sees(north, { x: 0, y: 60 }, 0)).toBe(false); // along track, past the length
    const east = footprint({ x: 0, y: 0 }, 100, 90, cam);
    expect(sees(east, { x: 60, y: 0 }, 0)).toBe(false); // now along track
    expect(sees(east, { x: 0, y: 69 }, 0)).toBe(true); // now across
    expect(sees(footprint({ x: 0, y: 0 }, 0, 0, cam), { x: 0, y: 0 }, 5)).toBe(false);
  });

  it('is surer of what is near the centre, and reports nothing out of view or near the ground', () => {
    const f = footprint({ x: 0, y: 0 }, 100, 0, cam);
    const at = (x: number) => detectionConfidence(f, { x, y: 0 }, 0, 100, 'fire', 0);
    expect(at(0)).toBeGreaterThanOrEqual(0.9);
    expect(at(30)!).toBeLessThan(at(0)!);
    expect(at(65)!).toBeLessThan(at(30)!);
    expect(at(65)!).toBeGreaterThan(0.4);
    expect(at(90)).toBeNull();
    expect(detectionConfidence(footprint({ x: 0, y: 0 }, 15, 0, cam), { x: 0, y: 0 }, 0, 15, 'fire', 0)).toBeNull();
    expect(detectionConfidence(f, { x: 0, y: 0 }, 0, 100, 'dumping', 0)!).toBeLessThan(at(0)!);
  });
});

describe('onboard detection', () => {
  const yaml = (where: string) => `
name: detect
duration: 3m
drones:
  - { id: d1, cell: LY-C3, start: airborne }
  - { id: d2, cell: LY-E5, start: airborne }
timeline:
  - { at: 20s, incident: { id: fire-1, kind: fire, where: ${where} } }
`;
  const events = (es: ReturnType<typeof runAll>) =>
    es.filter((e): e is Publish => e.type === 'publish' && e.channel === 'events').map((e) => ({ device: e.device, ...(JSON.parse(e.payload) as DetectionEvent) }));

  it('reports an incident in view with a confidence that falls with its distance from the centre of the picture', () => {
    const es = events(runAll(world(scenario(yaml('{ nearDrone: d1, aheadM: 300 }')))));
    expect(es.length).toBeGreaterThan(0);
    expect(new Set(es.map((e) => e.device))).toEqual(new Set(['d1']));
    for (const e of es) {
      expect(DetectionEvent.safeParse(e).success).toBe(true);
      expect(e.kind).toBe('fire');
    }
    expect(Math.max(...es.map((e) => e.confidence))).toBeGreaterThanOrEqual(0.8);
  });

  it('reports nothing it cannot see', () => {
    // the incident is in LY-A1, far from both patrols
    expect(events(runAll(world(scenario(yaml('{ lat: 33.7229, lon: 113.7672 }')))))).toEqual([]);
  });
});

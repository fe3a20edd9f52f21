import { describe, expect, it } from 'vitest';
import { fromBearing, pointInPolygon, bbox, type Vec } from '../lib/geo.js';
import { Rng } from '../lib/rng.js';
import { footprint } from './camera.js';
import { flyToward, type Kinematics } from './kinematics.js';
import { grids, runAll, scenario, telemetryOf, world } from '../test/helpers.js';

describe('kinematics', () => {
  const limits = { cruiseMs: 12, maxAirspeedMs: 20, accelMs2: 2.5, turnRateDegS: 60 };
  const still = (): Kinematics => ({ pos: { x: 0, y: 0 }, vel: { x: 0, y: 0 }, course: 0, speedCmd: 0, windEst: { x: 0, y: 0 } });

  it('accelerates no faster than allowed, cruises, and stops at the target', () => {
    const k = still();
    const speeds: number[] = [];
    let left = Infinity;
    for (let i = 0; i < 2000 && left > 0.5; i++) {
      left = flyToward(k, { x: 0, y: 1000 }, null, limits, { x: 0, y: 0 }, 0.1).distance;
      speeds.push(Math.hypot(k.vel.x, k.vel.y));
    }
    expect(left).toBeLessThan(3);
    expect(Math.max(...speeds)).toBeLessThanOrEqual(12 + 1e-9);
    for (let i = 1; i < speeds.length; i++) expect(Math.abs(speeds[i]! - speeds[i - 1]!)).toBeLessThanOrEqual(2.5 * 0.1 + 1e-9);
    // 0 → 12 m/s at 2.5 m/s² takes 4.8 s
    expect(speeds.findIndex((s) => s >= 11.99)).toBeGreaterThanOrEqual(47);
    expect(speeds[speeds.length - 1]).toBeLessThan(2);
  });

  it('turns no faster than its turn rate', () => {
    const k = { ...still(), vel: { x: 0, y: 12 }, speedCmd: 12 };
    let course = k.course;
    for (let i = 0; i < 100; i++) {
      flyToward(k, { x: -2000, y: -50 }, null, limits, { x: 0, y: 0 }, 0.1);
      const turned = Math.abs(((k.course - course + 540) % 360) - 180);
      expect(turned).toBeLessThanOrEqual(60 * 0.1 + 1e-9);
      course = k.course;
    }
  });

  it('holds its track in a steady crosswind once it has learnt it, and drifts in a gust', () => {
    const k = still();
    const wind = { x: 6, y: 0 };
    const xs: number[] = [];
    for (let i = 0; i < 1200; i++) {
      flyToward(k, { x: 0, y: 5000 }, null, limits, wind, 0.1);
      xs.push(k.pos.x);
    }
    // the lag of its wind estimate pushes it downwind at first; then it flies the line again
    expect(Math.max(...xs)).toBeGreaterThan(1);
    expect(Math.abs(xs[xs.length - 1]! - xs[xs.length - 50]!)).toBeLessThan(1);
  });
});

/** fraction of the cell's area (sampled every 50 m) that the camera saw during the run */
function coverage(cellId: string, yaml: string, untilRound: number): { covered: number; outside: number; inNoFly: number; rounds: number; hours: number } {
  const s = scenario(yaml);
  const w = world(s, 200);
  const slot = [...w.drones.values()][0]!;
  const ring = w.frame.ring(grids.cell(cellId)!.feature);
  const b = bbox(ring);
  const step = 50;
  const nx = Math.ceil((b.maxX - b.minX) / step);
  const ny = Math.ceil((b.maxY - b.minY) / step);
  const inside = new Uint8Array(nx * ny);
  const seen = new Uint8Array(nx * ny);
  for (let i = 0; i < nx; i++) for (let j = 0; j < ny; j++) if (pointInPolygon({ x: b.minX + i * step, y: b.minY + j * step }, ring)) inside[i * ny + j] = 1;
  let outside = 0;
  let inNoFly = 0;
  w.start();
  while (slot.sim.round < untilRound && w.elapsedMs < 48 * 3600_000) {
    const es = w.step();
    for (const t of telemetryOf(es)) {
      if (grids.cellAt(t.lat, t.lon) !== cellId) outside++;
      if (grids.noFlyAt(t.lat, t.lon).length) inNoFly++;
    }
    const d = slot.sim;
    if (d.alt < 20) continue;
    const f = footprint(d.k.pos, d.alt, d.yaw, d.s.camera);
    const r = Math.hypot(f.halfWidthM, f.halfLengthM);
    const fwd = fromBearing(f.headingDeg);
    for (let i = Math.max(0, Math.floor((d.k.pos.x - r - b.minX) / step)); i <= Math.min(nx - 1, Math.ceil((d.k.pos.x + r - b.minX) / step)); i++)
      for (let j = Math.max(0, Math.floor((d.k.pos.y - r - b.minY) / step)); j <= Math.min(ny - 1, Math.ceil((d.k.pos.y + r - b.minY) / step)); j++) {
        const p: Vec = { x: b.minX + i * step - d.k.pos.x, y: b.minY + j * step - d.k.pos.y };
        const along = p.x * fwd.x + p.y * fwd.y;
        const across = p.x * fwd.y - p.y * fwd.x;
        if (Math.abs(along) <= f.halfLengthM && Math.abs(across) <= f.halfWidthM) seen[i * ny + j] = 1;
      }
  }
  let total = 0;
  let covered = 0;
  for (let k = 0; k < inside.length; k++) {
    total += inside[k]!;
    covered += inside[k]! & seen[k]!;
  }
  return { covered: covered / total, outside, inNoFly, rounds: slot.sim.round - 1, hours: w.elapsedMs / 3600_000 };
}

describe('a drone on patrol', () => {
  // a fast charger keeps the test short; the flying is the same
  const patrol = (cell: string) => `
name: patrol
duration: 2d
wind: { speedMs: 4, fromDeg: 250, gustMs: 1.5 }
drones:
  - { id: d1, cell: ${cell}, altitudeM: 110, battery: { chargePctPerS: 1 } }
`;

  it.each([['LY-C3'], ['LY-C4']])('covers its cell %s with its camera and never leaves it (LY-C4 has a no-fly zone)', (cell) => {
    const r = coverage(cell, patrol(cell), 2);
    expect(r.rounds).toBe(1);
    expect(r.covered).toBeGreaterThan(0.95);
    expect(r.outside).toBe(0);
    expect(r.inNoFly).toBe(0);
  });

  it('always reaches home before its battery is empty, across many seeds, cells and winds', () => {
    const cells = grids.cells.map((c) => c.id);
    for (let seed = 1; seed <= 20; seed++) {
      const rng = Rng.seeded(seed * 7919);
      const cell = rng.pick(cells);
      const wind = { speedMs: rng.range(0, 9), fromDeg: rng.range(0, 360), gustMs: rng.range(0, 2.5) };
      const s = scenario(`
name: battery
seed: ${seed}
duration: 150m
wind: { speedMs: ${wind.speedMs}, fromDeg: ${wind.fromDeg}, gustMs: ${wind.gustMs} }
drones:
  - { id: d1, cell: ${cell}, cruiseMs: ${rng.int(6, 15)}, battery: { initialPct: ${rng.int(40, 100)}, chargePctPerS: 0.5 } }
`);
      const w = world(s, 200);
      const d = [...w.drones.values()][0]!.sim;
      let minAirborne = 100;
      let emergencies = 0;
      runAll(w, () => {
        if (d.airborne) minAirborne = Math.min(minAirborne, d.battery.pct);
        if (d.mode === 'emergency') emergencies++;
      });
      const what = `seed ${seed} in ${cell}, wind ${JSON.stringify(wind)}`;
      expect(emergencies, what).toBe(0);
      expect(d.landings.length, what).toBeGreaterThanOrEqual(1);
      for (const l of d.landings) {
        expect(l.atHome, what).toBe(true);
        expect(l.battery, what).toBeGreaterThan(3);
      }
      expect(minAirborne, what).toBeGreaterThan(0);
      expect(d.lastRthReason, what).toBe('battery');
    }
  });

  it('turns home at the reserve it needs plus its margin, lands, charges and resumes where it left off', () => {
    const s = scenario(`
name: cycle
duration: 3h
drones:
  - { id: d1, cell: LY-C3, battery: { marginPct: 10, chargePctPerS: 0.2 } }
`);
    const w = world(s, 200);
    const d = [...w.drones.values()][0]!.sim;
    const modes: string[] = [];
    let broke: { planIndex: number; x: number; y: number } | null = null;
    let resumedPlanIndex = -1;
    let closestToBreak = Infinity;
    runAll(w, () => {
      if (modes[modes.length - 1] !== d.mode) {
        if (d.mode === 'rth' && !broke) broke = { planIndex: d.planIndex, ...d.k.pos };
        if (d.mode === 'patrol' && broke && resumedPlanIndex < 0) resumedPlanIndex = d.planIndex;
        modes.push(d.mode);
      }
      if (broke && resumedPlanIndex >= 0 && d.planIndex === broke.planIndex) closestToBreak = Math.min(closestToBreak, Math.hypot(d.k.pos.x - broke.x, d.k.pos.y - broke.y));
    });
    expect(modes.slice(0, 9)).toEqual(['idle', 'takeoff', 'patrol', 'rth', 'landing', 'landed', 'takeoff', 'patrol', 'rth']);
    // it picks the leg up where it broke it off
    expect(resumedPlanIndex).toBe(broke!.planIndex);
    expect(closestToBreak).toBeLessThan(10);
    expect(d.landings[0]!.battery).toBeGreaterThan(5);
    expect(d.landings[0]!.battery).toBeLessThan(30);
  });

  it('obeys goto, holds there, resumes; rth brings it home to stay until resume', () => {
    const s = scenario(`
name: commands
duration: 40m
drones:
  - { id: d1, cell: LY-C3, start: airborne, hold: 1m, battery: { initialPct: 100 } }
timeline:
  - { at: 10s, command: { drone: d1, send: { cmd: goto, lat: 33.83, lon: 113.905, reason: look } } }
  - { at: 15m, command: { drone: d1, send: { cmd: rth } } }
  - { at: 35m, command: { drone: d1, send: { cmd: resume } } }
`);
    const w = world(s);
    const d = [...w.drones.values()][0]!.sim;
    const target = w.frame.toLocal({ lat: 33.83, lon: 113.905 });
    const seen: Array<[number, string]> = [];
    let closest = Infinity;
    runAll(w, () => {
      if (d.mode === 'goto') closest = Math.min(closest, Math.hypot(d.k.pos.x - target.x, d.k.pos.y - target.y));
      if (seen[seen.length - 1]?.[1] !== d.mode) seen.push([Math.round(w.elapsedMs / 1000), d.mode]);
    });
    expect(closest).toBeLessThan(5);
    const modes = seen.map(([, m]) => m);
    expect(modes).toEqual(['patrol', 'goto', 'patrol', 'rth', 'landing', 'landed', 'takeoff', 'patrol']);
    expect(seen[1]![0]).toBeLessThanOrEqual(11);
    // landed on its dock and stayed there until told to resume
    expect(d.landings).toHaveLength(1);
    expect(d.landings[0]!.atHome).toBe(true);
    expect(seen.find(([, m]) => m === 'takeoff')![0]).toBeGreaterThanOrEqual(35 * 60);
    expect(w.stats.commands).toEqual({ accepted: 3, refused: 0 });
  });

  it('leaves its cell when a scenario makes it drift, and comes back', () => {
    const s = scenario(`
name: drift
duration: 12m
drones:
  - { id: d1, cell: LY-D3, start: airborne, battery: { initialPct: 100 } }
timeline:
  - { at: 1m, driftOut: { drone: d1, distanceM: 500, hold: 30s } }
`);
    const es = runAll(world(s));
    const cells = telemetryOf(es).map((t) => grids.cellAt(t.lat, t.lon));
    const firstOut = cells.findIndex((c) => c !== 'LY-D3');
    expect(firstOut).toBeGreaterThan(55);
    expect(cells.slice(0, 60).every((c) => c === 'LY-D3')).toBe(true);
    expect(cells.filter((c) => c !== 'LY-D3').length).toBeGreaterThan(30);
    expect(cells[cells.length - 1]).toBe('LY-D3');
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DetectionEvent, DeviceStatus, DroneTelemetry, SensorReading } from '../../core/telemetry.js';
import { parseDeviceTopic } from '../../core/topics.js';
import { loadScenario } from '../scenario/load.js';
import { grids, runAll, scenario, START, telemetryOf, world, type Publish } from '../test/helpers.js';
import type { Emission } from './types.js';

const hash = (es: readonly Emission[]) => createHash('sha256').update(es.map((e) => JSON.stringify(e)).join('\n')).digest('hex');
const bundled = (name: string, o: Parameters<typeof loadScenario>[1] = {}) => loadScenario(name, { grids, ...o });

describe('the simulated world', () => {
  it('gives byte-identical output for the same seed, and other output for another', () => {
    for (const name of ['demo', 'faults']) {
      const a = hash(runAll(world(bundled(name))));
      const b = hash(runAll(world(bundled(name))));
      const c = hash(runAll(world(bundled(name, { seed: 99 }))));
      expect(a, name).toBe(b);
      expect(c, name).not.toBe(a);
    }
  });

  it('gives each device its own random stream: another sensor does not change how the drones fly', () => {
    const s = bundled('faults', { faults: {} });
    const drones = (es: Emission[]) => es.filter((e) => e.type === 'publish' && e.kind === 'drone' && e.channel === 'telemetry' && !e.fault);
    const before = hash(drones(runAll(world({ ...s, spec: { ...s.spec, faults: [] } }))));
    const more = { ...s.spec, faults: [], sensors: [...s.spec.sensors, { id: 'extra', cellId: 'LY-A1', metric: 'noise' as const, intervalMs: 1000, qos: 1 as const }] };
    expect(hash(drones(runAll(world({ ...s, spec: more }))))).toBe(before);
  });

  it('publishes only what the contract accepts, on each device\'s own topics, with increasing seqs', () => {
    const s = bundled('demo');
    const es = runAll(world(s));
    const schemas = { telemetry: DroneTelemetry, events: DetectionEvent, readings: SensorReading, status: DeviceStatus } as const;
    const lastSeq = new Map<string, number>();
    let n = 0;
    for (const e of es) {
      if (e.type !== 'publish') continue;
      expect(e.valid).toBe(true);
      const topic = parseDeviceTopic(e.topic)!;
      expect(topic).toMatchObject({ deviceId: e.device, channel: e.channel, kind: e.kind });
      const body = JSON.parse(e.payload) as unknown;
      for (const item of Array.isArray(body) ? body : [body]) {
        const r = schemas[e.channel].safeParse(item);
        expect(r.success, `${e.channel} ${e.payload.slice(0, 200)}`).toBe(true);
        const seq = (item as { seq?: number }).seq;
        if (seq !== undefined) {
          const key = `${e.device}/${e.channel}`;
          expect(seq).toBeGreaterThan(lastSeq.get(key) ?? 0);
          lastSeq.set(key, seq);
        }
        n++;
      }
    }
    expect(n).toBeGreaterThan(3000);
  });

  it('stops publishing during a lost link, and sends what it recorded when the link is back', () => {
    const es = runAll(world(bundled('demo')));
    const d4 = es.filter((e) => e.device === 'drone-ly-d4');
    const down = d4.findIndex((e) => e.type === 'link_down');
    const up = d4.findIndex((e) => e.type === 'link_up');
    expect(up - down).toBe(1); // nothing in between
    expect(d4[up]!.t - d4[down]!.t).toBe(90_000);
    const after = d4.slice(up + 1, up + 3) as Publish[];
    expect(after[0]).toMatchObject({ channel: 'status', retain: true });
    expect(JSON.parse(after[0]!.payload)).toMatchObject({ state: 'online' });
    const backlog = JSON.parse(after[1]!.payload) as DroneTelemetry[];
    expect(backlog.length).toBeGreaterThanOrEqual(89);
    expect(backlog.every((t) => (t.ts as number) >= d4[down]!.t && (t.ts as number) <= d4[up]!.t)).toBe(true);
  });

  it('makes every bad-input kind the way GridPatrol will see it, and counts them', () => {
    const s = bundled('faults');
    const w = world(s);
    const es = runAll(w);
    const faults = es.filter((e) => 'fault' in e && e.fault !== undefined) as Array<Extract<Emission, { fault?: unknown }>>;
    const count = (k: string) => faults.filter((e) => e.fault === k).length;
    for (const k of ['malformed_json', 'schema_violation', 'out_of_range', 'duplicate', 'out_of_order', 'late', 'clock_skew', 'oversize', 'reconnect_storm', 'wrong_credentials', 'foreign_topic']) {
      expect(count(k), k).toBe(2);
      expect(w.faults.sent[k as keyof typeof w.faults.sent], k).toBe(2);
    }
    const schemaOf = (e: Publish) => (e.kind === 'drone' ? DroneTelemetry : SensorReading);
    for (const e of faults) {
      if (e.type !== 'publish') continue;
      const parse = () => JSON.parse(e.payload) as Record<string, unknown>;
      switch (e.fault) {
        case 'malformed_json':
          expect(parse).toThrow();
          break;
        case 'schema_violation':
        case 'out_of_range':
          expect(schemaOf(e).safeParse(parse()).success).toBe(false);
          break;
        case 'late':
          expect(parse().ts as number).toBeLessThan(e.t - s.spec.server.maxAgeMs);
          break;
        case 'clock_skew':
          expect(parse().ts as number).toBeGreaterThan(e.t + s.spec.server.maxFutureMs);
          break;
        case 'oversize':
          expect(e.payload.length).toBeGreaterThan(s.spec.server.maxPayloadBytes);
          break;
        case 'duplicate':
          expect(es.some((x) => x !== e && x.type === 'publish' && x.valid && x.payload === e.payload)).toBe(true);
          break;
        case 'out_of_order': {
          // sent right after the one that follows it
          const i = es.indexOf(e);
          const prev = es[i - 1] as Publish;
          expect(prev.device).toBe(e.device);
          expect((JSON.parse(prev.payload) as { seq: number }).seq).toBe((parse().seq as number) + 1);
          expect(e.valid).toBe(true);
          break;
        }
      }
    }
  });

  it('bursts: a drone publishes faster for a while, then at its own rate again', () => {
    const s = scenario(`
name: burst
duration: 60s
drones: [{ id: d1, cell: LY-C3, start: airborne }]
timeline:
  - { at: 20s, burst: { drones: [d1], telemetryHz: 10, duration: 10s } }
`);
    const ts = telemetryOf(runAll(world(s))).map((t) => (t.ts as number) - START);
    const within = (a: number, b: number) => ts.filter((t) => t >= a && t < b).length;
    expect(within(5_000, 15_000)).toBe(10);
    expect(within(21_000, 29_000)).toBeGreaterThanOrEqual(79);
    expect(within(40_000, 50_000)).toBe(10);
  });

  it('a battery fault sends the drone home (or down where it is) and keeps it on the ground', () => {
    const s = scenario(`
name: fault
duration: 20m
drones: [{ id: d1, cell: LY-C3, start: airborne, battery: { initialPct: 90 } }]
timeline:
  - { at: 1m, batteryFault: { drone: d1, dropPct: 55, drainFactor: 1.5 } }
`);
    const w = world(s);
    const d = [...w.drones.values()][0]!.sim;
    const modes: string[] = [];
    runAll(w, () => {
      if (modes[modes.length - 1] !== d.mode) modes.push(d.mode);
    });
    expect(modes[0]).toBe('patrol');
    expect(['rth', 'emergency']).toContain(modes[1]);
    expect(modes[modes.length - 1]).toBe('landed');
    expect(d.landings).toHaveLength(1);
    expect(d.battery.pct).toBeGreaterThan(0);
  });

  it('flies hours of patrol in a fraction of the time, without a real clock', () => {
    const s = bundled('faults', { durationMs: 6 * 3600_000, faults: {} });
    const t0 = performance.now();
    const w = world({ ...s, spec: { ...s.spec, faults: [], drones: s.spec.drones.slice(0, 1), sensors: [] } }, 200);
    runAll(w);
    expect(w.elapsedMs).toBe(6 * 3600_000);
    expect(performance.now() - t0).toBeLessThan(5000); // typically well under a second
    expect(w.now).toBe(START + 6 * 3600_000);
  });
});

import { describe, expect, it } from 'vitest';
import type { SensorReading } from '../../core/telemetry.js';
import { runAll, scenario, world, type Publish } from '../test/helpers.js';

/** readings per sensor, in order */
function readings(yaml: string): Map<string, SensorReading[]> {
  const out = new Map<string, SensorReading[]>();
  for (const e of runAll(world(scenario(yaml))))
    if (e.type === 'publish' && e.channel === 'readings' && e.valid) {
      const list = out.get(e.device) ?? [];
      list.push(JSON.parse((e as Publish).payload) as SensorReading);
      out.set(e.device, list);
    }
  return out;
}

// a sensor at the fire, one 400 m away, one 5 km away (in another cell)
const sensors = `
sensors:
  - { id: near-smoke, cell: LY-C3, metrics: [smoke], interval: 30s, position: { lat: 33.8240, lon: 113.8870 } }
  - { id: near-temp, cell: LY-C3, metrics: [temperature], interval: 30s, position: { lat: 33.8240, lon: 113.8913 } }
  - { id: far-smoke, cell: LY-C4, metrics: [smoke], interval: 30s, position: { lat: 33.8170, lon: 113.9430 } }
  - { id: river, cell: LY-C3, metrics: [water_level], interval: 1m, position: { lat: 33.8100, lon: 113.8700 } }
`;

describe('fixed sensors', () => {
  it('follow a daily cycle around their baseline, with noise', () => {
    const r = readings(`
name: daily
duration: 1d
start: 2026-06-01T00:00:00+08:00
sensors:
  - { id: t, cell: LY-C3, metrics: [temperature], interval: 10m }
`).get('t')!;
    const at = (hour: number) => r.filter((x) => new Date((x.ts as number) + 8 * 3600_000).getUTCHours() === hour).map((x) => x.value);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(at(15)) - mean(at(3))).toBeGreaterThan(8); // a 6 °C swing each way
    const diffs = r.slice(1).map((x, i) => Math.abs(x.value - r[i]!.value));
    expect(Math.max(...diffs)).toBeLessThan(2.5);
    expect(new Set(r.map((x) => x.value)).size).toBeGreaterThan(50);
    expect(r[0]).toMatchObject({ metric: 'temperature', unit: '°C' });
  });

  it('feel a fire: smoke and temperature rise near it, not far away', () => {
    const calm = readings(`name: calm\nduration: 10m\n${sensors}`);
    const fire = readings(`name: fire\nduration: 10m\n${sensors}
timeline:
  - { at: 1m, incident: { kind: fire, where: { lat: 33.8240, lon: 113.8870 }, rampS: 60 } }
`);
    // the same seed draws the same noise: the difference is the fire's doing alone
    const rise = (id: string) => fire.get(id)!.map((x, i) => x.value - calm.get(id)![i]!.value);
    const smoke = rise('near-smoke');
    expect(smoke.slice(0, 2).every((d) => d === 0)).toBe(true);
    expect(Math.max(...smoke)).toBeGreaterThan(5);
    expect(Math.max(...rise('near-temp'))).toBeGreaterThan(5);
    expect(Math.max(...rise('far-smoke').map(Math.abs))).toBe(0);
    expect(rise('river').every((d) => d === 0)).toBe(true);
  });

  it('feel a flood: water rises at its rate while it lasts and falls back after', () => {
    const r = readings(`name: flood\nduration: 2h\n${sensors}
timeline:
  - { at: 10m, incident: { id: f, kind: flood, where: { lat: 33.8100, lon: 113.8700 }, riseMPerH: 1.2 } }
  - { at: 70m, endIncident: f }
`).get('river')!;
    const at = (min: number) => r[min]!.value; // one a minute
    expect(Math.abs(at(9) - at(2))).toBeLessThan(0.05);
    // an hour at 1.2 m/h, right at the centre
    expect(at(70) - at(9)).toBeGreaterThan(1.1);
    expect(at(70) - at(9)).toBeLessThan(1.3);
    expect(at(40) - at(9)).toBeCloseTo(0.6, 1);
    // afterwards it recedes, at half the rate
    expect(at(110)).toBeLessThan(at(71) - 0.3);
  });

  it('go silent or get stuck when the scenario says', () => {
    const r = readings(`name: broken\nduration: 20m\n${sensors}
timeline:
  - { at: 2m, sensorSilent: { sensor: near-smoke, duration: 5m } }
  - { at: 2m, sensorStuck: { sensor: near-temp, duration: 10m } }
`);
    const smokeTimes = r.get('near-smoke')!.map((x) => x.ts as number);
    const gaps = smokeTimes.slice(1).map((t, i) => t - smokeTimes[i]!);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(5 * 60_000);
    expect(smokeTimes.length).toBeLessThan(40);
    const temps = r.get('near-temp')!.map((x) => x.value);
    const stuck = temps.slice(5, 23);
    expect(new Set(stuck).size).toBe(1);
    expect(new Set(temps.slice(25)).size).toBeGreaterThan(3);
  });
});

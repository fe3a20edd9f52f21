import { describe, expect, it } from 'vitest';
import { grids, scenario } from '../test/helpers.js';
import { bundledScenarios, loadScenario, ScenarioError } from './load.js';

/** the problems of a scenario text, as `line: message` */
function problems(yaml: string): string[] {
  try {
    scenario(yaml);
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    return err.issues.map((i) => `${i.line}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
  }
  return [];
}

describe('scenario files', () => {
  it('the bundled ones are valid', () => {
    expect([...bundledScenarios().keys()]).toEqual(['demo', 'faults', 'load']);
    for (const name of bundledScenarios().keys()) expect(() => loadScenario(name, { grids }), name).not.toThrow();
  });

  it('name the line of every schema problem', () => {
    const p = problems(`name: broken
duration: 10 minutes
drones:
  - id: d1
    cell: LY-C3
    cruiseMs: 30
    colour: red
sensors:
  - { cell: LY-C3, metrics: [smoke, radon] }
timeline:
  - at: 1m
    lostLink: { drone: d1 }
    driftOut: { drone: d1 }
  - at: 2m
    inject: { bit_flip: 3 }
faults:
  duplicate: { rate: 0.1, count: 3 }
`);
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^2: duration: a duration such as 30s/),
        expect.stringMatching(/^6: drones\[0\]\.cruiseMs: a patrol cruises at 6 to 15 m\/s/),
        expect.stringMatching(/^7: drones\[0\]\.colour: unknown key "colour"/),
        expect.stringMatching(/^9: sensors\[0\]\.metrics\[1\]: /),
        expect.stringMatching(/^11: timeline\[0\]: a timeline entry does one thing.*got lostLink, driftOut/),
        expect.stringMatching(/^15: timeline\[1\]\.inject\.bit_flip: /),
        expect.stringMatching(/^17: faults\.duplicate: give exactly one of count, every, rate/),
      ]),
    );
    expect(p).toHaveLength(7);
  });

  it('name the line of references to cells, devices and incidents that do not exist', () => {
    const p = problems(`name: refs
duration: 5m
drones:
  - { id: d1, cell: LY-Z9 }
  - { cells: [LY-C3, LY-Q1] }
sensors:
  - { id: d1, cell: LY-C3, metrics: [smoke] }
timeline:
  - { at: 1m, lostLink: { drone: d7 } }
  - { at: 2m, endIncident: fire-9 }
  - { at: 3m, incident: { kind: fire, where: { nearSensor: s-nowhere } } }
  - { at: 9m, sensorSilent: { sensor: d1 } }
`);
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^4: drones\[0\]\.cell: no grid cell "LY-Z9"/),
        expect.stringMatching(/^5: drones\[1\]\.cells\[1\]: no grid cell "LY-Q1"/),
        expect.stringMatching(/^7: sensors\[0\]\.id: device id "d1" is used twice/),
        expect.stringMatching(/^9: timeline\[0\]\.lostLink\.drone: no drone "d7"/),
        expect.stringMatching(/^10: timeline\[1\]\.endIncident: no incident "fire-9"/),
        expect.stringMatching(/^11: timeline\[2\]\.incident\.where\.nearSensor: no sensor "s-nowhere"/),
        expect.stringMatching(/^12: timeline\[3\]\.at: at 9m is after the end of the run/),
      ]),
    );
  });

  it('name the line of a YAML syntax error', () => {
    expect(problems('name: x\nduration: 5m\ndrones:\n  - id: d1\n   cell: LY-C3\n')).toEqual([expect.stringMatching(/^5: /)]);
    expect(problems('name: x\nname: y\nduration: 5m\n')).toEqual([expect.stringMatching(/^2: .*[Mm]ap keys must be unique/)]);
  });

  it('fill in defaults and expand groups', () => {
    const s = scenario(`name: groups
duration: 1m
defaults: { drone: { cruiseMs: 10 } }
drones:
  - { cells: [LY-A1, LY-A2], perCell: 2 }
  - { id: solo, cell: LY-B1, cruiseMs: 14 }
sensors:
  - { cells: [LY-A1], metrics: [smoke, water_level], interval: 10s }
`, { prefix: 'run2-' });
    expect(s.spec.drones.map((d) => [d.id, d.cellId, d.cruiseMs])).toEqual([
      ['run2-drone-ly-a1-1', 'LY-A1', 10], ['run2-drone-ly-a1-2', 'LY-A1', 10], ['run2-drone-ly-a2-1', 'LY-A2', 10], ['run2-drone-ly-a2-2', 'LY-A2', 10], ['run2-solo', 'LY-B1', 14],
    ]);
    expect(s.spec.drones[0]).toMatchObject({ altitudeM: 100, telemetryHz: 1, qos: 1, trackSpacingM: 119, battery: { marginPct: 10 } });
    expect(s.devices.filter((d) => d.kind === 'sensor')).toEqual([
      { id: 'run2-s-ly-a1-smoke', kind: 'sensor', gridId: 'LY-A1' },
      { id: 'run2-s-ly-a1-water_level', kind: 'sensor', gridId: 'LY-A1' },
    ]);
    expect(s.spec.sensors[0]!.intervalMs).toBe(10_000);
  });

  it('read compound durations: 2m30s', () => {
    const s = scenario('name: t\nduration: 1h5m\ndrones: [{ id: d, cell: LY-C3 }]\ntimeline:\n  - { at: 2m30s, batteryFault: { drone: d, dropPct: 20 } }\n');
    expect(s.spec.durationMs).toBe(65 * 60_000);
    expect(s.spec.timeline[0]).toMatchObject({ atMs: 150_000, type: 'battery_fault', dropPct: 20 });
  });
});

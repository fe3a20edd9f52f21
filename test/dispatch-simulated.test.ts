import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../core/alerts.js';
import { runScenario } from '../simulators/run/runner.js';
import { parseScenario } from '../simulators/scenario/load.js';
import { ADMIN_TOKEN, eventually, startInProcess } from './helpers/gridpatrol.js';

/**
 * The verification loop with the simulators and the bundled rules: a fire raises a sensor's smoke
 * reading, the critical alarm sends the nearest drone a `goto`, the simulated drone flies there,
 * its camera sees the fire and its detection becomes the alarm's evidence — within the flight time.
 */
describe('verification dispatch with simulated drones', () => {
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  afterAll(() => gp?.stop());

  it('confirms a sensor smoke alarm by a drone detection', async () => {
    gp = await startInProcess();
    const scenario = parseScenario(`
name: dispatch-loop
seed: 7
duration: 6m
defaults:
  drone: { start: airborne, altitudeM: 90, cruiseMs: 12, telemetryHz: 1, battery: { initialPct: 95 } }
  sensor: { interval: 2s }
drones:
  - { id: dl-d1, cell: LY-C3 }
  - { id: dl-d2, cell: LY-D4 }
sensors:
  - { id: dl-smoke, cell: LY-C3, metrics: [smoke], position: { lat: 33.81, lon: 113.88 } }
timeline:
  - { at: 20s, incident: { id: fire-1, kind: fire, where: { nearSensor: dl-smoke, offsetM: [40, 30] } } }
`, 'dispatch-loop.yaml');
    const url = `http://127.0.0.1:${gp.ports.httpPort}`;
    let confirmed: Alert | undefined;
    let checking = false;
    const run = runScenario({
      scenario, url, mqttUrl: `mqtt://127.0.0.1:${gp.ports.mqttPort}`, token: ADMIN_TOKEN, speed: 10,
      onProgress: ({ phase }) => {
        if (phase !== 'running' || checking || confirmed) return;
        checking = true;
        void gp.http('GET', '/api/v1/alerts?severity=critical').then((r) => {
          checking = false;
          confirmed = (r.json.items as Alert[]).find((a) => a.entityId === 'dl-smoke' && a.evidence.some((e) => e.kind === 'detection'));
        });
      },
    });
    const summary = await run;
    expect(summary.errors.count).toBe(0);
    const alert = confirmed ?? (await eventually(async () => ((await gp.http('GET', '/api/v1/alerts?severity=critical')).json.items as Alert[]).find((a) => a.entityId === 'dl-smoke' && a.evidence.some((e) => e.kind === 'detection')), 10_000));
    expect(alert).toMatchObject({ ruleId: 'sensor-smoke', severity: 'critical', gridId: 'LY-C3' });
    const kinds = alert.evidence.map((e) => e.kind);
    expect(kinds[0]).toBe('dispatch');
    expect(kinds).toContain('detection');
    const dispatch = alert.evidence[0]!;
    expect(dispatch.data).toMatchObject({ droneId: 'dl-d1', lat: 33.81, lon: 113.88 }); // the nearer drone, to the sensor
    expect(alert.evidence.find((e) => e.kind === 'detection')!.summary).toMatch(/dl-d1 saw fire|dl-d1 saw smoke/);
    expect(summary.commands.accepted).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

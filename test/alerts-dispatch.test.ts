import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../core/alerts.js';
import type { DroneCommand } from '../core/telemetry.js';
import { topics } from '../core/topics.js';
import { Collector, openSse, ScriptedDevice, type SseStream } from './helpers/alerts.js';
import { connectMqtt, startInProcess, type Http } from './helpers/gridpatrol.js';

/**
 * Verification dispatch with the bundled rules: a sensor registered at a position raises a
 * critical smoke alarm; GridPatrol sends the nearest available drone (connected with mqtt.js,
 * subscribed to its own commands topic) a `goto` to the sensor; the drone flies there, reports
 * its position and a smoke detection, and the alert's evidence tells the story.
 */
const SENSOR = { lat: 33.82, lon: 113.88 }; // in LY-C3
const SENSOR_2 = { lat: 33.83, lon: 113.885 };

interface ScriptedDrone {
  device: ScriptedDevice;
  commands: Collector<DroneCommand>;
}

describe('verification dispatch', () => {
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  let h: Http;
  let sse: SseStream;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    gp = await startInProcess();
    h = gp.http;
    sse = await openSse(gp.ports.httpPort);
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    sse?.close();
    await gp?.stop();
  });

  async function register(body: Record<string, unknown>): Promise<string> {
    const r = await h('POST', '/api/v1/devices', body);
    expect(r.status).toBe(201);
    return r.json.password;
  }

  /** A drone on patrol: online, subscribed to its commands, one telemetry at `at`. */
  async function drone(id: string, at: { lat: number; lon: number }, battery: number): Promise<ScriptedDrone> {
    const client = await connectMqtt(gp.ports.mqttPort, id, await register({ id, kind: 'drone', gridId: 'LY-C3' }));
    clients.push(client);
    const commands = new Collector<DroneCommand>();
    client.on('message', (topic, payload) => {
      if (topic === topics.droneCommands(id)) commands.push(JSON.parse(payload.toString()) as DroneCommand);
    });
    await client.subscribeAsync(topics.droneCommands(id), { qos: 1 });
    const device = new ScriptedDevice(id, 'drone', client, 60_000);
    await device.status('online');
    await device.telemetry({ ...at, battery, mode: 'patrol' });
    return { device, commands };
  }

  async function sensor(id: string, at: { lat: number; lon: number }): Promise<ScriptedDevice> {
    const client = await connectMqtt(gp.ports.mqttPort, id, await register({ id, kind: 'sensor', gridId: 'LY-C3', ...at }));
    clients.push(client);
    return new ScriptedDevice(id, 'sensor', client, 60_000);
  }

  /** The bundled sensor-smoke rule: above 8 %/m for 10 s over at least 2 samples. */
  async function smokeAlarm(s: ScriptedDevice): Promise<Alert> {
    await s.reading('smoke', 9.5, { unit: '%/m' }, 0);
    await s.reading('smoke', 10.2, { unit: '%/m' }, 5000);
    await s.reading('smoke', 11, { unit: '%/m' }, 6000);
    return (await sse.events.waitFor((e) => e.alert.entityId === s.id && e.transition.kind === 'open', `the smoke alarm of ${s.id}`)).alert;
  }

  const evidenceOf = async (id: string) => ((await h('GET', `/api/v1/alerts/${id}`)).json as Alert).evidence;

  it('sends the nearest available drone to a critical smoke alarm and attaches dispatch, arrival and detection as evidence', async () => {
    const near = await drone('uav-near', { lat: 33.823, lon: 113.884 }, 80); // ~500 m
    const low = await drone('uav-low', { lat: 33.8205, lon: 113.8805 }, 30); // nearest, but below the 40 % dispatch minimum
    const far = await drone('uav-far', { lat: 33.845, lon: 113.9 }, 90); // ~3 km

    const alarm = await smokeAlarm(await sensor('smoke-7', SENSOR));
    expect(alarm).toMatchObject({ ruleId: 'sensor-smoke', severity: 'critical', entityKind: 'sensor', gridId: 'LY-C3', values: { metric: 'smoke', value: 11 } });
    expect(Date.parse(alarm.responseDueAt) - Date.parse(alarm.openedAt)).toBe(5 * 60_000);
    expect(Date.parse(alarm.disposalDueAt) - Date.parse(alarm.openedAt)).toBe(4 * 3_600_000);

    const goto = await near.commands.waitFor((c) => c.cmd === 'goto', 'a goto for uav-near');
    expect(goto).toMatchObject({ cmd: 'goto', ...SENSOR });
    expect(goto.cmd === 'goto' && goto.reason).toContain(alarm.id);
    const dispatched = await sse.events.waitFor((e) => e.alert.id === alarm.id && e.transition.kind === 'evidence', 'the dispatch evidence on SSE');
    expect(dispatched.transition.note).toMatch(/^dispatch: uav-near sent to verify, \d+ m away$/);
    expect(dispatched.alert.evidence).toEqual([expect.objectContaining({ kind: 'dispatch', data: expect.objectContaining({ droneId: 'uav-near', ...SENSOR }) })]);

    // a second alarm while uav-near is on its way: the next available drone goes
    const second = await smokeAlarm(await sensor('smoke-8', SENSOR_2));
    expect(await far.commands.waitFor((c) => c.cmd === 'goto', 'a goto for uav-far')).toMatchObject(SENSOR_2);
    expect((await evidenceOf(second.id))[0]).toMatchObject({ kind: 'dispatch', data: { droneId: 'uav-far' } });

    // uav-near flies there (obeying the goto), reports its position, then what its camera sees
    await near.device.telemetry({ lat: 33.8215, lon: 113.882, mode: 'goto', battery: 79 }, 30_000);
    expect((await evidenceOf(alarm.id)).map((e) => e.kind)).toEqual(['dispatch']);
    await near.device.telemetry({ lat: SENSOR.lat + 0.0002, lon: SENSOR.lon, mode: 'goto', battery: 78 }, 30_000);
    await near.device.event('smoke', 0.86, { ...SENSOR, imageUrl: 'https://example.org/smoke-7.jpg' }, 5000);

    const confirmed = await sse.events.waitFor((e) => e.alert.id === alarm.id && e.alert.evidence.length === 3, 'the detection evidence on SSE');
    expect(confirmed.alert.evidence.map((e) => e.kind)).toEqual(['dispatch', 'arrival', 'detection']);
    expect(confirmed.alert.evidence[1]).toMatchObject({ summary: 'uav-near arrived at the sensor', data: { droneId: 'uav-near' } });
    expect(confirmed.alert.evidence[2]).toMatchObject({ summary: 'uav-near saw smoke (confidence 0.86)', data: { droneId: 'uav-near', kind: 'smoke', confidence: 0.86, imageUrl: 'https://example.org/smoke-7.jpg' } });
    expect((await h('GET', `/api/v1/alerts/${alarm.id}/history`)).json.items.map((t: { kind: string }) => t.kind)).toEqual(['open', 'evidence', 'evidence', 'evidence']);
    // the drone's own detection is an alert of its own too (bundled detect-smoke)
    expect((await sse.events.waitFor((e) => e.alert.entityId === 'uav-near' && e.transition.kind === 'open', "uav-near's detection alert")).alert).toMatchObject({ ruleId: 'detect-smoke', severity: 'warning' });

    expect(low.commands.items).toEqual([]);
    expect(near.commands.items).toHaveLength(1);
  });

  it('lists the bundled rules in force', async () => {
    const r = await h('GET', '/api/v1/rules');
    expect(r.status).toBe(200);
    expect(r.json.items.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining(['sensor-smoke', 'detect-fire', 'drone-lost-link', 'river-rise', 'sensor-stuck']));
    expect(r.json.deadlines).toEqual({ critical: { response: 300_000, disposal: 14_400_000 }, warning: { response: 900_000, disposal: 86_400_000 }, info: { response: 3_600_000, disposal: 259_200_000 } });
  });
});

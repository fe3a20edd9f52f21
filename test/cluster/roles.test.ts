import type { ChildProcess } from 'node:child_process';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_USERNAME } from '../../core/principal.js';
import { topics } from '../../core/topics.js';
import { subscribeAlerts } from '../helpers/alerts.js';
import { ADMIN_TOKEN, connectMqtt, eventually, registerDevice, spawnGridPatrol, telemetry, testEnv } from '../helpers/gridpatrol.js';
import { startInfluxd, stopProcess, type Influxd } from '../helpers/influxd.js';
import { writeRulesFile } from '../helpers/alerts.js';
import { publishReplay, registerReplayDevices, scenarioReplay } from '../helpers/scenario-replay.js';
import { CLUSTER_RULES, CLUSTER_SCENARIO, expectedPerDevice, waitForStored } from './cluster-kit.js';

/** The cluster rules and two driven by the server clock, for this file's own devices only. */
const ROLE_RULES = `${CLUSTER_RULES.trimEnd()}
  - { id: split-link, kind: lost_link, severity: critical, appliesTo: { kind: drone, devices: [split-ll] }, after: 1s }
  - { id: split-quiet, kind: sensor_silent, severity: warning, appliesTo: { devices: [split-quiet] }, factor: 3, minSilence: 1s }
`;

/**
 * Issue 9, item 1: `broker`, `ingest` and `api` as three GridPatrol processes on one data folder
 * and one real influxd. Devices talk to the broker only; the ingest worker stores what they
 * publish; the api raises alerts and publishes them through the broker as a service.
 */
describe('GridPatrol split into broker, ingest and api processes', () => {
  let influxd: Influxd;
  let rules: ReturnType<typeof writeRulesFile>;
  const children: ChildProcess[] = [];
  let env: Record<string, string>;
  let broker: Awaited<ReturnType<typeof spawnGridPatrol>>;
  let api: Awaited<ReturnType<typeof spawnGridPatrol>>;

  beforeAll(async () => {
    influxd = await startInfluxd();
    rules = writeRulesFile(ROLE_RULES);
    env = testEnv({ GRIDPATROL_INFLUX_URL: influxd.url, GRIDPATROL_RULES_FILE: rules.path, GRIDPATROL_MAX_MSGS_PER_SEC: '100000' });
    broker = await spawnGridPatrol({ ...env, GRIDPATROL_NODE_ID: 'broker-1' }, { role: 'broker' });
    children.push(broker.child);
    api = await spawnGridPatrol({ ...env, GRIDPATROL_NODE_ID: 'api-1', GRIDPATROL_MQTT_URL: `mqtt://127.0.0.1:${broker.ports.mqttPort}` }, { role: 'api' });
    children.push(api.child);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => stopProcess(c)));
    await influxd?.stop();
    rules?.remove();
  });

  it('stores everything acknowledged exactly once across a kill -9 of the ingest worker, keeps dead letters and raises alerts through the api', async () => {
    const replay = scenarioReplay(CLUSTER_SCENARIO, Date.now() - 10 * 60_000);
    const worker = () => spawnGridPatrol({ ...env, GRIDPATROL_NODE_ID: 'ingest-1', GRIDPATROL_MQTT_URL: `mqtt://127.0.0.1:${broker.ports.mqttPort}` }, { role: 'ingest' });
    const first = await worker();
    children.push(first.child);
    const officer = await subscribeAlerts(broker.ports.mqttPort);
    const passwords = await registerReplayDevices(api.http, replay);

    let killedAt = 0;
    await publishReplay(`mqtt://127.0.0.1:${broker.ports.mqttPort}`, replay, {
      passwords,
      onProgress: (n) => {
        if (n >= replay.publishes.length / 3 && !killedAt) {
          killedAt = n;
          first.child.kill('SIGKILL');
        }
      },
    });
    expect(killedAt).toBeGreaterThan(0);
    await first.exited;
    // what arrived meanwhile waited in the worker's session at the broker
    const second = await worker();
    children.push(second.child);

    expect(await waitForStored(influxd.url, 'gridpatrol', replay)).toEqual(expectedPerDevice(replay));
    const dead = await eventually(async () => {
      const r = await api.http('GET', '/api/v1/dead-letters?limit=100');
      return r.json.items.length >= 3 && (r.json.items as Array<{ stage: string; deviceId: string }>);
    });
    expect(dead.map((d) => d.stage)).toEqual(['decode', 'decode', 'decode']);

    // the drifting drone and the fire near the smoke sensor, through the api and on the broker's alert topics
    const alerts = await eventually(async () => {
      const r = await api.http('GET', '/api/v1/alerts?state=open&limit=100');
      const keys = (r.json.items as Array<{ ruleId: string; entityId: string }>).map((a) => `${a.ruleId} ${a.entityId}`);
      return keys.includes('drone-left-cell drone-ly-c4') && keys.includes('sensor-smoke s-ly-c3-smoke') && keys;
    });
    for (const key of ['drone-left-cell drone-ly-c4', 'sensor-smoke s-ly-c3-smoke'])
      await officer.messages.waitFor((m) => `${m.alert.ruleId} ${m.alert.entityId}` === key, key);
    expect(alerts.length).toBeGreaterThan(2);
    officer.client.end(true);

    const ready = await api.http('GET', '/readyz', undefined, null);
    expect(ready.json.checks.broker).toMatchObject({ ok: true });
  }, 180_000);

  it('raises and clears the rules driven by the server clock in the api: a drone whose link died, a silent sensor', async () => {
    const alertOf = async (ruleId: string, entityId: string) => {
      const r = await api.http('GET', '/api/v1/alerts?limit=100');
      return (r.json.items as Array<{ ruleId: string; entityId: string; state: string; values: Record<string, unknown> }>).find((a) => a.ruleId === ruleId && a.entityId === entityId);
    };
    const dronePassword = await registerDevice(api.http, 'split-ll', 'drone', 'LY-C4');
    const drone = await connectMqtt(broker.ports.mqttPort, 'split-ll', dronePassword, {
      clientId: 'split-ll', will: { topic: topics.droneStatus('split-ll'), payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
    });
    for (let seq = 1; seq <= 3; seq++) await drone.publishAsync(topics.droneTelemetry('split-ll'), JSON.stringify(telemetry(seq, { ts: Date.now() })), { qos: 1 });
    (drone.stream as unknown as { destroy(): void }).destroy(); // the link dies: the broker publishes the will
    // the api sees the will as an ordinary offline status, so the deadman (after: 1s) raises it
    const lost = await eventually(async () => {
      const a = await alertOf('split-link', 'split-ll');
      return a?.state === 'open' && a;
    }, 15_000, 200);
    expect(lost.values).toMatchObject({ mode: 'patrol' });
    const back = await connectMqtt(broker.ports.mqttPort, 'split-ll', dronePassword, { clientId: 'split-ll' });
    await back.publishAsync(topics.droneTelemetry('split-ll'), JSON.stringify(telemetry(4, { ts: Date.now() })), { qos: 1 });
    await eventually(async () => (await alertOf('split-link', 'split-ll'))?.state === 'resolved', 15_000, 200);
    back.end(true);

    const sensorPassword = await registerDevice(api.http, 'split-quiet', 'sensor', 'LY-C4');
    const sensor = await connectMqtt(broker.ports.mqttPort, 'split-quiet', sensorPassword, { clientId: 'split-quiet' });
    const reading = (value: number) => sensor.publishAsync(topics.sensorReadings('split-quiet'), JSON.stringify({ ts: Date.now(), metric: 'temperature', value, unit: '°C' }), { qos: 1 });
    for (let i = 0; i < 4; i++) {
      await reading(21 + i);
      await new Promise((r) => setTimeout(r, 200));
    }
    const quiet = await eventually(async () => {
      const a = await alertOf('split-quiet', 'split-quiet');
      return a?.state === 'open' && a;
    }, 15_000, 200);
    expect(quiet.values).toMatchObject({ factor: 3, limitS: 1 });
    await reading(25);
    await eventually(async () => (await alertOf('split-quiet', 'split-quiet'))?.state === 'resolved', 15_000, 200);
    sensor.end(true);
  }, 60_000);

  it('disconnects a device disabled or rotated through the api from the separate broker, and refuses its old credentials there', async () => {
    const id = 'drone-revoked';
    const password = await registerDevice(api.http, id, 'drone', 'LY-C3');
    const connectOnce = (pw: string) => new Promise<string>((resolve) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${broker.ports.mqttPort}`, { username: id, password: pw, clientId: id, reconnectPeriod: 0, connectTimeout: 5000 });
      c.once('error', (err) => (c.end(true), resolve(err.message)));
      c.once('connect', () => (c.end(true), resolve('connected')));
    });
    const closedBy = async (action: () => Promise<unknown>, pw: string) => {
      const device = await connectMqtt(broker.ports.mqttPort, id, pw, { clientId: id });
      const closed = new Promise<number>((resolve) => device.once('close', () => resolve(performance.now())));
      const t0 = performance.now();
      await action();
      const ms = (await closed) - t0;
      device.end(true);
      return ms;
    };

    const disabledMs = await closedBy(async () => expect((await api.http('POST', `/api/v1/devices/${id}/disable`)).status).toBe(200), password);
    expect(disabledMs).toBeLessThan(5000); // the broker polls revocations every second
    expect(await connectOnce(password)).toMatch(/Not authorized|Bad username or password/);

    expect((await api.http('POST', `/api/v1/devices/${id}/enable`)).status).toBe(200);
    await eventually(async () => (await connectOnce(password)) === 'connected', 10_000, 200);
    let rotated = '';
    const rotatedMs = await closedBy(async () => {
      const r = await api.http('POST', `/api/v1/devices/${id}/rotate`);
      expect(r.status).toBe(200);
      rotated = r.json.password;
    }, password);
    expect(rotatedMs).toBeLessThan(5000);
    expect(await connectOnce(password)).toMatch(/Bad username or password|Not authorized/);
    expect(await connectOnce(rotated)).toBe('connected');
    console.log(`device revoked through the api process: disconnected from the broker process ${Math.round(disabledMs)} ms after disable, ${Math.round(rotatedMs)} ms after rotate`);
  }, 60_000);

  it('lets only GridPatrol’s own processes in as the service principal, and keeps devices and people off the alert topics', async () => {
    const url = `mqtt://127.0.0.1:${broker.ports.mqttPort}`;
    const refused = await new Promise<string>((resolve) => {
      const c = mqtt.connect(url, { username: SERVICE_USERNAME, password: 'not-the-admin-token', reconnectPeriod: 0 });
      c.once('error', (err) => (c.end(true), resolve(err.message)));
      c.once('connect', () => (c.end(true), resolve('connected')));
    });
    expect(refused).toMatch(/Bad username or password/);

    // an admin's app may publish drone commands, never an alert: the broker closes the connection
    const person = await connectMqtt(broker.ports.mqttPort, 'token', ADMIN_TOKEN);
    const closed = new Promise<void>((resolve) => person.once('close', () => resolve()));
    person.publish(topics.alerts('LY-C3', 'critical'), JSON.stringify({ fake: true }), { qos: 1 });
    await closed;
    person.end(true);

    // the service may: the api publishes alerts exactly so
    const service = await connectMqtt(broker.ports.mqttPort, SERVICE_USERNAME, ADMIN_TOKEN, { clientId: 'test-service' });
    await service.publishAsync(topics.alerts('LY-C3', 'critical'), JSON.stringify({ test: true }), { qos: 1 });
    const granted = await service.subscribeAsync('$share/g/gridpatrol/v1/drones/+/telemetry', { qos: 1 });
    expect(granted[0]!.qos).not.toBe(128);
    service.end(true);
  }, 30_000);
});

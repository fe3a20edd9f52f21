import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topics } from '../core/topics.js';
import { closed, counted, startKit, subscribeGranted, type Kit } from './test-kit.js';

const status = JSON.stringify({ state: 'online' });

describe('broker: who may connect', () => {
  let kit: Kit;
  beforeEach(async () => {
    kit = await startKit();
  });
  afterEach(() => kit.close());

  const refusal = (opts: Parameters<Kit['connect']>[0]) => kit.connect(opts).then(() => null, (err: { code?: number }) => err.code);

  it('lets a device in with its password, over TCP', async () => {
    const password = await kit.register('drone-1');
    const client = await kit.connect({ username: 'drone-1', password });
    expect(client.connected).toBe(true);
    expect(await kit.metrics.mqttConnections.get()).toMatchObject({ values: [{ value: 1 }] });
  });

  it('lets a device in over WebSocket at /mqtt, and its publish reaches ingest', async () => {
    const password = await kit.register('drone-ws');
    const client = await kit.connect({ username: 'drone-ws', password }, kit.wsUrl);
    await client.publishAsync(topics.droneStatus('drone-ws'), status, { qos: 1 });
    expect(kit.received).toMatchObject([{ deviceId: 'drone-ws', kind: 'drone', channel: 'status', qos: 1, isWill: false }]);
  });

  it('refuses a wrong password, an unknown id and a disabled device, and counts them', async () => {
    const password = await kit.register('drone-1');
    await kit.register('drone-off');
    const offPassword = await kit.devices.rotate('drone-off');
    kit.devices.setDisabled('drone-off', true);

    expect(await refusal({ username: 'drone-1', password: password + 'x' })).toBe(4);
    expect(await refusal({ username: 'ghost', password })).toBe(4);
    expect(await refusal({ username: 'drone-off', password: offPassword })).toBe(5);
    expect(await refusal({ username: 'not a valid id', password })).toBe(4);
    expect(await refusal({ username: 'token', password: 'no-such-token' })).toBe(4);
    expect(await refusal({})).toBe(4);

    const refused = (reason: string) => counted(kit.metrics.mqttRefused, { action: 'connect', reason });
    expect(await refused('bad_password')).toBe(1);
    expect(await refused('unknown_device')).toBe(1);
    expect(await refused('disabled')).toBe(1);
    expect(await refused('bad_username')).toBe(1);
    expect(await refused('bad_token')).toBe(1);
    expect(await refused('no_credentials')).toBe(1);
  });

  it('refuses a will that is not the device\'s own status topic', async () => {
    const password = await kit.register('drone-1');
    const will = { topic: topics.droneStatus('drone-2'), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true };
    expect(await refusal({ username: 'drone-1', password, will })).toBe(5);
    expect(await refusal({ username: 'drone-1', password, will: { ...will, topic: topics.droneTelemetry('drone-1') } })).toBe(5);
    expect(await counted(kit.metrics.mqttRefused, { action: 'connect', reason: 'will_topic' })).toBe(2);
  });

  it('refuses a client id held by another principal, but lets the same device take its session over', async () => {
    const p1 = await kit.register('drone-1');
    const p2 = await kit.register('drone-2');
    const first = await kit.connect({ username: 'drone-1', password: p1, clientId: 'shared-id' });
    expect(await refusal({ username: 'drone-2', password: p2, clientId: 'shared-id' })).toBe(2);
    expect(first.connected).toBe(true);
    const firstGone = closed(first);
    await kit.connect({ username: 'drone-1', password: p1, clientId: 'shared-id' });
    await firstGone;
  });

  it('closes a device\'s connections when its password is rotated or it is disabled', async () => {
    const password = await kit.register('drone-1');
    const client = await kit.connect({ username: 'drone-1', password });
    const gone = closed(client);
    await kit.devices.rotate('drone-1');
    await gone;
    expect(await refusal({ username: 'drone-1', password })).toBe(4);
  });
});

describe('broker: who may publish and subscribe to what', () => {
  let kit: Kit;
  beforeEach(async () => {
    kit = await startKit();
  });
  afterEach(() => kit.close());

  it('closes a device that publishes under another device\'s id, without ingesting it', async () => {
    const password = await kit.register('drone-1');
    await kit.register('drone-2');
    const client = await kit.connect({ username: 'drone-1', password });
    const gone = closed(client);
    client.publish(topics.droneTelemetry('drone-2'), '{}', { qos: 1 });
    await gone;
    expect(kit.received).toEqual([]);
    expect(await counted(kit.metrics.mqttRefused, { action: 'publish', reason: 'foreign_device' })).toBe(1);
  });

  it('closes a device that publishes commands, or a sensor channel as a drone', async () => {
    const password = await kit.register('drone-1');
    for (const topic of [topics.droneCommands('drone-1'), topics.sensorReadings('drone-1'), '$SYS/x', 'elsewhere']) {
      const client = await kit.connect({ username: 'drone-1', password });
      const gone = closed(client);
      client.publish(topic, '{"cmd":"rth"}', { qos: 0 });
      await gone;
    }
    expect(kit.received).toEqual([]);
    expect(await counted(kit.metrics.mqttRefused, { action: 'publish', reason: 'channel' })).toBe(1);
    expect(await counted(kit.metrics.mqttRefused, { action: 'publish', reason: 'foreign_device' })).toBe(1);
    expect(await counted(kit.metrics.mqttRefused, { action: 'publish', reason: 'sys' })).toBe(1);
    expect(await counted(kit.metrics.mqttRefused, { action: 'publish', reason: 'topic' })).toBe(1);
  });

  it('grants a drone its own commands only (suback 128 for the rest) and keeps it connected', async () => {
    const password = await kit.register('drone-1');
    const sensorPassword = await kit.register('sensor-1', 'sensor');
    const drone = await kit.connect({ username: 'drone-1', password });
    const granted = await subscribeGranted(drone, [topics.droneCommands('drone-1'), topics.droneCommands('drone-2'), 'gridpatrol/v1/drones/+/commands', topics.droneTelemetry('drone-1'), '#']);
    expect(granted).toEqual([1, 128, 128, 128, 128]);
    const sensor = await kit.connect({ username: 'sensor-1', password: sensorPassword });
    expect(await subscribeGranted(sensor, [topics.droneCommands('sensor-1')])).toEqual([128]);
    expect(drone.connected).toBe(true);
    expect(await counted(kit.metrics.mqttRefused, { action: 'subscribe', reason: 'foreign_topic' })).toBe(5);
  });

  it('delivers an admin\'s command to the drone, and refuses commands from other roles', async () => {
    const password = await kit.register('drone-1');
    const drone = await kit.connect({ username: 'drone-1', password });
    expect(await subscribeGranted(drone, [topics.droneCommands('drone-1')])).toEqual([1]);
    const got = new Promise<string>((resolve) => drone.once('message', (_t, payload) => resolve(payload.toString())));

    const admin = await kit.connect({ username: 'token', password: 'admin-token' });
    await admin.publishAsync(topics.droneCommands('drone-1'), '{"cmd":"rth"}', { qos: 1 });
    expect(JSON.parse(await got)).toEqual({ cmd: 'rth' });
    expect(kit.received).toEqual([]);

    const operator = await kit.connect({ username: 'token', password: 'operator-token' });
    const gone = closed(operator);
    operator.publish(topics.droneCommands('drone-1'), '{"cmd":"rth"}', { qos: 1 });
    await gone;
    expect(await counted(kit.metrics.mqttRefused, { action: 'publish', reason: 'role' })).toBe(1);
  });

  it('confines an officer to the alert topics of their cells', async () => {
    const officer = await kit.connect({ username: 'token', password: 'officer-a-token' });
    const alerts = ['gridpatrol/v1/alerts/A/high', 'gridpatrol/v1/alerts/A/#', 'gridpatrol/v1/alerts/B/high', 'gridpatrol/v1/alerts/+/high', 'gridpatrol/v1/alerts/#'];
    expect(await subscribeGranted(officer, alerts)).toEqual([1, 1, 128, 128, 128]);
    const unrestricted = await kit.connect({ username: 'token', password: 'officer-all-token' });
    expect(await subscribeGranted(unrestricted, alerts)).toEqual([1, 1, 1, 1, 1]);
    expect(await counted(kit.metrics.mqttRefused, { action: 'subscribe', reason: 'grid' })).toBe(3);
  });

  it('lets operators watch drone and sensor topics but not alerts or anything else', async () => {
    const operator = await kit.connect({ username: 'token', password: 'operator-token' });
    const granted = await subscribeGranted(operator, ['gridpatrol/v1/drones/+/telemetry', 'gridpatrol/v1/sensors/#', 'gridpatrol/v1/alerts/A/high', '#', '$SYS/#']);
    expect(granted).toEqual([1, 1, 128, 128, 128]);
    const password = await kit.register('drone-1');
    const drone = await kit.connect({ username: 'drone-1', password });
    const got = new Promise<string>((resolve) => operator.once('message', (topic) => resolve(topic)));
    await drone.publishAsync(topics.droneTelemetry('drone-1'), '{}', { qos: 1 });
    expect(await got).toBe(topics.droneTelemetry('drone-1'));
  });

  it('keeps a refused subscriber connected and counts each refusal', async () => {
    const operator = await kit.connect({ username: 'token', password: 'operator-token' });
    await subscribeGranted(operator, ['x/y']);
    expect(operator.connected).toBe(true);
    expect(await counted(kit.metrics.mqttRefused, { action: 'subscribe', reason: 'topic' })).toBe(1);
  });
});

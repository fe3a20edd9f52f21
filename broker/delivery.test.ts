import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '../core/topics.js';
import { closed, counted, deferred, startKit, until, type Kit } from './test-kit.js';

describe('broker: acknowledgement, last will and limits', () => {
  let kit: Kit;
  afterEach(() => kit.close());

  it('sends a QoS 1 PUBACK only after ingest has resolved', async () => {
    kit = await startKit();
    const password = await kit.register('drone-1');
    const spooled = deferred();
    kit.ingest.handle = () => spooled.promise;
    const drone = await kit.connect({ username: 'drone-1', password });
    let acked = false;
    const publish = drone.publishAsync(topics.droneTelemetry('drone-1'), '{"seq":1}', { qos: 1 }).then(() => (acked = true));
    await until(() => kit.received.length === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(acked).toBe(false);
    spooled.resolve();
    await publish;
    expect(acked).toBe(true);
  });

  it('closes the publisher and acknowledges nothing when ingest refuses (spool full)', async () => {
    kit = await startKit();
    const password = await kit.register('drone-1');
    kit.ingest.handle = async () => {
      throw new Error('spool full');
    };
    const drone = await kit.connect({ username: 'drone-1', password });
    const gone = closed(drone);
    const publish = drone.publishAsync(topics.droneTelemetry('drone-1'), '{"seq":1}', { qos: 1 });
    await gone;
    expect(kit.received).toHaveLength(1);
    // still unacknowledged when the connection went; ending the client fails it
    await drone.endAsync(true);
    await expect(publish).rejects.toThrow();
    expect(await counted(kit.metrics.mqttRefused, { action: 'publish', reason: 'ingest' })).toBe(1);
  });

  it('hands a lost device\'s last will to ingest with isWill', async () => {
    kit = await startKit();
    const password = await kit.register('sensor-1', 'sensor');
    const will = { topic: topics.sensorStatus('sensor-1'), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true };
    const sensor = await kit.connect({ username: 'sensor-1', password, will });
    sensor.stream.destroy();
    await until(() => kit.received.length === 1);
    expect(kit.received[0]).toMatchObject({ deviceId: 'sensor-1', kind: 'sensor', channel: 'status', isWill: true, retain: true, qos: 1 });
    expect(kit.received[0]!.payload.toString()).toBe('{"state":"offline"}');
  });

  it('publishes no will after a clean DISCONNECT', async () => {
    kit = await startKit();
    const password = await kit.register('drone-1');
    const will = { topic: topics.droneStatus('drone-1'), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true };
    const drone = await kit.connect({ username: 'drone-1', password, will });
    await drone.endAsync();
    await new Promise((r) => setTimeout(r, 100));
    expect(kit.received).toEqual([]);
  });

  it('takes every QoS 0 message a device sent before its DISCONNECT, however far ingest is behind', async () => {
    kit = await startKit({ maxMessagesPerSec: 1_000_000 });
    const password = await kit.register('drone-1');
    // a slow ingest: the messages wait in the connection while the device already hangs up
    kit.ingest.handle = () => new Promise((r) => setTimeout(r, 1));
    const drone = await kit.connect({ username: 'drone-1', password });
    const pad = 'x'.repeat(200);
    for (let seq = 1; seq <= 4000; seq++) drone.publish(topics.droneTelemetry('drone-1'), `{"seq":${seq},"pad":"${pad}"}`, { qos: 0 });
    await drone.endAsync();
    await until(() => kit.received.length === 4000, 10_000);
    expect(kit.received.map((m) => JSON.parse(m.payload.toString()).seq)).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1));
  });

  it('publishes no wills when the broker itself shuts down', async () => {
    kit = await startKit();
    const password = await kit.register('drone-1');
    const will = { topic: topics.droneStatus('drone-1'), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true };
    const drone = await kit.connect({ username: 'drone-1', password, will });
    const gone = closed(drone);
    await kit.broker.close();
    await gone;
    expect(kit.received).toEqual([]);
  });

  it('throttles only the device over the message rate: in order, all of it, still connected', async () => {
    kit = await startKit({ maxMessagesPerSec: 20 });
    const noisyPassword = await kit.register('noisy');
    const calmPassword = await kit.register('calm');
    const noisy = await kit.connect({ username: 'noisy', password: noisyPassword });
    const calm = await kit.connect({ username: 'calm', password: calmPassword });
    const t0 = performance.now();
    // a backlog sent at once: one second's worth goes through, the rest at 20/s
    const acked = Promise.all(Array.from({ length: 60 }, (_, i) => noisy.publishAsync(topics.droneTelemetry('noisy'), `{"seq":${i}}`, { qos: 1 })));
    for (let i = 0; i < 5; i++) {
      await calm.publishAsync(topics.droneTelemetry('calm'), `{"seq":${i}}`, { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(kit.received.filter((m) => m.deviceId === 'calm')).toHaveLength(5);
    await acked;
    // 40 messages over the burst at 20/s cannot be taken in less than 2 s
    expect(performance.now() - t0).toBeGreaterThan(1900);
    expect(noisy.connected).toBe(true);
    expect(kit.received.filter((m) => m.deviceId === 'noisy').map((m) => JSON.parse(m.payload.toString()).seq)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(await counted(kit.metrics.mqttThrottled, {})).toBeGreaterThanOrEqual(39);
    expect(await counted(kit.metrics.mqttLimitDisconnects, { limit: 'rate' })).toBe(0);
  });

  it('closes a connection whose held-back publishes would wait more than 10 s', async () => {
    kit = await startKit({ maxMessagesPerSec: 1 });
    const password = await kit.register('flood');
    const flood = await kit.connect({ username: 'flood', password });
    const gone = closed(flood);
    for (let i = 0; i < 15; i++) flood.publish(topics.droneTelemetry('flood'), `{"seq":${i}}`, { qos: 0 });
    await gone;
    expect(await counted(kit.metrics.mqttLimitDisconnects, { limit: 'rate' })).toBe(1);
    expect(kit.received.filter((m) => m.deviceId === 'flood').length).toBeLessThanOrEqual(11);
  });

  it('refuses the connection after the maximum, and admits again once one closes', async () => {
    kit = await startKit({ maxConnections: 2 });
    const password = await kit.register('drone-1');
    const first = await kit.connect({ username: 'token', password: 'operator-token' });
    await kit.connect({ username: 'token', password: 'officer-a-token' });
    await expect(kit.connect({ username: 'drone-1', password })).rejects.toThrow();
    expect(await counted(kit.metrics.mqttRefused, { action: 'connect', reason: 'max_connections' })).toBe(1);
    await first.endAsync();
    await until(() => kit.broker.aedes.connectedClients === 1);
    expect((await kit.connect({ username: 'drone-1', password })).connected).toBe(true);
  });

  it('closes only the connection that sends a packet over the limit, and ingests large payloads under it', async () => {
    kit = await startKit({ maxPayloadBytes: 1024, maxPacketBytes: 8 * 1024 });
    const bigPassword = await kit.register('big');
    const otherPassword = await kit.register('other');
    const big = await kit.connect({ username: 'big', password: bigPassword });
    const other = await kit.connect({ username: 'other', password: otherPassword });

    await big.publishAsync(topics.droneTelemetry('big'), Buffer.alloc(4 * 1024, 0x61), { qos: 1 });
    expect(kit.received[0]?.payload.length).toBe(4 * 1024);

    const gone = closed(big);
    big.publish(topics.droneTelemetry('big'), Buffer.alloc(64 * 1024, 0x61), { qos: 0 });
    await gone;
    await other.publishAsync(topics.droneTelemetry('other'), '{}', { qos: 1 });
    expect(other.connected).toBe(true);
    expect(kit.received.map((m) => m.deviceId)).toEqual(['big', 'other']);
    expect(await counted(kit.metrics.mqttLimitDisconnects, { limit: 'packet_size' })).toBe(1);
  });

  it('closes an oversize packet over WebSocket too', async () => {
    kit = await startKit({ maxPacketBytes: 8 * 1024 });
    const password = await kit.register('big');
    const big = await kit.connect({ username: 'big', password }, kit.wsUrl);
    const gone = closed(big);
    big.publish(topics.droneTelemetry('big'), Buffer.alloc(64 * 1024, 0x61), { qos: 0 });
    await gone;
    expect(kit.received).toEqual([]);
    expect(await counted(kit.metrics.mqttLimitDisconnects, { limit: 'packet_size' })).toBe(1);
  });
});

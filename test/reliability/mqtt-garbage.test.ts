import type { MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../core/topics.js';
import { connectMqtt, registerDevice, spawnGridPatrol, testEnv } from '../helpers/gridpatrol.js';
import { FAULTS, metricSum, scrape } from '../helpers/metrics.js';
import { payloadFor } from '../helpers/publisher.js';
import { connectPacket, publishPacket, rawConnect, type RawConnection } from '../helpers/raw-mqtt.js';

/**
 * Issue 8, bad input (9): raw garbage and malformed MQTT on the broker's TCP port, against
 * GridPatrol as its own process. Each bad connection is closed and counted once
 * (gridpatrol_mqtt_bad_connections_total, by reason); a device publishing all along keeps every
 * PUBACK coming. `npm test`: 300 garbage connections, 1,200 half-open; test:faults: 3,000 and 5,000.
 */
const RANDOM = FAULTS ? 3000 : 300;
const HALF_OPEN = FAULTS ? 5000 : 1200;
// Aedes' connect timeout in broker/build.ts: a socket without CONNECT is closed after it
const CONNECT_TIMEOUT_MS = 10_000;

describe('garbage on the MQTT port', () => {
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>>;
  let dataDir: string;
  let drone: MqttClient;
  let droneClosed = false;
  let running = true;
  let acked = 0;
  let maxLatencyMs = 0;
  let publishing: Promise<void>;
  const latencies: number[] = [];

  const bad = async () => {
    const t = await scrape(gp.ports.httpPort);
    return { total: metricSum(t, 'gridpatrol_mqtt_bad_connections_total'), text: t };
  };

  beforeAll(async () => {
    const env = testEnv({ GRIDPATROL_MAX_MSGS_PER_SEC: '100000' });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    gp = await spawnGridPatrol(env);
    drone = await connectMqtt(gp.ports.mqttPort, 'steady', await registerDevice(gp.http, 'steady', 'drone'));
    drone.on('close', () => (droneClosed = true));
    // a well-behaved device publishing one QoS 1 message every 20 ms for the whole test
    publishing = (async () => {
      let seq = 0;
      while (running && !droneClosed) {
        const t0 = performance.now();
        await drone.publishAsync(topics.droneTelemetry('steady'), payloadFor(seq++), { qos: 1 });
        const ms = performance.now() - t0;
        latencies.push(ms);
        maxLatencyMs = Math.max(maxLatencyMs, ms);
        acked++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  });

  afterAll(async () => {
    running = false;
    await publishing?.catch(() => undefined);
    drone?.end(true);
    gp?.child.kill('SIGKILL');
    await gp?.exited;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Asserts the steady device got PUBACKs while `phase` ran. */
  async function meanwhileTheDeviceIsServed<T>(phase: () => Promise<T>): Promise<T> {
    const before = acked;
    const result = await phase();
    const deadline = acked + 5;
    await new Promise<void>((resolve) => {
      const check = setInterval(() => acked >= deadline && (clearInterval(check), resolve()), 10);
    });
    expect(acked).toBeGreaterThan(before);
    expect(droneClosed).toBe(false);
    return result;
  }

  it(`closes and counts ${RANDOM} connections of random bytes and truncated packets`, async () => {
    const before = await bad();
    const connect = connectPacket({ clientId: 'x', username: 'steady', password: 'wrong' });
    const conns = await meanwhileTheDeviceIsServed(async () => {
      const conns: RawConnection[] = [];
      for (let i = 0; i < RANDOM; i++) {
        const c = await rawConnect(gp.ports.mqttPort);
        const kind = i % 6;
        if (kind === 0) c.socket.write(randomBytes(1 + (i % 2000)));
        else if (kind === 1) c.socket.write(Buffer.concat([Buffer.from([0xf0 | (i & 0x0f)]), randomBytes(64)])); // reserved packet type 15
        else if (kind === 2) c.socket.write(connect.subarray(0, 1 + (i % (connect.length - 1)))); // a CONNECT cut short
        else if (kind === 3) c.socket.write(publishPacket(topics.droneTelemetry('steady'), payloadFor(i), 1)); // PUBLISH before CONNECT [MQTT-3.1.0-1]
        else if (kind === 4) c.socket.write(Buffer.concat([connect.subarray(0, 2), Buffer.from([0, 4]), Buffer.from('MQTX'), randomBytes(20)])); // wrong protocol name
        else c.socket.end(randomBytes(16)); // garbage, then the client's own FIN
        conns.push(c);
      }
      return conns;
    });
    // every one is closed by the broker: at once, or at the connect timeout for a CONNECT cut short
    const started = Date.now();
    await Promise.all(conns.map((c) => c.closed));
    expect(Date.now() - started).toBeLessThan(CONNECT_TIMEOUT_MS + 5_000);
    const after = await bad();
    console.log(`garbage: ${RANDOM} connections closed in ${Date.now() - started} ms; by reason: ${after.text.split('\n').filter((l) => l.startsWith('gridpatrol_mqtt_bad_connections_total{')).join(', ')}`);
    expect(after.total - before.total).toBe(RANDOM);
  }, 120_000);

  it('closes a packet announcing a huge remaining length at once, before or after CONNECT', async () => {
    const before = await scrape(gp.ports.httpPort);
    const password = await registerDevice(gp.http, 'greedy', 'drone');
    const headers = [
      Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), // CONNECT of 256 MiB
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), // PUBLISH of 256 MiB
      Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), // a remaining length of five bytes
    ];
    await meanwhileTheDeviceIsServed(async () => {
      for (const h of headers) {
        const c = await rawConnect(gp.ports.mqttPort);
        c.socket.write(h);
        await c.closed;
      }
      const c = await rawConnect(gp.ports.mqttPort);
      c.socket.write(connectPacket({ clientId: 'greedy', username: 'greedy', password }));
      await new Promise<void>((r) => c.socket.once('data', () => r())); // CONNACK
      c.socket.write(Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f]));
      await c.closed;
    });
    const after = await scrape(gp.ports.httpPort);
    const delta = (name: string, labels: Record<string, string>) => metricSum(after, name, labels) - metricSum(before, name, labels);
    expect(delta('gridpatrol_mqtt_limit_disconnects_total', { limit: 'packet_size' })).toBe(4);
    expect(delta('gridpatrol_mqtt_bad_connections_total', { reason: 'packet_size' })).toBe(4);
  });

  it(`survives ${HALF_OPEN} half-open connections: others connect and publish meanwhile, the broker closes them all at its connect timeout`, async () => {
    const before = await bad();
    const rssBefore = metricSum(before.text, 'gridpatrol_process_process_resident_memory_bytes');
    const conns = await meanwhileTheDeviceIsServed(async () => {
      const conns: RawConnection[] = [];
      for (let i = 0; i < HALF_OPEN; i += 100) conns.push(...(await Promise.all(Array.from({ length: Math.min(100, HALF_OPEN - i) }, () => rawConnect(gp.ports.mqttPort)))));
      // half of them start a CONNECT and never finish it
      conns.forEach((c, i) => i % 2 && c.socket.write(Buffer.from([0x10, 0x40])));
      return conns;
    });
    const opened = Date.now();
    // a device that arrives now is let in and served at once
    const t0 = performance.now();
    const late = await connectMqtt(gp.ports.mqttPort, 'newcomer', await registerDevice(gp.http, 'newcomer', 'sensor'));
    await late.publishAsync(topics.sensorReadings('newcomer'), JSON.stringify({ ts: Date.now(), metric: 'gas', value: 1 }), { qos: 1 });
    const newcomerMs = performance.now() - t0;
    late.end(true);
    const during = await bad();
    expect(metricSum(during.text, 'gridpatrol_mqtt_connections')).toBeGreaterThanOrEqual(HALF_OPEN);

    await Promise.all(conns.map((c) => c.closed));
    const closedAfterMs = Date.now() - opened;
    const after = await bad();
    expect(metricSum(after.text, 'gridpatrol_mqtt_bad_connections_total', { reason: 'connect_timeout' }) - metricSum(before.text, 'gridpatrol_mqtt_bad_connections_total', { reason: 'connect_timeout' })).toBe(HALF_OPEN);
    const rssPeak = metricSum(during.text, 'gridpatrol_process_process_resident_memory_bytes');
    console.log(`half-open: ${HALF_OPEN} held, all closed by the broker within ${closedAfterMs} ms of the last opening; newcomer connect+PUBACK ${Math.round(newcomerMs)} ms; RSS ${Math.round(rssBefore / 1e6)} → ${Math.round(rssPeak / 1e6)} MB`);
    expect(newcomerMs).toBeLessThan(3000);
    expect(rssPeak - rssBefore).toBeLessThan(200e6);
  }, 180_000);

  it('kept the steady device connected and acknowledged throughout, and is still alive', async () => {
    expect(droneClosed).toBe(false);
    expect(gp.child.exitCode).toBeNull();
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    console.log(`steady device: ${acked} PUBACKs, p99 ${p99.toFixed(1)} ms, max ${maxLatencyMs.toFixed(1)} ms`);
    expect(acked).toBeGreaterThan(100);
    expect(maxLatencyMs).toBeLessThan(5000);
  });
});

import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../../storage/devices.js';
import { openMetadataDb } from '../../storage/metadata-db.js';
import { ADMIN_TOKEN, connectMqtt, eventually, spawnGridPatrol, telemetry, testEnv } from '../helpers/gridpatrol.js';
import { stopProcess } from '../helpers/influxd.js';
import { freePort } from '../helpers/ports.js';
import { redisCommand, startRedis, type RedisServer } from '../helpers/redis.js';

/*
 * Two broker nodes (GRIDPATROL_ROLE=broker, in-process ingest) sharing one Redis and one data
 * folder: what a device does on one node is seen on the other, and a node's death moves its
 * devices, their persistent sessions and their last wills to the other.
 */
type Node = Awaited<ReturnType<typeof spawnGridPatrol>>;
const status = (id: string) => `gridpatrol/v1/drones/${id}/status`;
const offline = JSON.stringify({ state: 'offline' });
// short beats: a dead node is noticed after 3 of them and its wills published within 4 more
const HEARTBEAT_MS = 500;

describe('two broker nodes sharing Redis', () => {
  let redis: RedisServer;
  let env: Record<string, string>;
  let devices: DeviceRegistry;
  let closeMeta: () => void;
  let a: Node;
  let b: Node;
  const clients: MqttClient[] = [];

  const startNode = (nodeId: string) =>
    spawnGridPatrol({ ...env, GRIDPATROL_ROLE: 'broker', GRIDPATROL_BROKER_INGEST: 'local', GRIDPATROL_NODE_ID: nodeId, GRIDPATROL_REDIS_URL: redis.url, GRIDPATROL_REDIS_HEARTBEAT_MS: String(HEARTBEAT_MS) });

  /** A registered drone's password (straight into the shared registry: broker nodes have no device API). */
  const register = async (id: string) => (await devices.register({ id, kind: 'drone' })).password;

  async function connect(port: number, username: string, password: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
    const c = await connectMqtt(port, username, password, opts);
    clients.push(c);
    return c;
  }

  /** An operator's connection (the admin token) subscribed to `filter`, collecting `topic payload` lines. */
  async function watch(port: number, filter: string): Promise<{ client: MqttClient; seen: Array<{ topic: string; payload: string; retain: boolean }> }> {
    const client = await connect(port, 'token', ADMIN_TOKEN);
    const seen: Array<{ topic: string; payload: string; retain: boolean }> = [];
    client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await client.subscribeAsync(filter, { qos: 1 });
    return { client, seen };
  }

  beforeAll(async () => {
    redis = await startRedis();
    env = testEnv();
    const meta = openMetadataDb(join(env.GRIDPATROL_DATA_DIR!, 'gridpatrol.db'));
    devices = new DeviceRegistry(meta);
    closeMeta = () => meta.close();
    [a, b] = await Promise.all([startNode('broker-a'), startNode('broker-b')]);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await Promise.all([a && stopProcess(a.child), b && stopProcess(b.child)]);
    closeMeta?.();
    await redis?.stop();
    if (env) rmSync(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
  });

  it('relays a device on node A and an operator on node B to each other', async () => {
    const drone = await connect(a.ports.mqttPort, 'relay-1', await register('relay-1'), { clientId: 'relay-1' });
    const commands: string[] = [];
    drone.on('message', (_t, p) => commands.push(p.toString()));
    await drone.subscribeAsync('gridpatrol/v1/drones/relay-1/commands', { qos: 1 });
    const op = await watch(b.ports.mqttPort, 'gridpatrol/v1/drones/relay-1/telemetry');

    await drone.publishAsync('gridpatrol/v1/drones/relay-1/telemetry', JSON.stringify(telemetry(1)), { qos: 1 });
    await eventually(() => op.seen.find((m) => JSON.parse(m.payload).seq === 1));

    await op.client.publishAsync('gridpatrol/v1/drones/relay-1/commands', JSON.stringify({ cmd: 'rth', reason: 'test' }), { qos: 1 });
    await eventually(() => commands.find((c) => JSON.parse(c).cmd === 'rth'));
  });

  it('shows the retained status published on A to a subscriber that connects to B', async () => {
    const drone = await connect(a.ports.mqttPort, 'retained-1', await register('retained-1'), { clientId: 'retained-1' });
    // Aedes stores a retained message before it relays it: once a live subscriber has it, it is in Redis
    const live = await watch(b.ports.mqttPort, status('retained-1'));
    await drone.publishAsync(status('retained-1'), JSON.stringify({ state: 'online', ts: Date.now() }), { qos: 1, retain: true });
    await eventually(() => live.seen.length > 0);
    const op = await watch(b.ports.mqttPort, status('retained-1'));
    const got = await eventually(() => op.seen.find((m) => m.topic === status('retained-1')));
    expect(got).toMatchObject({ retain: true });
    expect(JSON.parse(got.payload)).toMatchObject({ state: 'online' });
  });

  it("delivers to B the last will A publishes when a device's connection is lost", async () => {
    const op = await watch(b.ports.mqttPort, status('will-1'));
    const drone = await connect(a.ports.mqttPort, 'will-1', await register('will-1'), {
      clientId: 'will-1', will: { topic: status('will-1'), payload: Buffer.from(offline), qos: 1, retain: true },
    });
    drone.stream.destroy();
    const got = await eventually(() => op.seen.find((m) => m.payload === offline));
    expect(got.topic).toBe(status('will-1'));
  });

  it('ingests each telemetry message once, on the node its device is connected to', async () => {
    const n = 40;
    const drones = [{ id: 'count-a', node: a }, { id: 'count-b', node: b }];
    // a watcher on each node: every message reaches both, and must be stored once all the same
    await watch(a.ports.mqttPort, 'gridpatrol/v1/drones/+/telemetry');
    await watch(b.ports.mqttPort, 'gridpatrol/v1/drones/+/telemetry');
    await Promise.all(
      drones.map(async ({ id, node }) => {
        const d = await connect(node.ports.mqttPort, id, await register(id), { clientId: id });
        for (let seq = 1; seq <= n; seq++) await d.publishAsync(`gridpatrol/v1/drones/${id}/telemetry`, JSON.stringify(telemetry(seq)), { qos: 1 });
      }),
    );
    const db = new Database(join(env.GRIDPATROL_DATA_DIR!, 'telemetry.db'), { readonly: true, fileMustExist: true });
    try {
      const count = (id: string) => db.prepare('SELECT count(*) AS n, count(DISTINCT seq) AS d FROM drone_telemetry WHERE drone_id = ?').get(id) as { n: number; d: number };
      await eventually(() => drones.every(({ id }) => count(id).d === n));
      for (const { id } of drones) expect(count(id)).toEqual({ n, d: n });
    } finally {
      db.close();
    }
  });

  it("moves A's devices, their queued commands and their wills to B when A is killed", async () => {
    const op = await watch(b.ports.mqttPort, 'gridpatrol/v1/drones/+/status');
    const servers = [{ host: '127.0.0.1', port: a.ports.mqttPort }, { host: '127.0.0.1', port: b.ports.mqttPort }];
    const will = (id: string) => ({ topic: status(id), payload: Buffer.from(offline), qos: 1 as const, retain: true });

    // a drone that moves: mqtt.js goes down its list of servers when one stops answering
    const mover = await connect(a.ports.mqttPort, 'mover-1', await register('mover-1'), { clientId: 'mover-1', servers, reconnectPeriod: 100, will: will('mover-1') });
    const moved = new Promise<void>((resolve) => mover.on('connect', () => resolve()));
    // a drone with a persistent session, offline with a QoS 1 command queued for it when A dies
    const parkedPassword = await register('parked-1');
    const parked = await connect(a.ports.mqttPort, 'parked-1', parkedPassword, { clientId: 'parked-1', clean: false });
    await parked.subscribeAsync('gridpatrol/v1/drones/parked-1/commands', { qos: 1 });
    await parked.endAsync();
    // queued in Redis (aedes-persistence-redis: the list outgoing:<clientId>) by node B. A new
    // subscription reaches the other nodes asynchronously: B may need a second try to know it
    await eventually(async () => {
      await op.client.publishAsync('gridpatrol/v1/drones/parked-1/commands', JSON.stringify({ cmd: 'land', reason: 'queued' }), { qos: 1 });
      return (await redisCommand(redis.port, 'LLEN outgoing:parked-1')) !== ':0';
    });
    // a drone that never comes back: B must publish its will for A
    await connect(a.ports.mqttPort, 'lost-1', await register('lost-1'), { clientId: 'lost-1', will: will('lost-1') });

    a.child.kill('SIGKILL');
    await a.exited;

    // before B notices A is dead (3 beats), or B would publish the mover's old will: that a device
    // which reconnects later gets "offline" published, and must publish "online" again, is by design
    await moved;
    await mover.publishAsync('gridpatrol/v1/drones/mover-1/telemetry', JSON.stringify(telemetry(7)), { qos: 1 });

    const back = mqtt.connect(`mqtt://127.0.0.1:${b.ports.mqttPort}`, { username: 'parked-1', password: parkedPassword, clientId: 'parked-1', clean: false, reconnectPeriod: 0 });
    clients.push(back);
    const queued = await new Promise<string>((resolve, reject) => {
      back.on('message', (_t, p) => resolve(p.toString()));
      back.on('error', reject);
    });
    expect(JSON.parse(queued)).toMatchObject({ cmd: 'land', reason: 'queued' });

    // A's wills: the lost drone's is published by B, the moved drone's is not (it is online on B)
    await eventually(() => op.seen.find((m) => m.topic === status('lost-1') && m.payload === offline), 20_000);
    expect(op.seen.filter((m) => m.topic === status('mover-1') && m.payload === offline)).toEqual([]);
  });

  it('while Redis hangs: what node B ingests and acknowledges, and that it all lands once Redis answers again', async () => {
    const id = 'hang-1';
    const op = await watch(b.ports.mqttPort, `gridpatrol/v1/drones/${id}/telemetry`);
    const d = await connect(b.ports.mqttPort, id, await register(id), { clientId: id });
    await d.publishAsync(`gridpatrol/v1/drones/${id}/telemetry`, JSON.stringify(telemetry(1)), { qos: 1 });
    await eventually(() => op.seen.length === 1);

    process.kill(redis.pid, 'SIGSTOP'); // Redis stops answering; its sockets stay open
    const acked: number[] = [];
    const n = 20;
    const sent = Array.from({ length: n }, (_, i) => d.publishAsync(`gridpatrol/v1/drones/${id}/telemetry`, JSON.stringify(telemetry(i + 2)), { qos: 1 }).then(() => void acked.push(i + 2)));
    // a connected Redis that does not answer PING for 3 s is reported
    const hung = await eventually(async () => {
      const r = await b.http('GET', '/readyz');
      return r.status === 503 && r;
    }, 10_000, 200);
    expect(hung.json.checks.redis).toMatchObject({ ok: false, detail: expect.stringMatching(/does not answer for \d+ s/) });
    const ackedDuringHang = acked.length;
    const relayedDuringHang = op.seen.length - 1;
    process.kill(redis.pid, 'SIGCONT');
    await eventually(async () => (await b.http('GET', '/readyz')).status === 200, 10_000, 200);

    await Promise.all(sent);
    await eventually(() => op.seen.length === n + 1, 20_000);
    const db = new Database(join(env.GRIDPATROL_DATA_DIR!, 'telemetry.db'), { readonly: true, fileMustExist: true });
    try {
      const count = () => db.prepare('SELECT count(*) AS n, count(DISTINCT seq) AS d FROM drone_telemetry WHERE drone_id = ?').get(id) as { n: number; d: number };
      await eventually(() => count().d === n + 1);
      expect(count()).toEqual({ n: n + 1, d: n + 1 });
    } finally {
      db.close();
    }
    expect(d.connected).toBe(true);
    // the PUBACK follows the spool append; the relay waits for Redis
    expect(ackedDuringHang).toBe(n);
    expect(relayedDuringHang).toBe(0);
    console.log(`Redis hung under node B until /readyz said so: ${ackedDuringHang} of ${n} QoS 1 publishes acknowledged meanwhile, ${relayedDuringHang} relayed; once it answered again /readyz 200 and all ${n} relayed and stored once`);
  }, 60_000);

  it('is not ready while Redis does not answer, and says which Redis', async () => {
    expect((await b.http('GET', '/readyz')).json.checks.redis).toMatchObject({ ok: true });
    await redis.stop();
    const r = await eventually(async () => {
      const res = await b.http('GET', '/readyz');
      return res.status === 503 && res;
    });
    expect(r.json.checks.redis).toMatchObject({ ok: false, detail: expect.stringContaining(redis.url) });
  });
});

describe('a broker node whose Redis does not answer at start', () => {
  it('exits with one line naming GRIDPATROL_REDIS_URL', async () => {
    const env = testEnv({ GRIDPATROL_ROLE: 'broker', GRIDPATROL_NODE_ID: 'lonely', GRIDPATROL_REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    try {
      const err = await spawnGridPatrol(env).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/exited 2 before listening: gridpatrol: GRIDPATROL_REDIS_URL redis:\/\/127\.0\.0\.1:\d+\/? does not answer after \d+ s \(.*ECONNREFUSED.*\): start Redis or fix the setting\n$/);
    } finally {
      rmSync(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
    }
  }, 60_000);

});

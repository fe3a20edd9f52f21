import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLAY_STALL_MS } from '../../api/routes/alerts.js';
import { topics } from '../../core/topics.js';
import { openSse, writeRulesFile, type SseStream } from '../helpers/alerts.js';
import { ADMIN_TOKEN, connectMqtt, eventually, registerDevice, spawnGridPatrol, testEnv } from '../helpers/gridpatrol.js';
import { FAULTS, metricSum, scrape } from '../helpers/metrics.js';

/**
 * Issue 8 (5): consumers that do not keep up. While drones publish QoS 1 telemetry whose every
 * message opens or resolves an alert, GridPatrol (its own process) has
 * - an SSE client on /api/v1/alerts/stream that sent its request and never reads a byte,
 * - a webhook target that accepts the TCP connection and never answers,
 * - a second SSE client that reads normally.
 * Asserted: every message is acknowledged and stored; the reading SSE client gets every
 * transition, in order, none missing; the silent client is dropped and counted
 * (gridpatrol_sse_dropped_total) once it holds more than 1 MiB unread beyond what the kernel
 * buffers (~4 MB on loopback); webhook attempts time out and are retried with backoff, the backlog
 * waits in SQLite (gridpatrol_webhook_deliveries{status="pending"}); the RSS of the process stays
 * bounded. `npm test`: 8 drones × 600 messages; test:faults: 20 × 1,500.
 */
const DRONES = FAULTS ? 20 : 8;
const MESSAGES = FAULTS ? 1500 : 600;
// messages per drone before the consumers stop keeping up, for the rate to compare with
const BASELINE = 200;
const WEBHOOK_TIMEOUT_MS = 500;
// well above a quiet GridPatrol (~150 MB); a consumer that made GridPatrol buffer for it would pass it
const RSS_BOUND_MB = 400;

const RULES = `version: 1
rules:
  - id: alt-flap
    kind: threshold
    severity: warning
    description: altitude above 500 m (clears below 400 m); every message of this test crosses it one way or the other
    appliesTo: { kind: drone }
    field: alt
    op: above
    value: 500
    clear: 400
`;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** An SSE request on a raw socket that is paused at once: the client reads nothing, ever. */
function silentSseClient(port: number, lastEventId?: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
      const resume = lastEventId === undefined ? '' : `last-event-id: ${lastEventId}\r\n`;
      socket.write(`GET /api/v1/alerts/stream HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n${resume}authorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`);
      socket.pause();
      resolve({ socket, closed: new Promise<void>((r) => socket.on('close', () => r())) });
    });
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

describe('slow consumers', () => {
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>>;
  let dataDir: string;
  let rules: ReturnType<typeof writeRulesFile>;
  let hanging: Server;
  const hangingSockets: Socket[] = [];
  let fast: SseStream;
  let silent: Awaited<ReturnType<typeof silentSseClient>>;
  const drones: MqttClient[] = [];
  let hang = false;

  beforeAll(async () => {
    // answers 204 at first (the baseline), then accepts connections and never says a word
    hanging = createServer((s) => {
      s.on('error', () => {});
      if (!hang) return void s.once('data', () => s.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n'));
      hangingSockets.push(s);
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    rules = writeRulesFile(RULES);
    const env = testEnv({
      GRIDPATROL_RULES_FILE: rules.path,
      GRIDPATROL_MAX_MSGS_PER_SEC: '100000',
      GRIDPATROL_WEBHOOK_URLS: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`,
      GRIDPATROL_WEBHOOK_SECRET: 'slow-consumers-webhook-secret',
      GRIDPATROL_WEBHOOK_TIMEOUT_MS: String(WEBHOOK_TIMEOUT_MS),
    });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    gp = await spawnGridPatrol(env);
    for (let d = 0; d < DRONES; d++) {
      const id = `slow-${d}`;
      drones.push(await connectMqtt(gp.ports.mqttPort, id, await registerDevice(gp.http, id, 'drone', 'LY-C4'), { clientId: id }));
    }
  });

  afterAll(async () => {
    fast?.close();
    silent?.socket.destroy();
    for (const d of drones) d.end(true);
    for (const s of hangingSockets) s.destroy();
    hanging?.close();
    gp?.child.kill('SIGKILL');
    await gp?.exited;
    rules?.remove();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps ingest and a reading SSE client whole while one SSE client and a webhook target hang', async () => {
    const pid = gp.child.pid!;
    fast = await openSse(gp.ports.httpPort);
    expect(fast.status).toBe(200);
    // publish time of each drone's k-th message: its k-th transition is that message's
    const sentAt = drones.map(() => [] as number[]);
    const base = Date.now() - 3_600_000;
    let acked = 0;
    /** every drone publishes `n` messages, each awaiting its PUBACK; the elapsed ms */
    const publish = async (from: number, n: number) => {
      const t0 = performance.now();
      await Promise.all(
        drones.map(async (client, d) => {
          for (let seq = from; seq < from + n; seq++) {
            const body = { ts: base + seq * 100, seq, lat: 33.8123, lon: 113.9541, alt: seq % 2 ? 600 : 100, speed: 8, heading: 90, battery: 80, mode: 'patrol', rssi: -60, sats: 12 };
            sentAt[d]!.push(performance.now());
            await client.publishAsync(topics.droneTelemetry(`slow-${d}`), JSON.stringify(body), { qos: 1 });
            acked++;
          }
        }),
      );
      return performance.now() - t0;
    };

    // baseline: the same traffic with every consumer keeping up
    const baselineMs = await publish(1, BASELINE);
    const baseline = DRONES * BASELINE;
    await eventually(async () => metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_webhook_deliveries', { status: 'pending' }) === 0, 30_000);

    hang = true;
    silent = await silentSseClient(gp.ports.httpPort);
    await eventually(async () => metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_sse_clients') === 2);
    const rssBefore = rssMb(pid);
    let rssMax = rssBefore;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(pid))), 100);
    let sendMs: number;
    try {
      sendMs = await publish(BASELINE + 1, MESSAGES);
    } finally {
      clearInterval(sampler);
    }
    const slow = DRONES * MESSAGES;
    const total = baseline + slow;
    expect(acked).toBe(total);

    // every acknowledged message is stored
    const db = new Database(join(dataDir, 'telemetry.db'), { readonly: true });
    try {
      await eventually(() => (db.prepare("SELECT COUNT(*) FROM drone_telemetry WHERE drone_id LIKE 'slow-%'").pluck().get() as number) === total, 30_000);
    } finally {
      db.close();
    }

    // the reading client has every transition, in order, one per message
    await fast.events.waitFor((_e) => fast.events.items.length >= total, `${total} transitions`, 30_000);
    const ids = fast.events.items.map((e) => e.id);
    expect(ids.length).toBe(total);
    expect(ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1)).toBe(true);
    const lagMs: number[] = [];
    const nth = new Map<string, number>();
    for (const e of fast.events.items) {
      const d = Number(e.alert.entityId.slice('slow-'.length));
      const k = nth.get(e.alert.entityId) ?? 0;
      nth.set(e.alert.entityId, k + 1);
      lagMs.push(e.receivedAt - sentAt[d]![k]!);
    }
    lagMs.sort((a, b) => a - b);
    const bytes = fast.events.items.reduce((n, e) => n + JSON.stringify({ transition: e.transition, alert: e.alert }).length + 30, 0);

    // the silent client was dropped and counted; its socket is closed once it reads again
    const metrics = await scrape(gp.ports.httpPort);
    const dropped = metricSum(metrics, 'gridpatrol_sse_dropped_total');
    expect(dropped).toBe(1);
    expect(metricSum(metrics, 'gridpatrol_sse_clients')).toBe(1);
    silent.socket.resume();
    await silent.closed;

    // the webhook target: attempts time out, are retried with backoff, the rest waits in SQLite
    const head = await eventually(async () => {
      // the first delivery after the target hung (one row per transition): the head of its queue
      const r = await gp.http('GET', `/api/v1/webhooks/deliveries?limit=1&cursor=${baseline + 2}`);
      const first = (r.json.items as Array<{ attempts: number; lastError: string | null; eventId: number; status: string }>)[0];
      expect(first?.eventId).toBe(ids[baseline]);
      expect(first?.status).toBe('pending');
      return first && first.attempts >= 3 ? first : null;
    }, 30_000, 200);
    expect(head.lastError).toBe('timed out');
    expect(hangingSockets.length).toBeGreaterThanOrEqual(3);
    const after = await scrape(gp.ports.httpPort);
    expect(metricSum(after, 'gridpatrol_webhook_deliveries', { status: 'pending' })).toBe(slow);
    expect(metricSum(after, 'gridpatrol_webhook_deliveries', { status: 'failed' })).toBe(0);

    const rssEnd = rssMb(pid);
    console.log(
      `slow consumers: ${DRONES} drones, QoS 1, one alert transition per message: consumers keeping up ${baseline} messages at ${Math.round(baseline / (baselineMs / 1000))} msg/s; ` +
        `with a silent SSE client and a hanging webhook ${slow} messages at ${Math.round(slow / (sendMs / 1000))} msg/s, every one acknowledged and stored; ` +
        `${total} transitions (~${Math.round(bytes / 1024)} KiB of SSE) to the reading client, publish → SSE event p50 ${lagMs[Math.floor(lagMs.length / 2)]!.toFixed(1)} ms, ` +
        `p99 ${lagMs[Math.floor(lagMs.length * 0.99)]!.toFixed(1)} ms, max ${lagMs.at(-1)!.toFixed(1)} ms; silent SSE clients dropped: ${dropped}; ` +
        `webhook: ${hangingSockets.length} connections to the hanging target, head delivery ${head.attempts} attempts (${head.lastError}), ${slow} pending; ` +
        `RSS ${rssBefore.toFixed(0)} MB before, max ${rssMax.toFixed(0)} MB during, ${rssEnd.toFixed(0)} MB after`,
    );
    expect(rssMax).toBeLessThan(RSS_BOUND_MB);
  }, 600_000);

  it('drops a client that asks for the whole history with Last-Event-ID and then reads nothing', async () => {
    const before = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_sse_dropped_total');
    // the transitions of the test above are several MB: more than the kernel buffers for a client that does not read
    const stalled = await silentSseClient(gp.ports.httpPort, 0);
    const t0 = performance.now();
    await eventually(async () => metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_sse_dropped_total') === before + 1, REPLAY_STALL_MS + 15_000, 250);
    console.log(`slow consumers: a client replaying ${fast.events.items.length} transitions without reading was dropped after ${Math.round(performance.now() - t0)} ms (REPLAY_STALL_MS ${REPLAY_STALL_MS})`);
    expect(metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_sse_clients')).toBe(1); // the reading client
    stalled.socket.resume();
    await stalled.closed;
  }, 60_000);
});

import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../core/topics.js';
import { loadGrids } from '../lib/grids.js';
import { runLoad } from '../simulators/load.js';
import { runLoadInWorkers } from '../simulators/load-workers.js';
import { registerDevices } from '../simulators/net/register.js';
import { runScenario } from '../simulators/run/runner.js';
import type { RunSummary } from '../simulators/run/summary.js';
import { loadScenario, parseScenario } from '../simulators/scenario/load.js';
import { FAULT_OUTCOMES, type FaultKind } from '../simulators/world/faults.js';
import { ADMIN_TOKEN, connectMqtt, eventually, startInProcess, type Http } from './helpers/gridpatrol.js';
import { sqliteProbe, type StoreProbe } from './helpers/stores.js';

const county = loadGrids();

/**
 * The simulators against a real GridPatrol (in this process: broker, ingest, spool, SQLite store,
 * API): what the simulator counted as sent and acknowledged is what GridPatrol stored, and every
 * fault it counted is a dead letter or a refusal of the expected kind, in the same numbers.
 */
let gp: Awaited<ReturnType<typeof startInProcess>>;
let h: Http;
let probe: StoreProbe;
let url: string;
let mqttUrl: string;

beforeAll(async () => {
  gp = await startInProcess();
  h = gp.http;
  url = `http://127.0.0.1:${gp.ports.httpPort}`;
  mqttUrl = `mqtt://127.0.0.1:${gp.ports.mqttPort}`;
  probe = await sqliteProbe();
  probe.env(gp.gp.config.dataDir);
});

afterAll(async () => {
  await gp?.stop();
});

async function metric(name: string, labels = ''): Promise<number> {
  const text = (await h('GET', '/metrics', undefined, null)).json as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function allDeadLetters(): Promise<Array<{ deviceId: string; stage: string; code: string; payload: string }>> {
  const out = [];
  let cursor: string | null = null;
  do {
    const r = await h('GET', `/api/v1/dead-letters?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...r.json.items);
    cursor = r.json.next;
  } while (cursor);
  return out;
}

/** what GridPatrol holds for each device, through its API: track points and readings */
async function stored(s: RunSummary, from: number, to: number): Promise<Record<string, { telemetry?: number; readings?: number }>> {
  const out: Record<string, { telemetry?: number; readings?: number }> = {};
  for (const [id, ch] of Object.entries(s.perDevice)) {
    if (ch.telemetry) out[id] = { telemetry: (await h('GET', `/api/v1/drones/${id}/track?from=${from}&to=${to}&limit=10000`)).json.items.length };
    if (ch.readings) {
      const windows = (await h('GET', `/api/v1/sensors/${id}/readings?from=${from}&to=${to}&every=1h`)).json.items as Array<{ count: number }>;
      out[id] = { readings: windows.reduce((a, w) => a + w.count, 0) };
    }
  }
  return out;
}

const expectedStored = (s: RunSummary) =>
  Object.fromEntries(Object.entries(s.perDevice).map(([id, ch]) => [id, ch.telemetry ? { telemetry: ch.telemetry.itemsAcked } : { readings: ch.readings!.itemsAcked }]));

describe('the faults scenario against GridPatrol', () => {
  let s: RunSummary;
  const deadLetterKinds = (Object.entries(FAULT_OUTCOMES) as Array<[FaultKind, (typeof FAULT_OUTCOMES)[FaultKind]]>).filter(([, o]) => o.kind === 'dead_letter');

  beforeAll(async () => {
    s = await runScenario({ scenario: loadScenario('faults'), url, mqttUrl, token: ADMIN_TOKEN, speed: 10 });
  });

  it('sent every fault kind it was asked for, and every valid message was acknowledged', () => {
    expect(s.errors).toEqual({ count: 0, samples: [] });
    expect(Object.keys(s.faults).sort()).toEqual(Object.keys(FAULT_OUTCOMES).sort());
    for (const [kind, f] of Object.entries(s.faults)) {
      expect(f.sent, kind).toBe(2);
      expect(f.unexpected, kind).toBe(0);
      expect(f.skipped, kind).toBe(0);
    }
    for (const [ch, c] of Object.entries(s.channels)) expect(c.acked, ch).toBe(c.sent);
    expect(s.channels.telemetry.sent).toBeGreaterThan(100);
    expect(s.channels.readings.sent).toBeGreaterThan(10);
  });

  it('every valid object it counted is stored, device by device', async () => {
    const from = s.startMs - 3_600_000;
    const to = s.startMs + s.simulatedMs + 3_600_000;
    const want = expectedStored(s);
    await eventually(async () => JSON.stringify(await stored(s, from, to)) === JSON.stringify(want), 15_000);
    expect(await stored(s, from, to)).toEqual(want);
    expect(await metric('gridpatrol_records_accepted_total', '{type="telemetry"}')).toBe(s.channels.telemetry.itemsAcked);
  });

  it('every bad payload it counted is a dead letter of the expected stage and code, and nothing else is', async () => {
    const letters = await allDeadLetters();
    const byKind: Record<string, number> = {};
    for (const l of letters) {
      // which fault sent it: same device, same first bytes
      const f = s.faultLog.find((x) => x.device === l.deviceId && x.payload.slice(0, 200) === l.payload.slice(0, 200));
      expect(f, `a dead letter the simulator did not send: ${l.payload.slice(0, 120)}`).toBeDefined();
      const o = FAULT_OUTCOMES[f!.kind];
      expect(o.kind === 'dead_letter' && `${o.stage}/${o.code}`, f!.kind).toBe(`${l.stage}/${l.code}`);
      byKind[f!.kind] = (byKind[f!.kind] ?? 0) + 1;
    }
    expect(byKind).toEqual(Object.fromEntries(deadLetterKinds.map(([k]) => [k, s.faults[k]!.acked])));
    expect(letters).toHaveLength(deadLetterKinds.reduce((a, [k]) => a + s.faults[k]!.acked, 0));
  });

  it('every duplicate, wrong password and foreign publish it counted is counted by GridPatrol too', async () => {
    expect(await metric('gridpatrol_duplicates_total')).toBe(s.faults.duplicate!.acked);
    expect(await metric('gridpatrol_mqtt_refused_total', '{action="connect",reason="bad_password"}')).toBe(s.faults.wrong_credentials!.refused);
    expect(await metric('gridpatrol_mqtt_refused_total', '{action="publish",reason="foreign_device"}')).toBe(s.faults.foreign_topic!.refused);
    // the storms' connections were all let in, and nothing else was refused
    expect(s.faults.reconnect_storm!.connections).toBe(2 * 5);
    const text = (await h('GET', '/metrics', undefined, null)).json as string;
    const refusals = text.split('\n').filter((l) => l.startsWith('gridpatrol_mqtt_refused_total{'));
    expect(refusals.map((l) => l.replace(/ \d+$/, '')).sort()).toEqual([
      'gridpatrol_mqtt_refused_total{action="connect",reason="bad_password"}',
      'gridpatrol_mqtt_refused_total{action="publish",reason="foreign_device"}',
    ]);
    expect(await metric('gridpatrol_mqtt_limit_disconnects_total', '{limit="rate"}')).toBe(0);
  });
});

describe('a patrol with an incident, a lost link and a command from GridPatrol', () => {
  let s: RunSummary;
  let admin: MqttClient;
  const sawOffline: string[] = [];

  beforeAll(async () => {
    const scenario = parseScenario(
      `
name: e2e-patrol
seed: 5
duration: 60s
drones:
  - { id: e2e-d1, cell: LY-C3, start: airborne, hold: 20s }
  - { id: e2e-d2, cell: LY-D4, start: airborne }
sensors:
  - { id: e2e-smoke, cell: LY-C3, metrics: [smoke], interval: 5s }
timeline:
  - { at: 2s, incident: { id: fire-1, kind: fire, where: { nearDrone: e2e-d1, aheadM: 150 } } }
  - { at: 10s, lostLink: { drone: e2e-d2, duration: 20s, buffer: true } }
`,
      'e2e.yaml',
    );
    admin = await connectMqtt(gp.ports.mqttPort, 'token', ADMIN_TOKEN, { clientId: 'e2e-operator' });
    let commanded = false;
    let asking = false;
    s = await runScenario({
      scenario, url, mqttUrl, token: ADMIN_TOKEN, speed: 10,
      onProgress: ({ phase, done }) => {
        if (phase !== 'running') return;
        // an operator sends e2e-d1 somewhere once the run is under way
        if (!commanded && done >= 35_000) {
          commanded = true;
          void admin.publishAsync(topics.droneCommands('e2e-d1'), JSON.stringify({ cmd: 'goto', lat: 33.83, lon: 113.9, reason: 'e2e' }), { qos: 1 });
        }
        // while e2e-d2's link is down (10 s to 30 s) its last will says offline
        if (!asking && done >= 11_000 && done < 29_000 && !sawOffline.includes('e2e-d2')) {
          asking = true;
          void h('GET', '/api/v1/drones').then((r) => {
            asking = false;
            for (const d of r.json.items as Array<{ id: string; online: boolean | null }>) if (d.online === false) sawOffline.push(d.id);
          });
        }
      },
    });
  });

  afterAll(() => admin?.end(true));

  it('stores every telemetry object, the backlog after the lost link included, every reading and every detection', async () => {
    expect(s.errors).toEqual({ count: 0, samples: [] });
    expect(s.links).toEqual({ lost: 1, restored: 1 });
    const from = s.startMs - 3_600_000;
    const to = s.startMs + s.simulatedMs + 3_600_000;
    const want = expectedStored(s);
    await eventually(async () => JSON.stringify(await stored(s, from, to)) === JSON.stringify(want), 15_000);
    // the backlog went up as one batch after the link came back
    expect(s.channels.telemetry.items).toBeGreaterThan(s.channels.telemetry.sent);
    expect(s.channels.events.itemsAcked).toBeGreaterThan(0);
    await eventually(async () => (await probe.count('drone_event', "drone_id = 'e2e-d1' AND kind = 'fire'")) === s.channels.events.itemsAcked);
    expect(await probe.count('drone_event')).toBe(s.channels.events.itemsAcked);
  });

  it('registered the sensor with its cell (and where it stands, where the API takes a position)', async () => {
    const sensor = (await h('GET', '/api/v1/sensors')).json.items.find((x: { id: string }) => x.id === 'e2e-smoke') as { gridId: string; lat?: number | null; lon?: number | null };
    expect(sensor.gridId).toBe('LY-C3');
    if ('lat' in sensor) expect(county.cellAt(sensor.lat!, sensor.lon!)).toBe('LY-C3');
  });

  it('lets the broker publish the last will when the link dies without a disconnect', () => {
    expect(sawOffline).toContain('e2e-d2');
  });

  it('obeys a command that GridPatrol delivers on the drone\'s commands topic, and reports the mode', async () => {
    expect(s.commands).toEqual({ received: 1, accepted: 1, refused: 0, invalid: 0 });
    const track = (await h('GET', `/api/v1/drones/e2e-d1/track?from=${s.startMs - 60_000}&to=${s.startMs + 120_000}&limit=10000`)).json.items as Array<{ mode: string }>;
    const modes = track.map((p) => p.mode);
    expect(modes[0]).toBe('patrol');
    expect(modes).toContain('goto');
    const drones = (await h('GET', '/api/v1/drones')).json.items as Array<{ id: string; online: boolean | null }>;
    // a clean end: every device said offline itself
    expect(drones.filter((d) => d.id.startsWith('e2e-')).map((d) => d.online)).toEqual([false, false]);
  });
});

describe('the load generator against GridPatrol', () => {
  it('counts sent, acknowledged and failed, and measures publish → PUBACK latency, in one process or several', async () => {
    const devices = await registerDevices({ url, token: ADMIN_TOKEN, devices: ['l1', 'l2', 'l3', 'l4'].map((id) => ({ id: `load-${id}`, kind: 'drone' as const })) });
    const one = await runLoad({ mqttPort: gp.ports.mqttPort, devices: devices.slice(0, 2), ratePerDevice: 20, durationMs: 1000, qos: 1, batchSize: 1 });
    expect(one.sent).toBeGreaterThanOrEqual(38);
    expect(one.acked).toBe(one.sent);
    expect(one.failed).toBe(0);
    expect(one.latency.count).toBe(one.acked);
    expect(one.latency.p50Ms).toBeGreaterThan(0);
    expect(one.latency.p50Ms).toBeLessThanOrEqual(one.latency.p99Ms);
    expect(one.latency.p99Ms).toBeLessThanOrEqual(one.latency.maxMs);

    const two = await runLoadInWorkers({ mqttPort: gp.ports.mqttPort, devices, ratePerDevice: 10, durationMs: 1000, qos: 1, batchSize: 2, seqStart: one.nextSeq }, 2);
    expect(two.sent).toBeGreaterThanOrEqual(36);
    expect(two.acked).toBe(two.sent);
    expect(two.points).toBe(2 * two.sent);
    expect(two.latency.count).toBe(two.acked);
    await eventually(async () => (await probe.count('drone_telemetry', "drone_id LIKE 'load-%'")) === one.pointsAcked + two.pointsAcked);
  });
});

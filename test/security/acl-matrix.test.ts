import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeGranted } from '../../broker/test-kit.js';
import { connectMqtt, eventually, registerDevice, startInProcess } from '../helpers/gridpatrol.js';
import { metricSum, scrape } from '../helpers/metrics.js';

/**
 * Issue 8, security (10): the MQTT ACL, exhaustively, against the real broker. The expected
 * answer for every (principal, topic) pair is written here from CONTRACT.md, independently of
 * broker/authorize-*.ts: devices publish only their own uplink topics and subscribe only to their
 * own commands; people publish nothing but drone commands (admins); operators and up subscribe to
 * device topics, officers and admins to alerts (a limited officer: their cells only).
 */
type Who = 'drone' | 'sensor' | 'officerLimited' | 'officer' | 'operator' | 'admin';
const R = 'gridpatrol/v1';
const OWN_CELL = 'LY-C3';

// concrete topics (publish and subscribe) and filters (subscribe only)
const TOPICS = {
  ownTelemetry: `${R}/drones/d-a/telemetry`,
  ownEvents: `${R}/drones/d-a/events`,
  ownStatus: `${R}/drones/d-a/status`,
  ownCommands: `${R}/drones/d-a/commands`,
  otherTelemetry: `${R}/drones/d-b/telemetry`,
  otherStatus: `${R}/drones/d-b/status`,
  otherCommands: `${R}/drones/d-b/commands`,
  sensorReadings: `${R}/sensors/s-a/readings`,
  sensorStatus: `${R}/sensors/s-a/status`,
  otherSensorReadings: `${R}/sensors/s-b/readings`,
  droneAsSensor: `${R}/sensors/d-a/readings`,
  sensorAsDrone: `${R}/drones/s-a/telemetry`,
  alertOwnCell: `${R}/alerts/${OWN_CELL}/critical`,
  alertOtherCell: `${R}/alerts/LY-A1/warning`,
  sys: '$SYS/broker/clients/connected',
  extraLevel: `${R}/drones/d-a/telemetry/extra`,
  emptyLevel: `${R}/drones/d-a//telemetry`,
  leadingSlash: `/${R}/drones/d-a/telemetry`,
  upperCase: `GRIDPATROL/v1/drones/d-a/telemetry`,
  otherVersion: `gridpatrol/v2/drones/d-a/telemetry`,
  dotDot: `${R}/drones/../drones/d-a/telemetry`,
  space: `${R}/drones/d-a /telemetry`,
  unicode: `${R}/drones/d-ä/telemetry`,
  quote: `${R}/drones/d-a"/telemetry`,
  unknownChannel: `${R}/drones/d-a/firmware`,
  root: 'gridpatrol',
} as const;
const FILTERS = {
  all: '#',
  sysAll: '$SYS/#',
  plusRoot: '+/v1/drones/d-a/telemetry',
  dronesTelemetry: `${R}/drones/+/telemetry`,
  dronesAll: `${R}/drones/#`,
  ownAll: `${R}/drones/d-a/#`,
  ownPlus: `${R}/drones/d-a/+`,
  commandsAll: `${R}/drones/+/commands`,
  sensorsReadings: `${R}/sensors/+/readings`,
  alertsAll: `${R}/alerts/#`,
  alertsOwnCellAny: `${R}/alerts/${OWN_CELL}/+`,
  alertsOwnCellHash: `${R}/alerts/${OWN_CELL}/#`,
  alertsAnyCritical: `${R}/alerts/+/critical`,
  v1All: `${R}/#`,
} as const;
type Name = keyof typeof TOPICS | keyof typeof FILTERS;
const ALL: Record<Name, string> = { ...TOPICS, ...FILTERS };

const isDeviceTree = (t: string) => t.startsWith(`${R}/drones/`) || t.startsWith(`${R}/sensors/`);

/** CONTRACT.md, publish. */
function mayPublish(who: Who, name: keyof typeof TOPICS): boolean {
  if (who === 'drone') return ['ownTelemetry', 'ownEvents', 'ownStatus'].includes(name);
  if (who === 'sensor') return ['sensorReadings', 'sensorStatus'].includes(name);
  if (who === 'admin') return ['ownCommands', 'otherCommands'].includes(name);
  return false;
}

/** CONTRACT.md, subscribe. */
function maySubscribe(who: Who, name: Name): boolean {
  if (who === 'drone') return name === 'ownCommands';
  if (who === 'sensor') return false;
  const topic = ALL[name];
  // alert topics and filters: officers and admins; a limited officer only filters naming their cell
  if (topic.startsWith(`${R}/alerts/`)) {
    if (who === 'operator') return false;
    if (who === 'officerLimited') return topic.split('/')[3] === OWN_CELL;
    return true;
  }
  // device topics, wildcards included, for operators and up; nothing else ($SYS, '#', other roots)
  return isDeviceTree(topic);
}

const PAYLOAD: Partial<Record<keyof typeof TOPICS, string>> = {
  ownCommands: '{"cmd":"rth"}',
  otherCommands: '{"cmd":"rth"}',
  ownStatus: '{"state":"online"}',
  sensorStatus: '{"state":"online"}',
  sensorReadings: JSON.stringify({ ts: Date.now(), metric: 'gas', value: 1 }),
};
const telemetry = () => JSON.stringify({ ts: Date.now(), seq: Math.floor(Math.random() * 1e9), lat: 33.81, lon: 113.95, alt: 100, speed: 5, heading: 0, battery: 90, mode: 'patrol', rssi: -60, sats: 10 });

describe('the MQTT ACL matrix (CONTRACT.md)', () => {
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  const creds = {} as Record<Who, { username: string; password: string }>;

  beforeAll(async () => {
    gp = await startInProcess({ GRIDPATROL_MAX_MSGS_PER_SEC: '10000' });
    creds.drone = { username: 'd-a', password: await registerDevice(gp.http, 'd-a', 'drone') };
    await registerDevice(gp.http, 'd-b', 'drone');
    creds.sensor = { username: 's-a', password: await registerDevice(gp.http, 's-a', 'sensor', 'LY-B2') };
    await registerDevice(gp.http, 's-b', 'sensor');
    const token = async (role: string, grids?: string[]) => {
      const r = await gp.http('POST', '/api/v1/tokens', { name: `acl-${role}`, role, ...(grids && { grids }) });
      expect(r.status).toBe(201);
      return { username: 'token', password: r.json.token as string };
    };
    creds.officerLimited = await token('officer', [OWN_CELL]);
    creds.officer = await token('officer');
    creds.operator = await token('operator');
    creds.admin = await token('admin');
  });
  afterAll(() => gp?.stop());

  const principals = ['drone', 'sensor', 'officerLimited', 'officer', 'operator', 'admin'] as const;

  it.each(principals)('%s: SUBACK grants exactly the contract filters (128 for the rest) and the connection stays open', async (who) => {
    const client = await connectMqtt(gp.ports.mqttPort, creds[who].username, creds[who].password);
    const names = Object.keys(ALL) as Name[];
    const before = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_mqtt_refused_total', { action: 'subscribe' });
    const granted = await subscribeGranted(client, names.map((n) => ALL[n]));
    const got = Object.fromEntries(names.map((n, i) => [n, granted[i] !== 128]));
    const want = Object.fromEntries(names.map((n) => [n, maySubscribe(who, n)]));
    expect(got).toEqual(want);
    expect(client.connected).toBe(true);
    const after = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_mqtt_refused_total', { action: 'subscribe' });
    expect(after - before).toBe(Object.values(want).filter((ok) => !ok).length);
    client.end(true);
  });

  const publishCases = principals.flatMap((who) => (Object.keys(TOPICS) as Array<keyof typeof TOPICS>).map((name) => [who, name] as const));

  it(`publish: ${publishCases.length} (principal, topic) pairs are acknowledged or refused (connection closed, no PUBACK) exactly as the contract says`, async () => {
    const results: Record<string, boolean> = {};
    const expected: Record<string, boolean> = {};
    const before = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_mqtt_refused_total', { action: 'publish' });
    let client: MqttClient | undefined;
    for (const [who, name] of publishCases) {
      if (!client?.connected) client = await connectMqtt(gp.ports.mqttPort, creds[who].username, creds[who].password, { clientId: `acl-${who}-${name}` });
      const c = client;
      const closed = new Promise<'refused'>((r) => c.once('close', () => r('refused')));
      const acked = c.publishAsync(TOPICS[name], PAYLOAD[name] ?? telemetry(), { qos: 1 }).then(() => 'acked' as const, () => 'refused' as const);
      const outcome = await Promise.race([acked, closed]);
      results[`${who} → ${name}`] = outcome === 'acked';
      expected[`${who} → ${name}`] = mayPublish(who, name);
      if (outcome === 'refused') c.end(true);
      // the next principal starts on a fresh connection
      const idx = publishCases.findIndex(([w, n]) => w === who && n === name);
      if (publishCases[idx + 1]?.[0] !== who) {
        c.end(true);
        client = undefined;
      }
    }
    expect(results).toEqual(expected);
    const after = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_mqtt_refused_total', { action: 'publish' });
    expect(after - before).toBe(Object.values(expected).filter((ok) => !ok).length);
  }, 120_000);

  it('stores nothing a device published as another, and nothing under a sensor id on a drone topic', async () => {
    const db = (await import('better-sqlite3')).default;
    const byDrone = () => {
      const telemetryDb = new db(`${gp.gp.config.dataDir}/telemetry.db`, { readonly: true });
      try {
        return telemetryDb.prepare('SELECT drone_id, COUNT(*) AS n FROM drone_telemetry GROUP BY drone_id').all();
      } finally {
        telemetryDb.close();
      }
    };
    // the one acknowledged telemetry publish lands; nothing else ever does
    await eventually(() => byDrone().length > 0);
    expect(byDrone()).toEqual([{ drone_id: 'd-a', n: 1 }]);
  });

  it('refuses anonymous and wrong credentials at CONNECT (4), and a drone password used as a sensor name', async () => {
    const code = (opts: mqtt.IClientOptions) => connectMqtt(gp.ports.mqttPort, opts.username ?? '', String(opts.password ?? ''), opts).then(() => 0, (e: { code?: number }) => e.code);
    expect(await code({ username: undefined, password: undefined })).toBe(4);
    expect(await code({ username: 'd-a', password: 'wrong' })).toBe(4);
    expect(await code({ username: 's-a', password: creds.drone.password })).toBe(4);
    expect(await code({ username: 'token', password: creds.drone.password })).toBe(4);
    expect(await code({ username: 'd-b', password: creds.admin.password })).toBe(4);
  });
});

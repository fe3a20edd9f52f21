import Database from 'better-sqlite3';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { topics } from '../../core/topics.js';
import { loadConfig } from '../../lib/config.js';
import { DeviceRegistry } from '../../storage/devices.js';
import { openMetadataDb } from '../../storage/metadata-db.js';
import { openSse } from '../helpers/alerts.js';
import { ADMIN_TOKEN, connectMqtt, eventually, spawnGridPatrol, startInProcess, telemetry, testEnv, type Http } from '../helpers/gridpatrol.js';

/**
 * Issue 8 (12): secrets are stored only hashed, never logged, and compared in constant time.
 *
 * GridPatrol runs as its own process at log level `trace` (every line it can write) while a
 * session uses every secret it knows: device passwords (right, wrong, rotated), API tokens
 * (issued, used over HTTP, SSE and MQTT, revoked, wrong), the admin token and a webhook secret.
 * Then every byte the process wrote, and every file in its data folder, is searched for every
 * secret in the forms it could take (plain, base64, base64url, hex, URL-encoded).
 */

// every node:crypto comparison made in this process is seen (the spawned process is not affected)
vi.mock('node:crypto', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:crypto')>();
  return { ...orig, timingSafeEqual: vi.fn(orig.timingSafeEqual) };
});

/** The forms a secret could take in a log line or a file. */
function forms(secret: string): string[] {
  const b = Buffer.from(secret, 'utf8');
  return [secret, b.toString('base64'), b.toString('base64url'), b.toString('hex'), encodeURIComponent(secret)];
}

/** Each secret (by what it is) found in `text`, in any of its forms. */
function leaks(text: string, secrets: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [what, value] of secrets) for (const f of forms(value)) if (text.includes(f)) found.push(`${what} (${f === value ? 'plain' : `as ${f}`})`);
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** An MQTT connect that must be refused; resolves with the CONNACK's reason. */
async function refusedConnect(port: number, username: string, password: string): Promise<string> {
  try {
    const c = await connectMqtt(port, username, password, { clientId: `refused-${randomBytes(4).toString('hex')}` });
    c.end(true);
    return 'accepted';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('secrets in a GridPatrol process', () => {
  const secrets = new Map<string, string>();
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>>;
  let dataDir: string;
  let hook: Server;
  const signatures: string[] = [];
  let h: Http;

  beforeAll(async () => {
    // a webhook target that fails the first delivery (so the failure is logged) and takes the rest
    hook = createServer((req, res) => {
      signatures.push(String(req.headers['x-gridpatrol-signature']));
      req.resume();
      req.on('end', () => res.writeHead(signatures.length === 1 ? 500 : 204).end());
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const webhookSecret = `whsec-${randomBytes(18).toString('base64url')}`;
    secrets.set('admin token', ADMIN_TOKEN);
    secrets.set('webhook secret', webhookSecret);
    const env = testEnv({ GRIDPATROL_WEBHOOK_URLS: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, GRIDPATROL_WEBHOOK_SECRET: webhookSecret });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    gp = await spawnGridPatrol(env, { logLevel: 'trace' });
    h = gp.http;
  });

  afterAll(async () => {
    gp?.child.kill('SIGKILL');
    await gp?.exited;
    hook?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('uses every kind of secret, then finds none of them in any log line or data file', async () => {
    const port = gp.ports.mqttPort;
    // devices: registered, right and wrong passwords, rotated
    const reg = await h('POST', '/api/v1/devices', { id: 'sec-drone', kind: 'drone', gridId: 'LY-C4' });
    expect(reg.status).toBe(201);
    const first = reg.json.password as string;
    secrets.set('device password', first);
    const sensor = await h('POST', '/api/v1/devices', { id: 'sec-sensor', kind: 'sensor', gridId: 'LY-C4' });
    secrets.set('sensor password', sensor.json.password);
    const wrong = `wrong-${randomBytes(12).toString('base64url')}`;
    secrets.set('wrong device password', wrong);
    expect(await refusedConnect(port, 'sec-drone', wrong)).toMatch(/Bad username or password|Not authorized/);
    expect(await refusedConnect(port, 'nobody-registered', wrong)).toMatch(/Bad username or password|Not authorized/);
    const drone = await connectMqtt(port, 'sec-drone', first, { clientId: 'sec-drone' });
    await drone.publishAsync(topics.droneTelemetry('sec-drone'), JSON.stringify(telemetry(1)), { qos: 1 });
    const sensorClient = await connectMqtt(port, 'sec-sensor', sensor.json.password, { clientId: 'sec-sensor' });
    sensorClient.end(true);

    // API tokens: issued, used on HTTP, SSE and MQTT, wrong, revoked
    const officer = await h('POST', '/api/v1/tokens', { name: 'officer-app', role: 'officer' });
    expect(officer.status).toBe(201);
    secrets.set('officer token', officer.json.token);
    const operator = await h('POST', '/api/v1/tokens', { name: 'script', role: 'operator' });
    secrets.set('operator token', operator.json.token);
    expect((await h('GET', '/api/v1/drones', undefined, operator.json.token)).status).toBe(200);
    expect((await h('GET', '/api/v1/tokens', undefined, operator.json.token)).status).toBe(403);
    const wrongToken = `gpt_${randomBytes(24).toString('base64url')}`;
    secrets.set('wrong API token', wrongToken);
    expect((await h('GET', '/api/v1/drones', undefined, wrongToken)).status).toBe(401);
    const basic = `basic-pass-${randomBytes(9).toString('hex')}`;
    secrets.set('basic-auth password', basic);
    const res = await fetch(`http://127.0.0.1:${gp.ports.httpPort}/api/v1/drones`, { headers: { authorization: `Basic ${Buffer.from(`admin:${basic}`).toString('base64')}` } });
    expect(res.status).toBe(401);
    const sse = await openSse(gp.ports.httpPort, { token: officer.json.token });
    expect(sse.status).toBe(200);
    const app = await connectMqtt(port, 'token', officer.json.token, { clientId: 'officer-app' });
    await app.subscribeAsync(topics.alerts('+', '+'), { qos: 1 });
    expect(await refusedConnect(port, 'token', wrongToken)).toMatch(/Bad username or password|Not authorized/);
    expect((await h('DELETE', `/api/v1/tokens/${operator.json.id}`)).status).toBe(200);
    expect((await h('GET', '/api/v1/drones', undefined, operator.json.token)).status).toBe(401);
    expect(await refusedConnect(port, 'token', operator.json.token)).toMatch(/Bad username or password|Not authorized/);
    expect((await h('GET', '/api/v1/drones', undefined, `${ADMIN_TOKEN}x`)).status).toBe(401);

    // an alert goes to SSE, MQTT and the webhook (signed with the secret; the first delivery fails and is retried)
    await drone.publishAsync(topics.droneEvents('sec-drone'), JSON.stringify({ ts: Date.now() - 1000, kind: 'fire', confidence: 0.95, lat: 33.8123, lon: 113.9541 }), { qos: 1 });
    await sse.events.waitFor((e) => e.alert.ruleId === 'detect-fire', 'the fire alert on SSE');
    await eventually(() => signatures.length >= 2, 20_000);
    for (const [i, s] of signatures.entries()) secrets.set(`webhook signature ${i}`, s.replace(/^sha256=/, ''));
    sse.close();
    app.end(true);

    // rotation: the old password stops working, the new one works
    const rotated = await h('POST', '/api/v1/devices/sec-drone/rotate');
    expect(rotated.status).toBe(200);
    secrets.set('rotated device password', rotated.json.password);
    await eventually(() => !drone.connected);
    drone.end(true);
    expect(await refusedConnect(port, 'sec-drone', first)).toMatch(/Bad username or password|Not authorized/);
    (await connectMqtt(port, 'sec-drone', rotated.json.password, { clientId: 'sec-drone' })).end(true);

    // a clean stop writes its last lines; then everything is on disk and in the captured output
    gp.child.kill('SIGTERM');
    expect(await gp.exited).toBe(0);
    const output = gp.output();
    const lines = output.split('\n').filter(Boolean);
    console.log(`secrets: searched ${lines.length} log lines (level trace) and ${filesUnder(dataDir).length} data files for ${secrets.size} secrets in ${forms('x').length} forms`);
    // the refusals are logged at debug: proof that the low levels were written and searched too
    expect(gp.logs.filter((l) => l.msg === 'connect refused').length).toBeGreaterThanOrEqual(4);
    expect(leaks(output, secrets)).toEqual([]);
    for (const f of filesUnder(dataDir)) expect({ file: f, leaks: leaks(readFileSync(f).toString('latin1'), secrets) }).toEqual({ file: f, leaks: [] });

    // what is stored instead: a salted SHA-256 per device, a SHA-256 per token
    const db = new Database(join(dataDir, 'gridpatrol.db'), { readonly: true });
    try {
      const devices = db.prepare('SELECT id, password_hash AS hash FROM devices ORDER BY id').all() as Array<{ id: string; hash: string }>;
      expect(devices.map((d) => d.id)).toEqual(['sec-drone', 'sec-sensor']);
      for (const d of devices) expect(d.hash).toMatch(/^sha256\$[\w-]{16,}\$[\w-]{43}$/);
      const tokens = db.prepare('SELECT token_hash AS hash FROM api_tokens ORDER BY created_at').all() as Array<{ hash: string }>;
      expect(tokens.map((t) => t.hash).sort()).toEqual([officer.json.token, operator.json.token].map((t: string) => createHash('sha256').update(t).digest('base64url')).sort());
    } finally {
      db.close();
    }
  }, 90_000);
});

describe('secrets printed by GridPatrol itself', () => {
  it('prints a generated admin token once, on its own banner line, and keeps it in a file only its owner reads', async () => {
    const env = testEnv();
    delete env.GRIDPATROL_ADMIN_TOKEN;
    const gp = await spawnGridPatrol(env);
    try {
      const file = join(env.GRIDPATROL_DATA_DIR!, 'admin-token');
      const token = readFileSync(file, 'utf8').trim();
      expect(statSync(file).mode & 0o077).toBe(0);
      expect((await gp.http('GET', '/api/v1/tokens', undefined, token)).status).toBe(200);
      gp.child.kill('SIGTERM');
      await gp.exited;
      const lines = gp.output().split('\n');
      const shown = lines.filter((l) => forms(token).some((f) => l.includes(f)));
      expect(shown).toEqual([`  ${token}`]);
      expect(lines[lines.indexOf(`  ${token}`) - 1]).toMatch(/^gridpatrol: admin token \(shown once/);
    } finally {
      gp.child.kill('SIGKILL');
      rmSync(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
    }
  });

  it('reports a bad secret setting by its length, never its value', () => {
    const adminToken = 'short-admin-tok';
    const webhookSecret = 'short-hook-key';
    const loaded = loadConfig({ GRIDPATROL_ADMIN_TOKEN: adminToken, GRIDPATROL_WEBHOOK_URLS: 'http://127.0.0.1:9/x', GRIDPATROL_WEBHOOK_SECRET: webhookSecret, GRIDPATROL_MQTT_PORT: 'x' });
    expect(loaded.ok).toBe(false);
    const errors = loaded.ok ? [] : loaded.errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        `invalid setting GRIDPATROL_ADMIN_TOKEN=(secret, ${adminToken.length} characters): at least 16 characters (admin bearer token; unset: generated once, printed, kept in the data folder)`,
        expect.stringMatching(/^invalid setting GRIDPATROL_WEBHOOK_SECRET=\(secret, 14 characters\): at least 16 characters/),
        expect.stringMatching(/^invalid setting GRIDPATROL_MQTT_PORT="x": /),
      ]),
    );
    for (const e of errors) expect(e).not.toMatch(/short-admin-tok|short-hook-key/);
  });
});

describe('constant-time comparison', () => {
  const compare = vi.mocked(timingSafeEqual);

  it('checks a device password by timingSafeEqual of salted SHA-256 digests, a cached one by timingSafeEqual of SHA-256 digests', async () => {
    const db = openMetadataDb(':memory:');
    try {
      const devices = new DeviceRegistry(db);
      const { password } = await devices.register({ id: 'ct-drone', kind: 'drone' });
      compare.mockClear();
      expect(await devices.verify('ct-drone', 'not-the-password')).toBeNull();
      expect(compare).toHaveBeenCalledTimes(1);
      const [a, b] = compare.mock.calls[0]!;
      expect([a.byteLength, b.byteLength]).toEqual([32, 32]); // digests, not the password
      compare.mockClear();
      expect(await devices.verify('ct-drone', password)).not.toBeNull(); // from the database
      expect(await devices.verify('ct-drone', password)).not.toBeNull(); // cached
      expect(compare).toHaveBeenCalledTimes(2);
      for (const [x, y] of compare.mock.calls) {
        expect(Buffer.from(x as Uint8Array).includes(Buffer.from(password))).toBe(false);
        expect(x.byteLength).toBe(y.byteLength);
      }
    } finally {
      db.close();
    }
  });

  it('compares the admin token as equal-length digests with timingSafeEqual, whatever the length of what was sent', async () => {
    const gp = await startInProcess();
    try {
      for (const sent of [ADMIN_TOKEN, `${ADMIN_TOKEN}-longer`, 'x'.repeat(17)]) {
        compare.mockClear();
        await gp.gp.api.inject({ method: 'GET', url: '/api/v1/drones', headers: { authorization: `Bearer ${sent}` } });
        expect(compare).toHaveBeenCalled();
        const [x, y] = compare.mock.calls[0]!;
        expect([x.byteLength, y.byteLength]).toEqual([32, 32]);
      }
      // API tokens are looked up by their SHA-256 (an index, no comparison of the token): a 192-bit random
      // token, hashed, cannot be approached byte by byte, so the lookup's timing tells nothing
      const issued = await gp.gp.api.inject({ method: 'POST', url: '/api/v1/tokens', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'x', role: 'operator' } });
      expect(issued.json().token).toMatch(/^gpt_[\w-]{32}$/);
    } finally {
      await gp.stop();
    }
  });
});

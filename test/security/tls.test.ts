import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../core/topics.js';
import { loadConfig } from '../../lib/config.js';
import { loadTls } from '../../lib/tls.js';
import { ADMIN_TOKEN, spawnGridPatrol, telemetry, testEnv } from '../helpers/gridpatrol.js';

/**
 * Issue 8 (14): TLS on the MQTT, WebSocket and HTTP listeners, with a certificate authority and a
 * server certificate for 127.0.0.1 made here by the openssl CLI. Real clients: MQTT.js over
 * mqtts:// and wss:// trusting only that CA, node:https for the API.
 */
const dir = mkdtempSync(join(tmpdir(), 'gridpatrol-tls-'));
const file = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate it signed for 127.0.0.1 and localhost, and a key that belongs to neither. */
function makeCertificates(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=GridPatrol test CA');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'other.key');
}

/** An HTTPS request trusting only `ca`; the status and body, or the TLS error. */
function httpsGet(port: number, path: string, ca?: Buffer | string, token?: string, method = 'GET', body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request({ host: '127.0.0.1', port, path, method, ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

beforeAll(() => makeCertificates());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS listeners', () => {
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>>;
  let dataDir: string;
  let ca: Buffer;
  let password: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    ca = readFileSync(file('ca.pem'));
    const env = testEnv({ GRIDPATROL_TLS_CERT_FILE: file('server.pem'), GRIDPATROL_TLS_KEY_FILE: file('server.key'), GRIDPATROL_MQTTS_PORT: '0' });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    gp = await spawnGridPatrol(env);
    const r = await httpsGet(gp.ports.httpPort, '/api/v1/devices', ca, ADMIN_TOKEN, 'POST', { id: 'tls-drone', kind: 'drone' });
    expect(r.status).toBe(201);
    password = r.json.password;
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    gp?.child.kill('SIGKILL');
    await gp?.exited;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('listens for MQTT over TLS on its own port, besides plain MQTT', () => {
    expect(gp.ports.mqttsPort).toEqual(expect.any(Number));
    expect(gp.ports.mqttsPort).not.toBe(gp.ports.mqttPort);
  });

  it('serves the API over HTTPS with the certificate, and nothing over plain HTTP on that port', async () => {
    const health = await httpsGet(gp.ports.httpPort, '/healthz', ca);
    expect(health.status).toBe(200);
    const drones = await httpsGet(gp.ports.httpPort, '/api/v1/drones', ca, ADMIN_TOKEN);
    expect(drones.status).toBe(200);
    // a client that does not trust the CA refuses the certificate
    await expect(httpsGet(gp.ports.httpPort, '/healthz')).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    await expect(fetch(`http://127.0.0.1:${gp.ports.httpPort}/healthz`)).rejects.toThrow();
  });

  it('takes a device over mqtts:// with the CA: QoS 1 telemetry is acknowledged and stored', async () => {
    const drone = await connect(`mqtts://127.0.0.1:${gp.ports.mqttsPort}`, { username: 'tls-drone', password, ca, clientId: 'tls-drone' });
    clients.push(drone);
    await drone.publishAsync(topics.droneTelemetry('tls-drone'), JSON.stringify(telemetry(1)), { qos: 1 });
    const from = Date.now() - 3_600_000;
    let points = 0;
    for (let i = 0; i < 100 && points === 0; i++) {
      const track = await httpsGet(gp.ports.httpPort, `/api/v1/drones/tls-drone/track?from=${from}&to=${Date.now()}`, ca, ADMIN_TOKEN);
      points = track.json.items.length;
      if (points === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(points).toBe(1);
  });

  it('refuses an MQTT client that does not trust the certificate, and a wrong password over TLS', async () => {
    await expect(connect(`mqtts://127.0.0.1:${gp.ports.mqttsPort}`, { username: 'tls-drone', password })).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    await expect(connect(`mqtts://127.0.0.1:${gp.ports.mqttsPort}`, { username: 'tls-drone', password: 'wrong-password', ca })).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it('serves MQTT over WebSocket as wss:// with the same certificate', async () => {
    const app = await connect(`wss://127.0.0.1:${gp.ports.wsPort}/mqtt`, { username: 'token', password: ADMIN_TOKEN, ca });
    clients.push(app);
    const granted = await app.subscribeAsync(topics.alerts('+', '+'), { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
  });

  it('keeps plain MQTT on its port for devices that do not speak TLS', async () => {
    const plain = await connect(`mqtt://127.0.0.1:${gp.ports.mqttPort}`, { username: 'tls-drone', password, clientId: 'tls-drone-plain' });
    clients.push(plain);
    await plain.publishAsync(topics.droneTelemetry('tls-drone'), JSON.stringify(telemetry(2)), { qos: 1 });
  });
});

describe('TLS settings', () => {
  const base = (extra: Record<string, string>) => ({ GRIDPATROL_ADMIN_TOKEN: ADMIN_TOKEN, ...extra });

  it('needs the certificate and the key together', () => {
    const onlyCert = loadConfig(base({ GRIDPATROL_TLS_CERT_FILE: file('server.pem') }));
    expect(onlyCert.ok).toBe(false);
    if (!onlyCert.ok) expect(onlyCert.errors).toEqual([expect.stringMatching(/^invalid setting GRIDPATROL_TLS_KEY_FILE=.*required when GRIDPATROL_TLS_CERT_FILE is set/)]);
    const onlyKey = loadConfig(base({ GRIDPATROL_TLS_KEY_FILE: file('server.key') }));
    if (!onlyKey.ok) expect(onlyKey.errors).toEqual([expect.stringMatching(/^invalid setting GRIDPATROL_TLS_CERT_FILE=/)]);
    else expect.unreachable('a key without a certificate was accepted');
  });

  it('names the setting when a file is missing, not PEM, or the key is not the certificate\'s', () => {
    const tls = (cert: string, key: string) => () => loadTls({ certFile: cert, keyFile: key, mqttsPort: 0 });
    expect(tls(file('missing.pem'), file('server.key'))).toThrow(/^invalid setting GRIDPATROL_TLS_CERT_FILE=".*missing\.pem": cannot read it \(ENOENT\)$/);
    expect(tls(file('server.pem'), file('missing.key'))).toThrow(/^invalid setting GRIDPATROL_TLS_KEY_FILE=.*ENOENT/);
    expect(tls(file('server.key'), file('server.key'))).toThrow(/^invalid setting GRIDPATROL_TLS_CERT_FILE=.*not a PEM certificate/);
    expect(tls(file('server.pem'), file('server.pem'))).toThrow(/^invalid setting GRIDPATROL_TLS_KEY_FILE=.*not a PEM private key/);
    expect(tls(file('server.pem'), file('other.key'))).toThrow(/^invalid setting GRIDPATROL_TLS_KEY_FILE=.*cannot be used with GRIDPATROL_TLS_CERT_FILE=.*key values mismatch/);
    expect(loadTls({ certFile: file('server.pem'), keyFile: file('server.key'), mqttsPort: 0 })).toBeDefined();
  });

  it('stops the process with one line naming the setting', async () => {
    const env = testEnv({ GRIDPATROL_TLS_CERT_FILE: file('server.pem'), GRIDPATROL_TLS_KEY_FILE: file('other.key') });
    try {
      const err = await spawnGridPatrol(env).then(
        (gp) => {
          gp.child.kill('SIGKILL');
          return null;
        },
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/exited 2 before listening: gridpatrol: invalid setting GRIDPATROL_TLS_KEY_FILE=.*\n$/);
      expect(err!.message.split('before listening: ')[1]!.trim().split('\n')).toHaveLength(1);
    } finally {
      rmSync(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
    }
  });
});

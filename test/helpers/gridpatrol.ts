import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt, { type MqttClient } from 'mqtt';
import { buildGridPatrol, type GridPatrol } from '../../gridpatrol.js';
import { loadConfig } from '../../lib/config.js';
import { silentLogger } from '../../lib/logger.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface Ports {
  mqttPort: number;
  wsPort: number;
  httpPort: number;
  /** MQTT over TLS; null unless GRIDPATROL_TLS_CERT_FILE and GRIDPATROL_TLS_KEY_FILE are set */
  mqttsPort?: number | null;
}

/** Settings for a throwaway GridPatrol: ports 0, a fresh temp data folder, a known admin token. */
export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    GRIDPATROL_MQTT_PORT: '0', GRIDPATROL_MQTT_WS_PORT: '0', GRIDPATROL_HTTP_PORT: '0',
    GRIDPATROL_DATA_DIR: mkdtempSync(join(tmpdir(), 'gridpatrol-test-')),
    GRIDPATROL_ADMIN_TOKEN: ADMIN_TOKEN, GRIDPATROL_FLUSH_INTERVAL_MS: '20', GRIDPATROL_LOG_LEVEL: 'silent',
    ...extra,
  };
}

/** GridPatrol in this process (real broker, HTTP and store, listening on loopback). */
export async function startInProcess(extra: Record<string, string> = {}): Promise<{ gp: GridPatrol; ports: Ports; http: Http; stop(): Promise<void> }> {
  const env = testEnv(extra);
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const gp = await buildGridPatrol(loaded.config, silentLogger());
  const ports = await gp.start();
  return {
    gp, ports, http: http(ports.httpPort),
    async stop() {
      await gp.stop();
      rmSync(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
    },
  };
}

/** GridPatrol as its own process (`tsx main.ts`, or `opts.bundle`), for kill -9, logging at info (or `opts.logLevel`). Resolves when it listens. */
export async function spawnGridPatrol(env: Record<string, string>, opts: { logLevel?: string; role?: 'all' | 'broker' | 'ingest' | 'api'; /** a built start-up bundle (scripts/build-server.ts) to run instead of the sources */ bundle?: string; /** run it under `--supervise` (child is then the supervisor) */ supervise?: boolean } = {}): Promise<{ child: ChildProcess; ports: Ports; http: Http; exited: Promise<number | null>; logs: Array<Record<string, unknown> & { msg: string; level: number }>; output: () => string }> {
  const entry = opts.bundle ? ['--enable-source-maps', opts.bundle] : ['--import', 'tsx', 'main.ts'];
  const child = spawn(process.execPath, [...entry, ...(opts.supervise ? ['--supervise'] : []), ...(opts.role ? [opts.role] : [])], {
    cwd: join(import.meta.dirname, '../..'),
    env: { ...process.env, ...env, GRIDPATROL_LOG_LEVEL: opts.logLevel ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  // everything the process wrote, raw (stdout, then stderr), for tests that search all of it
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  // every log line at info and above, parsed, for tests that check what GridPatrol reported
  const logs: Array<Record<string, unknown> & { msg: string; level: number }> = [];
  const ports = await new Promise<Ports>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const rec = JSON.parse(line) as Record<string, unknown> & { msg: string; level: number } & Ports;
      logs.push(rec);
      if (rec.msg === 'gridpatrol listening') resolve({ mqttPort: rec.mqttPort, wsPort: rec.wsPort, httpPort: rec.httpPort, mqttsPort: rec.mqttsPort });
    });
    child.on('exit', (code) => reject(new Error(`gridpatrol exited ${code} before listening: ${stderr}`)));
  });
  return { child, ports, http: http(ports.httpPort), exited, logs, output: () => stdout + stderr };
}

export interface Http {
  (method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; headers: Headers; json: any }>;
}

export function http(port: number): Http {
  return async (method, path, body, token = ADMIN_TOKEN) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text };
  };
}

/** Registers a device over HTTP and connects it over MQTT with its issued password. */
export async function registerDevice(h: Http, id: string, kind: 'drone' | 'sensor', gridId?: string): Promise<string> {
  const r = await h('POST', '/api/v1/devices', { id, kind, ...(gridId && { gridId }) });
  if (r.status !== 201) throw new Error(`register ${id}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.password as string;
}

export async function connectMqtt(port: number, username: string, password: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username, password, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`connection of ${username} closed`)));
  });
  return client;
}

/** Polls until `check` returns a truthy value (events are awaited where there are any; stored data has none). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function telemetry(seq: number, extra: Record<string, unknown> = {}) {
  return { ts: Date.now() - 60_000 + seq, seq, lat: 33.8123, lon: 113.9541, alt: 118.5, speed: 8.2, heading: 270, battery: 76, mode: 'patrol', rssi: -67, sats: 14, ...extra };
}

/** Whether a process with this pid still exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

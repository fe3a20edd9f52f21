import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Config } from '../core/config.js';
import { silentLogger } from '../lib/logger.js';
import { createMetrics, type Metrics } from '../lib/metrics.js';
import { DeviceRegistry } from '../storage/devices.js';
import { openMetadataDb, type MetadataDb } from '../storage/metadata-db.js';
import { buildBroker } from './build.js';
import type { Broker, IncomingDeviceMessage, Principal } from './types.js';

/** Fixed API tokens for tests; the real token store is the api's. */
export const TOKENS: Record<string, Principal> = {
  'admin-token': { type: 'person', tokenId: 't-admin', role: 'admin' },
  'operator-token': { type: 'person', tokenId: 't-operator', role: 'operator' },
  'officer-a-token': { type: 'person', tokenId: 't-officer-a', role: 'officer', grids: ['A'] },
  'officer-all-token': { type: 'person', tokenId: 't-officer-all', role: 'officer' },
};

export interface Kit {
  broker: Broker;
  devices: DeviceRegistry;
  metrics: Metrics;
  received: IncomingDeviceMessage[];
  /** replace to control what ingest answers; default: accept at once */
  ingest: { handle: (msg: IncomingDeviceMessage) => Promise<void> };
  mqttUrl: string;
  wsUrl: string;
  /** registers a device and returns its password */
  register(id: string, kind?: 'drone' | 'sensor'): Promise<string>;
  connect(opts: IClientOptions, url?: string): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startKit(limits: Partial<Config['limits']> = {}, extra: Partial<Pick<Config, 'mqttProxyProtocol' | 'mqttAuth'>> = {}): Promise<Kit> {
  const dir = mkdtempSync(join(tmpdir(), 'gp-broker-'));
  const db: MetadataDb = openMetadataDb(join(dir, 'meta.db'));
  const devices = new DeviceRegistry(db);
  const metrics = createMetrics();
  const received: IncomingDeviceMessage[] = [];
  const ingest: Kit['ingest'] = { handle: async () => {} };
  const config = {
    host: '127.0.0.1',
    mqttPort: 0,
    mqttWsPort: 0,
    limits: { maxPayloadBytes: 1024, maxPacketBytes: 64 * 1024, maxMessagesPerSec: 1000, maxConnections: 100, ...limits },
    ...extra,
  };
  const broker = buildBroker({
    config,
    devices,
    verifyToken: async (token) => TOKENS[token] ?? null,
    ingest: (msg) => {
      received.push(msg);
      return ingest.handle(msg);
    },
    metrics,
    log: silentLogger(),
  });
  const { mqttPort, wsPort } = await broker.listen();
  const clients: MqttClient[] = [];
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  return {
    broker,
    devices,
    metrics,
    received,
    ingest,
    mqttUrl,
    wsUrl: `ws://127.0.0.1:${wsPort}/mqtt`,
    register: async (id, kind = 'drone') => (await devices.register({ id, kind })).password,
    async connect(opts, url = mqttUrl) {
      const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
      clients.push(client);
      return new Promise((resolve, reject) => {
        client.once('connect', () => resolve(client));
        client.once('error', reject);
        client.once('close', () => reject(new Error('closed before CONNACK')));
      });
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await broker.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.disconnected ? resolve() : client.once('close', () => resolve())));
}

/** The SUBACK's granted codes (128 = refused). */
export function subscribeGranted(client: MqttClient, filters: string[]): Promise<number[]> {
  return new Promise((resolve) => {
    client.subscribe(filters, { qos: 1 }, (_err, _subs, packet) => resolve((packet as unknown as { granted: number[] }).granted));
  });
}

export async function counted(metric: Metrics['mqttRefused'] | Metrics['mqttLimitDisconnects'] | Metrics['mqttThrottled'], labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val));
  return hit?.value ?? 0;
}

export function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const until = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Alert, AlertTransition } from '../../core/alerts.js';
import { topics } from '../../core/topics.js';
import { ADMIN_TOKEN, connectMqtt } from './gridpatrol.js';

/**
 * Real clients of GridPatrol's alert delivery for tests and benchmarks: an SSE reader over
 * node:http, an MQTT subscriber to the alert topics, and scripted devices that publish with
 * increasing `seq` and device time. Nothing here reaches into GridPatrol's internals.
 */

/** What an SSE `alert` event and a webhook body carry. */
export interface AlertEvent {
  transition: AlertTransition;
  alert: Alert;
}

/** Items as they arrive, and a way to await the first (past or future) one that matches. */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: Array<{ match: (x: T) => boolean; resolve: (x: T) => void }> = [];

  push(x: T): void {
    this.items.push(x);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(x)) return true;
      w.resolve(x);
      return false;
    });
  }

  /** The first item that matches, already here or still to come; rejects after `timeoutMs` saying what it waited for. */
  waitFor(match: (x: T) => boolean, what = 'a matching item', timeoutMs = 10_000): Promise<T> {
    const seen = this.items.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.items.length} items seen)`));
      }, timeoutMs);
      const waiter = { match, resolve: (x: T) => { clearTimeout(timer); resolve(x); } };
      this.waiters.push(waiter);
    });
  }

  filter(match: (x: T) => boolean): T[] {
    return this.items.filter(match);
  }
}

export interface SseEvent extends AlertEvent {
  /** the SSE `id:` line */
  id: number;
  event: string;
  /** performance.now() when the event was parsed */
  receivedAt: number;
}

export interface SseStream {
  status: number;
  events: Collector<SseEvent>;
  /** resolves when the server ends or drops the stream */
  closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
  /** the id of the newest event received, 0 when none */
  lastId(): number;
}

/**
 * GET /api/v1/alerts/stream as a browser's EventSource does it (without reconnecting): parses
 * `id:`/`event:`/`data:` blocks as bytes arrive. Resolves once the response head is in.
 */
export function openSse(port: number, opts: { token?: string; lastEventId?: number; query?: string } = {}): Promise<SseStream> {
  const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${opts.token ?? ADMIN_TOKEN}` };
  if (opts.lastEventId !== undefined) headers['last-event-id'] = String(opts.lastEventId);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/api/v1/alerts/stream${opts.query ?? ''}`, headers });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const events = new Collector<SseEvent>();
      let buf = '';
      let closed = false;
      const closedP = new Promise<void>((r) => res.on('close', () => { closed = true; r(); }));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (!line || line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const key = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            fields[key] = fields[key] === undefined ? value : `${fields[key]}\n${value}`;
          }
          if (fields.data === undefined) continue;
          const data = JSON.parse(fields.data) as AlertEvent;
          events.push({ ...data, id: Number(fields.id), event: fields.event ?? 'message', receivedAt: performance.now() });
        }
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        events,
        closed: closedP,
        isClosed: () => closed,
        close: () => { req.destroy(); res.destroy(); },
        lastId: () => events.items.at(-1)?.id ?? 0,
      });
    });
    req.end();
  });
}

export interface AlertMessage {
  topic: string;
  alert: Alert;
}

/** An officer's app on MQTT: username `token`, subscribed to alert topics (QoS 1). */
export async function subscribeAlerts(port: number, filter = `${topics.alerts('+', '+')}`, token = ADMIN_TOKEN): Promise<{ client: MqttClient; messages: Collector<AlertMessage>; granted: number }> {
  const client = await connectMqtt(port, 'token', token);
  const messages = new Collector<AlertMessage>();
  client.on('message', (topic, payload) => messages.push({ topic, alert: JSON.parse(payload.toString()) as Alert }));
  const granted = await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages, granted: granted[0]?.qos ?? 128 };
}

/** A rules file in its own temp folder; `remove` deletes the folder. */
export function writeRulesFile(yaml: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gridpatrol-rules-'));
  const path = join(dir, 'rules.yaml');
  writeFileSync(path, yaml);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

type Fields = Record<string, unknown>;

/**
 * A scripted device on its own MQTT connection. Each publish is QoS 1 and awaited: when it
 * resolves GridPatrol has spooled the message and evaluated the rules (PUBACK means durable,
 * and the rules run before it). Device time starts `startAgoMs` back and moves by `dtMs`.
 */
export class ScriptedDevice {
  seq = 0;
  ts: number;

  constructor(readonly id: string, readonly kind: 'drone' | 'sensor', readonly client: MqttClient, startAgoMs = 2 * 3_600_000) {
    this.ts = Date.now() - startAgoMs;
  }

  private next(dtMs: number): { ts: number; seq: number } {
    this.ts += dtMs;
    return { ts: this.ts, seq: ++this.seq };
  }

  /** Telemetry with sensible defaults (in LY-C4, 100 m, patrolling, 80 %); `dtMs` after the previous message. */
  telemetry(fields: Fields = {}, dtMs = 1000): Promise<unknown> {
    const body = { ...this.next(dtMs), lat: 33.8123, lon: 113.9541, alt: 100, speed: 8, heading: 90, battery: 80, mode: 'patrol', rssi: -60, sats: 12, ...fields };
    return this.client.publishAsync(topics.droneTelemetry(this.id), JSON.stringify(body), { qos: 1 });
  }

  /** Several telemetry objects in one message (a JSON array), each `dtMs` after the one before. */
  telemetryBatch(items: Fields[], dtMs = 1000): Promise<unknown> {
    const body = items.map((fields) => ({ ...this.next(dtMs), lat: 33.8123, lon: 113.9541, alt: 100, speed: 8, heading: 90, battery: 80, mode: 'patrol', rssi: -60, sats: 12, ...fields }));
    return this.client.publishAsync(topics.droneTelemetry(this.id), JSON.stringify(body), { qos: 1 });
  }

  event(kind: string, confidence: number, fields: Fields = {}, dtMs = 1000): Promise<unknown> {
    const body = { ...this.next(dtMs), kind, confidence, ...fields };
    return this.client.publishAsync(topics.droneEvents(this.id), JSON.stringify(body), { qos: 1 });
  }

  reading(metric: string, value: number, fields: Fields = {}, dtMs = 1000): Promise<unknown> {
    const body = { ...this.next(dtMs), metric, value, ...fields };
    return this.client.publishAsync(topics.sensorReadings(this.id), JSON.stringify(body), { qos: 1 });
  }

  status(state: 'online' | 'offline'): Promise<unknown> {
    const topic = this.kind === 'drone' ? topics.droneStatus(this.id) : topics.sensorStatus(this.id);
    return this.client.publishAsync(topic, JSON.stringify({ state }), { qos: 1, retain: true });
  }

  /** Drops the TCP connection without DISCONNECT, as a crash or a lost radio link does: the broker publishes the last will. */
  cutLink(): void {
    (this.client as unknown as { stream: { destroy(): void } }).stream.destroy();
  }

  end(): void {
    this.client.end(true);
  }
}

/** The will a device leaves with the broker: its own status topic, offline, retained (CONTRACT). */
export function offlineWill(kind: 'drone' | 'sensor', id: string) {
  return { will: { topic: kind === 'drone' ? topics.droneStatus(id) : topics.sensorStatus(id), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true } };
}

import { connect as netConnect } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, createWebSocketStream } from 'ws';
import { topics } from '../core/topics.js';
import { ProxyHeaderError, parseProxyHeader } from './proxy-header.js';
import { counted, startKit, type Kit } from './test-kit.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 header: PROXY (or LOCAL) over TCP/IPv4 from `src`. */
function v2(src: string, command: 'PROXY' | 'LOCAL' = 'PROXY'): Buffer {
  if (command === 'LOCAL') return Buffer.concat([SIG, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const addr = Buffer.alloc(12);
  src.split('.').forEach((b, i) => addr.writeUInt8(Number(b), i));
  [10, 0, 0, 1].forEach((b, i) => addr.writeUInt8(b, 4 + i));
  addr.writeUInt16BE(40000, 8);
  addr.writeUInt16BE(1883, 10);
  return Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0x00, 12]), addr]);
}
const v1 = (src: string) => Buffer.from(`PROXY TCP4 ${src} 10.0.0.1 40000 1883\r\n`);

describe('parseProxyHeader', () => {
  const mqttBytes = Buffer.from([0x10, 0x0c, 0x00, 0x04]);

  it('reads v1 and v2 headers and leaves what follows them', () => {
    expect(parseProxyHeader(Buffer.concat([v1('203.0.113.7'), mqttBytes]), '10.0.0.2')).toEqual({ remote: '203.0.113.7', rest: mqttBytes });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 40000 1883\r\n'), '10.0.0.2')).toMatchObject({ remote: '2001:db8::1' });
    expect(parseProxyHeader(Buffer.concat([v2('198.51.100.9'), mqttBytes]), '10.0.0.2')).toEqual({ remote: '198.51.100.9', rest: mqttBytes });
  });

  it('takes the socket address for the proxy talking for itself (v2 LOCAL, v1 UNKNOWN: its health checks)', () => {
    expect(parseProxyHeader(v2('', 'LOCAL'), '10.0.0.2')).toEqual({ remote: '10.0.0.2', rest: Buffer.alloc(0) });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'), '10.0.0.2')).toMatchObject({ remote: '10.0.0.2' });
  });

  it('waits for the rest of a header that came in pieces', () => {
    const whole = v2('198.51.100.9');
    for (const n of [1, 5, 12, 15, 20, whole.length - 1]) expect(parseProxyHeader(whole.subarray(0, n), undefined)).toBeUndefined();
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2'), undefined)).toBeUndefined();
  });

  it('refuses what is not a PROXY header, with a reason', () => {
    for (const bad of [mqttBytes, Buffer.from('GET / HTTP/1.1\r\n'), Buffer.from(`PROXY ${'x'.repeat(120)}`), Buffer.from('PROXY TCP4 nonsense\r\n'), Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])])])
      expect(() => parseProxyHeader(bad, undefined)).toThrow(ProxyHeaderError);
  });
});

describe('a broker with GRIDPATROL_MQTT_PROXY_PROTOCOL=on', () => {
  let kit: Kit;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await kit?.close();
  });

  const port = (url: string) => Number(new URL(url).port);
  /** an MQTT connection that starts with `header`, as HAProxy with send-proxy sends it */
  function throughProxy(header: Buffer, opts: IClientOptions, ws = false): Promise<string> {
    const streamBuilder = () => {
      const connection = () => {
        const s = netConnect(port(ws ? kit.wsUrl : kit.mqttUrl), '127.0.0.1');
        s.write(header);
        return s;
      };
      return ws ? createWebSocketStream(new WebSocket(kit.wsUrl, 'mqtt', { createConnection: connection })) : connection();
    };
    const client = new mqtt.MqttClient(streamBuilder, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
    clients.push(client);
    return new Promise((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', (err) => resolve(err.message));
      client.once('close', () => resolve('closed'));
    });
  }

  it('counts failed logins against the client the header names, not against the proxy', async () => {
    kit = await startKit({}, { mqttProxyProtocol: true, mqttAuth: { maxFailures: 3, lockoutMs: 60_000 } });
    const password = await kit.register('drone-p');
    for (let i = 0; i < 3; i++) expect(await throughProxy(v1('203.0.113.7'), { username: 'drone-p', password: 'wrong', clientId: `bad-${i}` })).toMatch(/Bad username or password/);
    // that address is locked out now, even with the right password; everyone else behind the same proxy is not
    expect(await throughProxy(v1('203.0.113.7'), { username: 'drone-p', password, clientId: 'drone-p' })).not.toBe('connected');
    expect(await throughProxy(v2('198.51.100.9'), { username: 'drone-p', password, clientId: 'drone-p' })).toBe('connected');
    expect(await throughProxy(v1('198.51.100.10'), { username: 'drone-p', password, clientId: 'drone-p-ws' }, true)).toBe('connected');
    expect(await counted(kit.metrics.mqttRefused, { action: 'connect', reason: 'locked_out' })).toBeGreaterThanOrEqual(1);
  });

  it('takes publishes after the header, and closes a connection that has none', async () => {
    kit = await startKit({}, { mqttProxyProtocol: true });
    const password = await kit.register('drone-q');
    expect(await throughProxy(v2('198.51.100.9'), { username: 'drone-q', password, clientId: 'drone-q' })).toBe('connected');
    await clients[0]!.publishAsync(topics.droneTelemetry('drone-q'), '{"seq":1}', { qos: 1 });
    expect(kit.received.map((m) => m.deviceId)).toEqual(['drone-q']);

    const direct = mqtt.connect(kit.mqttUrl, { username: 'drone-q', password, reconnectPeriod: 0, connectTimeout: 3000 });
    clients.push(direct);
    expect(await new Promise((resolve) => (direct.once('connect', () => resolve('connected')), direct.once('close', () => resolve('closed'))))).toBe('closed');
    const { values } = await kit.metrics.mqttBadConnections.get();
    expect(values.find((v) => v.labels.reason === 'proxy_header')?.value).toBe(1);
  });
});

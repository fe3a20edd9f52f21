import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadingRecord } from '../core/records.js';
import { InfluxStore, type InfluxStoreConfig } from './influx-store.js';
import { chooseWriteApi } from './influx/http.js';
import { ident, int, literal } from './influx/influxql.js';
import { parseRetryAfter } from './influx/write.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Reply = (res: ServerResponse, req: Seen) => void;

/** A scripted InfluxDB: /ping and /query answer as a server of `version`; writes get `replies` in turn. */
async function scriptedInflux(version: string, replies: Reply[]) {
  const seen: Seen[] = [];
  const writes: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString();
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      res.setHeader('X-Influxdb-Version', version);
      if (s.url.startsWith('/ping')) return void res.writeHead(204).end();
      if (s.url.startsWith('/query')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0}]}');
      writes.push(s);
      const reply = replies[Math.min(writes.length, replies.length) - 1] ?? noContent;
      reply(res, s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url, seen, writes, close };
}

const noContent: Reply = (res) => void res.writeHead(204).end();
const json = (status: number, body: object, headers: Record<string, string> = {}): Reply => (res) =>
  void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
const hang: Reply = () => undefined;

const reading = (value: number, ts = 1_780_000_000_000): ReadingRecord =>
  ({ type: 'reading', sensorId: 's 1', gridId: 'g1', ts, metric: 'water_level', value, seq: 3, unit: 'm' });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function storeAgainst(version: string, replies: Reply[], config: Partial<InfluxStoreConfig> = {}) {
  const server = await scriptedInflux(version, replies);
  const store = new InfluxStore(
    { url: server.url, database: 'gp db', org: 'acme', api: 'auto', ...config },
    { requestTimeoutMs: 300, write: { maxRetries: 2, minRetryDelayMs: 10, maxRetryDelayMs: 20 } },
  );
  cleanups.push(server.close, () => store.close());
  await store.init();
  return { store, server };
}

describe('InfluxStore write API selection', () => {
  it.each([
    ['1.6.7~rc0', 'v1'], ['1.7.11', 'v1'], ['1.8.10', 'v2'], ['v2.7.1', 'v2'], ['2.7.1', 'v2'], ['3.0.1', 'v2'], [undefined, 'v2'],
  ] as const)('reads version %s as the %s API', (version, api) => {
    expect(chooseWriteApi(version)).toBe(api);
  });

  it('writes to /write?db= on 1.6.7 and creates the database', async () => {
    const { store, server } = await storeAgainst('1.6.7~rc0', [noContent]);
    expect(await store.write([reading(1.5)])).toEqual({ status: 'accepted' });
    const create = server.seen.find((s) => s.url.startsWith('/query'));
    expect(create?.method).toBe('POST');
    expect(new URLSearchParams(create?.body).get('q')).toBe('CREATE DATABASE "gp db"');
    expect(server.writes).toHaveLength(1);
    expect(server.writes[0]!.url).toBe('/write?db=gp%20db&precision=ms');
    expect(server.writes[0]!.body).toBe('sensor_reading,grid_id=g1,metric=water_level,sensor_id=s\\ 1 seq=3i,unit="m",value=1.5 1780000000000');
  });

  it.each(['1.8.10', '2.7.1'])('writes to /api/v2/write on %s', async (version) => {
    const { store, server } = await storeAgainst(version, [noContent]);
    expect(await store.write([reading(1)])).toEqual({ status: 'accepted' });
    expect(server.writes.map((w) => w.url)).toEqual(['/api/v2/write?org=acme&bucket=gp%20db&precision=ms']);
    // only 1.x needs CREATE DATABASE
    expect(server.seen.some((s) => s.url.startsWith('/query'))).toBe(version.startsWith('1.'));
  });

  it('refuses to start against 2.x without an organisation, and says retry on write', async () => {
    const server = await scriptedInflux('2.7.1', [noContent]);
    const store = new InfluxStore({ url: server.url, database: 'gp', api: 'auto' });
    cleanups.push(server.close, () => store.close());
    await expect(store.init()).rejects.toThrow(/GRIDPATROL_INFLUX_ORG/);
    expect(await store.write([reading(1)])).toMatchObject({ status: 'retry', reason: expect.stringContaining('organisation') });
    expect(server.writes).toHaveLength(0);
  });

  it('follows a forced api over the detected one', async () => {
    const { store, server } = await storeAgainst('2.7.1', [noContent], { api: 'v1' });
    await store.write([reading(1)]);
    expect(server.writes[0]!.url).toMatch(/^\/write\?db=/);
  });

  it('sends 1.x credentials as Basic auth and v2 tokens as Token', async () => {
    const v1 = await storeAgainst('1.6.7', [noContent], { token: 'writer:s3cret' });
    await v1.store.write([reading(1)]);
    expect(v1.server.writes[0]!.headers.authorization).toBe(`Basic ${Buffer.from('writer:s3cret').toString('base64')}`);
    const v2 = await storeAgainst('2.7.1', [noContent], { token: 'tok' });
    await v2.store.write([reading(1)]);
    expect(v2.server.writes[0]!.headers.authorization).toBe('Token tok');
  });
});

describe('InfluxStore write outcomes', () => {
  it('accepts on 204', async () => {
    const { store } = await storeAgainst('1.6.7', [noContent]);
    expect(await store.write([reading(1), reading(2, 1_780_000_000_001)])).toEqual({ status: 'accepted' });
  });

  it('rejects on 400 with the server message, without retrying', async () => {
    const error = 'partial write: field type conflict: input field "value" on measurement "sensor_reading" is type string, already exists as type float dropped=1';
    const { store, server } = await storeAgainst('1.6.7', [json(400, { error })]);
    const result = await store.write([reading(1)]);
    expect(result).toEqual({ status: 'rejected', reason: `HTTP 400: ${error}` });
    expect(server.writes).toHaveLength(1);
  });

  it('rejects on 413', async () => {
    const tooLarge = json(413, { code: 'request too large', message: 'unable to read data: points batch is too large' });
    const { store } = await storeAgainst('2.7.1', [tooLarge]);
    expect(await store.write([reading(1)])).toMatchObject({ status: 'rejected', reason: expect.stringContaining('413') });
  });

  it('hands a 429 back at once with Retry-After in ms', async () => {
    const { store, server } = await storeAgainst('2.7.1', [json(429, { code: 'too many requests', message: 'slow down' }, { 'Retry-After': '7' })]);
    expect(await store.write([reading(1)])).toEqual({ status: 'retry', reason: 'HTTP 429: slow down', retryAfterMs: 7000 });
    expect(server.writes).toHaveLength(1);
  });

  it('lets the client retry a 500 maxRetries times, then says retry', async () => {
    const { store, server } = await storeAgainst('1.6.7', [json(500, { error: 'engine: cache-max-memory-size exceeded' })]);
    const result = await store.write([reading(1)]);
    expect(result).toEqual({ status: 'retry', reason: 'HTTP 500: engine: cache-max-memory-size exceeded' });
    expect(server.writes).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.writes).toHaveLength(3); // nothing left retrying in the background
  });

  it('accepts when a client retry after a 503 succeeds', async () => {
    const { store, server } = await storeAgainst('1.6.7', [json(503, { error: 'busy' }), noContent]);
    expect(await store.write([reading(1)])).toEqual({ status: 'accepted' });
    expect(server.writes).toHaveLength(2);
    expect(server.writes[1]!.body).toBe(server.writes[0]!.body);
  });

  it('passes on Retry-After of a 503', async () => {
    const { store } = await storeAgainst('2.7.1', [json(503, { message: 'unavailable' }, { 'Retry-After': '2' })]);
    expect(await store.write([reading(1)])).toMatchObject({ status: 'retry', retryAfterMs: 2000 });
  });

  it('says retry when the server hangs (timeout)', async () => {
    const { store, server } = await storeAgainst('1.6.7', [hang]);
    const started = Date.now();
    expect(await store.write([reading(1)])).toMatchObject({ status: 'retry', reason: expect.stringMatching(/timed out/i) });
    expect(server.writes).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('says retry when the server is gone', async () => {
    const { store, server } = await storeAgainst('1.6.7', [noContent]);
    await server.close();
    expect(await store.write([reading(1)])).toMatchObject({ status: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
  });

  it('says retry on 404 database not found: a configuration slip must not dead-letter data', async () => {
    const { store } = await storeAgainst('1.6.7', [json(404, { error: 'database not found: "gp db"' })]);
    expect(await store.write([reading(1)])).toEqual({ status: 'retry', reason: 'HTTP 404: database not found: "gp db"' });
  });

  it('rejects a record that is no valid point without sending anything', async () => {
    const { store, server } = await storeAgainst('1.6.7', [noContent]);
    expect(await store.write([reading(Number.NaN)])).toMatchObject({ status: 'rejected' });
    expect(server.writes).toHaveLength(0);
  });

  it('sends a large batch in several requests and accepts once all are confirmed', async () => {
    const server = await scriptedInflux('1.6.7', [noContent]);
    const store = new InfluxStore({ url: server.url, database: 'gp', api: 'auto' }, { write: { maxBatchLines: 2 } });
    cleanups.push(server.close, () => store.close());
    const batch = [1, 2, 3, 4, 5].map((i) => reading(i, 1_780_000_000_000 + i));
    expect(await store.write(batch)).toEqual({ status: 'accepted' });
    expect(server.writes.map((w) => w.body.split('\n').length)).toEqual([2, 2, 1]);
  });
});

describe('InfluxQL quoting', () => {
  it('escapes backslashes, quotes and newlines so a value stays one literal', () => {
    expect(literal(`a'b\\c\nd`)).toBe(`'a\\'b\\\\c\\nd'`);
    expect(literal(`x' OR 1=1 --`)).toBe(`'x\\' OR 1=1 --'`);
    expect(ident(`dr"one\\`)).toBe(`"dr\\"one\\\\"`);
  });

  it('allows only integers as numbers', () => {
    expect(int(1_780_000_000_000, 'from')).toBe('1780000000000');
    expect(() => int(Number.NaN, 'from')).toThrow(RangeError);
    expect(() => int(1.5, 'to')).toThrow(RangeError);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

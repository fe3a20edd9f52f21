import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGrids } from '../lib/grids.js';
import { silentLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { DeadLetters } from '../storage/dead-letters.js';
import { DeviceRegistry } from '../storage/devices.js';
import { LiveState } from '../storage/live-state.js';
import { openMetadataDb } from '../storage/metadata-db.js';
import { SqliteStore } from '../storage/sqlite-store.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildApp } from './app.js';

const ADMIN = 'admin-token-for-api-tests';

describe('api', () => {
  let app: FastifyInstance;
  let store: SqliteStore;
  beforeAll(async () => {
    const db = openMetadataDb(':memory:');
    store = new SqliteStore(':memory:');
    await store.init();
    app = await buildApp({
      store, live: new LiveState(), devices: new DeviceRegistry(db), deadLetters: new DeadLetters(db), grids: loadGrids(),
      metrics: createMetrics(), log: silentLogger(),
      verifyToken: async (t) => (t === ADMIN ? { type: 'person', tokenId: 'admin', role: 'admin' } : null),
      readiness: async () => ({ store: { ok: true } }),
    });
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown, token: string | null = ADMIN) =>
    app.inject({ method, url, payload: payload as object, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers 401 problem+json without a token or with an unknown one', async () => {
    for (const token of [null, 'nope']) {
      const r = await call('GET', '/api/v1/drones', undefined, token);
      expect(r.statusCode).toBe(401);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toMatchObject({ status: 401, code: token ? 'GP_ERR_AUTH_INVALID' : 'GP_ERR_AUTH_MISSING', detail: expect.any(String) });
    }
  });

  it('registers a device once and says why a second or a bad one is refused', async () => {
    const ok = await call('POST', '/api/v1/devices', { id: 'd-1', kind: 'drone', gridId: 'LY-A1', name: 'Alpha' });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ id: 'd-1', kind: 'drone', gridId: 'LY-A1', password: expect.stringMatching(/.{24,}/) });
    const dup = await call('POST', '/api/v1/devices', { id: 'd-1', kind: 'drone' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('GP_ERR_DEVICE_EXISTS');
    const bad = await call('POST', '/api/v1/devices', { id: 'a/b#', kind: 'plane' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((e: { field: string }) => e.field).sort()).toEqual(['body.id', 'body.kind']);
    const cell = await call('POST', '/api/v1/devices', { id: 'd-2', kind: 'drone', gridId: 'NOPE' });
    expect(cell.json().detail).toMatch(/no grid cell "NOPE"/);
    const listed = await call('GET', '/api/v1/devices');
    expect(listed.json()).toMatchObject({ items: [{ id: 'd-1' }], next: null });
    expect(JSON.stringify(listed.json())).not.toContain('password');
  });

  it('refuses a body over the limit with 413', async () => {
    const r = await call('POST', '/api/v1/devices', { id: 'd-3', kind: 'drone', name: 'x'.repeat(70_000) });
    expect(r.statusCode).toBe(413);
    expect(r.json().code).toBe('GP_ERR_API_BODY_TOO_LARGE');
  });

  it('answers unknown routes, unknown drones and bad ranges with problems', async () => {
    expect((await call('GET', '/api/v1/nothing')).json()).toMatchObject({ status: 404, code: 'GP_ERR_API_NOT_FOUND' });
    expect((await call('GET', '/api/v1/drones/ghost/track')).json()).toMatchObject({ status: 404, code: 'GP_ERR_DRONE_NOT_FOUND' });
    const range = await call('GET', '/api/v1/drones/d-1/track?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(range.json()).toMatchObject({ status: 400, code: 'GP_ERR_QUERY_RANGE' });
    await call('POST', '/api/v1/devices', { id: 's-1', kind: 'sensor' });
    const windows = await call('GET', '/api/v1/sensors/s-1/readings?every=1ms');
    expect(windows.json()).toMatchObject({ status: 400, code: 'GP_ERR_QUERY_RANGE' });
    const every = await call('GET', '/api/v1/sensors/s-1/readings?every=soon');
    expect(every.json().detail).toMatch(/querystring.every: a duration/);
  });

  it('answers 503 when the store does not answer a read', async () => {
    const track = store.track.bind(store);
    store.track = async () => { throw new Error('connect ECONNREFUSED'); };
    try {
      const r = await call('GET', '/api/v1/drones/d-1/track');
      expect(r.json()).toMatchObject({ status: 503, code: 'GP_ERR_STORE_UNAVAILABLE', detail: expect.stringMatching(/ECONNREFUSED/) });
    } finally {
      store.track = track;
    }
  });

  it('describes every route in a valid OpenAPI document', async () => {
    const doc = (await call('GET', '/openapi.json', undefined, null)).json();
    expect(doc.openapi).toMatch(/^3\./);
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/devices', '/api/v1/drones', '/api/v1/drones/{id}/track', '/api/v1/sensors', '/api/v1/sensors/{id}/readings', '/api/v1/grids', '/api/v1/dead-letters'])
      expect(Object.keys(doc.paths)).toContain(path);
  });
});

describe('api safety', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const db = openMetadataDb(':memory:');
    const store = new SqliteStore(':memory:');
    await store.init();
    const log = silentLogger();
    app = await buildApp({
      store, live: new LiveState(), devices: new DeviceRegistry(db), deadLetters: new DeadLetters(db), grids: loadGrids(), metrics: createMetrics(), log,
      verifyToken: async (t) => (t === ADMIN ? { type: 'person', tokenId: 'admin', role: 'admin' } : null),
      readiness: async () => ({ store: { ok: true } }),
    });
  });
  afterAll(() => app.close());

  it('sends security headers and no CORS allowance', async () => {
    const r = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.example' } });
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 429 problem+json after too many failed authentications from one address', async () => {
    let last = 0;
    for (let i = 0; i < 35; i++) last = (await app.inject({ method: 'GET', url: '/api/v1/drones', headers: { authorization: 'Bearer wrong' } })).statusCode;
    expect(last).toBe(429);
    const r = await app.inject({ method: 'GET', url: '/api/v1/drones', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(r.json()).toMatchObject({ status: 429, code: 'GP_ERR_API_RATE_LIMITED' });
  });

});

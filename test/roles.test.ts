import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../core/principal.js';
import { topics } from '../core/topics.js';
import { connectMqtt, eventually, registerDevice, startInProcess } from './helpers/gridpatrol.js';

/** The role each route needs (CONTRACT: HTTP API); null: anyone. A route missing here fails the test. */
const NEEDS: Record<string, Role | null> = {
  'GET /healthz': null, 'GET /readyz': null, 'GET /metrics': null,
  'POST /api/v1/devices': 'admin', 'GET /api/v1/devices': 'admin', 'GET /api/v1/devices/{id}': 'admin', 'DELETE /api/v1/devices/{id}': 'admin',
  'POST /api/v1/devices/{id}/rotate': 'admin', 'POST /api/v1/devices/{id}/disable': 'admin', 'POST /api/v1/devices/{id}/enable': 'admin',
  'POST /api/v1/tokens': 'admin', 'GET /api/v1/tokens': 'admin', 'DELETE /api/v1/tokens/{id}': 'admin',
  'GET /api/v1/drones': 'operator', 'GET /api/v1/drones/{id}/track': 'operator', 'GET /api/v1/sensors': 'operator',
  'GET /api/v1/sensors/{id}/readings': 'operator', 'GET /api/v1/grids': 'operator', 'GET /api/v1/dead-letters': 'operator', 'GET /api/v1/info': 'operator',
  'GET /api/v1/alerts': 'officer', 'GET /api/v1/alerts/stream': 'officer', 'GET /api/v1/alerts/{id}': 'officer', 'GET /api/v1/alerts/{id}/history': 'officer',
  'POST /api/v1/alerts/{id}/ack': 'officer', 'POST /api/v1/alerts/{id}/resolve': 'officer', 'GET /api/v1/rules': 'officer',
  'GET /api/v1/silences': 'officer', 'POST /api/v1/silences': 'officer', 'DELETE /api/v1/silences/{id}': 'officer', 'GET /api/v1/reports/sla': 'officer',
  'GET /api/v1/webhooks/deliveries': 'admin',
};
const LOWER: Record<Role, Role | null> = { operator: null, officer: 'operator', admin: 'officer' };

describe('roles and tokens', () => {
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    gp = await startInProcess();
    for (const role of ['operator', 'officer', 'admin'] as const) {
      const r = await gp.http('POST', '/api/v1/tokens', { name: `${role}-app`, role });
      expect(r.status).toBe(201);
      tokens[role] = r.json.token;
    }
  });
  afterAll(() => gp?.stop());

  it('enforces the contract role of every route: 401 without a token, 403 one role below, allowed at the role', async () => {
    const doc = (await gp.http('GET', '/openapi.json', undefined, null)).json as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.filter((r) => !(r in NEEDS))).toEqual([]);
    expect(Object.keys(NEEDS).filter((r) => !routes.includes(r))).toEqual([]); // every contract route is documented
    // the document is an artefact users build on: a change to it shows in review (update with `npx vitest run test/roles.test.ts -u`)
    await expect(JSON.stringify(doc, null, 2) + '\n').toMatchFileSnapshot('./__snapshots__/openapi.json');
    for (const route of routes) {
      const needed = NEEDS[route]!;
      const [method, path] = route.split(' ') as [string, string];
      const url = path.replace('{id}', 'x-1') + (path.endsWith('/stream') ? '?lastEventId=0' : '');
      const call = (token: string | null) => gp.gp.api.inject({ method: method as 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {}, payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
      if (path.endsWith('/stream')) continue; // a stream never ends under inject; checked below over HTTP
      if (needed === null) {
        expect((await call(null)).statusCode, route).toBe(200);
        continue;
      }
      expect((await call(null)).statusCode, route).toBe(401);
      const below = LOWER[needed];
      if (below) {
        const r = await call(tokens[below]);
        expect(r.statusCode, `${route} as ${below}`).toBe(403);
        expect(r.json().code).toBe('GP_ERR_AUTH_FORBIDDEN');
      }
      expect([401, 403], `${route} as ${needed}`).not.toContain((await call(tokens[needed])).statusCode);
    }
    const stream = await fetch(`http://127.0.0.1:${gp.ports.httpPort}/api/v1/alerts/stream`, { headers: { authorization: `Bearer ${tokens.operator}` } });
    expect(stream.status).toBe(403);
  });

  it('shows a token once, stores it hashed, and stops accepting it when revoked or expired', async () => {
    const issued = await gp.http('POST', '/api/v1/tokens', { name: 'tablet-7', role: 'officer', grids: ['LY-A1'] });
    expect(issued.json).toMatchObject({ name: 'tablet-7', role: 'officer', grids: ['LY-A1'], token: expect.stringMatching(/^gpt_/) });
    const listed = await gp.http('GET', '/api/v1/tokens');
    expect(JSON.stringify(listed.json)).not.toContain(issued.json.token);
    expect((await gp.http('GET', '/api/v1/alerts', undefined, issued.json.token)).status).toBe(200);
    await gp.http('DELETE', `/api/v1/tokens/${issued.json.id}`);
    expect((await gp.http('GET', '/api/v1/alerts', undefined, issued.json.token)).status).toBe(401);

    const soon = await gp.http('POST', '/api/v1/tokens', { name: 'short', role: 'operator', expiresAt: Date.now() + 300 });
    expect((await gp.http('GET', '/api/v1/drones', undefined, soon.json.token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 400));
    expect((await gp.http('GET', '/api/v1/drones', undefined, soon.json.token)).status).toBe(401);

    const bad = await gp.http('POST', '/api/v1/tokens', { name: 'x', role: 'operator', grids: ['NOPE'] });
    expect(bad.json.detail).toMatch(/no grid cell "NOPE"/);
  });

  it('limits an officer to the alerts of their cells', async () => {
    const drone = await connectMqtt(gp.ports.mqttPort, 'drone-f', await registerDevice(gp.http, 'drone-f', 'drone'));
    const cellCentre = { lat: 33.8123, lon: 113.9541 };
    await drone.publishAsync(topics.droneEvents('drone-f'), JSON.stringify({ ts: Date.now(), kind: 'fire', confidence: 0.95, ...cellCentre }), { qos: 1 });
    drone.end(true);
    const alert = await eventually(async () => (await gp.http('GET', '/api/v1/alerts')).json.items.find((a: { entityId: string }) => a.entityId === 'drone-f'));
    const other = (await gp.http('GET', '/api/v1/grids')).json.features.find((f: { id: string; properties: { kind: string } }) => f.properties.kind === 'cell' && f.id !== alert.gridId).id;
    const mine = (await gp.http('POST', '/api/v1/tokens', { name: 'officer-mine', role: 'officer', grids: [alert.gridId] })).json.token;
    const theirs = (await gp.http('POST', '/api/v1/tokens', { name: 'officer-other', role: 'officer', grids: [other] })).json.token;

    expect((await gp.http('GET', '/api/v1/alerts', undefined, theirs)).json.items).toEqual([]);
    expect((await gp.http('GET', `/api/v1/alerts/${alert.id}`, undefined, theirs)).status).toBe(404);
    expect((await gp.http('POST', `/api/v1/alerts/${alert.id}/ack`, {}, theirs)).status).toBe(404);
    expect((await gp.http('GET', '/api/v1/alerts', undefined, mine)).json.items.map((a: { id: string }) => a.id)).toContain(alert.id);
    const acked = await gp.http('POST', `/api/v1/alerts/${alert.id}/ack`, { note: 'on my way' }, mine);
    expect(acked.json).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'officer-mine' });
  });

  it('lets an issued token connect over MQTT as a person (username "token")', async () => {
    const c = await connectMqtt(gp.ports.mqttPort, 'token', tokens.officer);
    await c.subscribeAsync('gridpatrol/v1/alerts/+/critical');
    c.end(true);
  });

  it('manages devices: rotate stops the old password and closes its connection, disable refuses, enable allows, delete removes', async () => {
    const old = await registerDevice(gp.http, 'drone-m', 'drone');
    const conn = await connectMqtt(gp.ports.mqttPort, 'drone-m', old);
    const closed = new Promise<void>((r) => conn.once('close', () => r()));
    const rotated = await gp.http('POST', '/api/v1/devices/drone-m/rotate');
    expect(rotated.status).toBe(200);
    await closed;
    conn.end(true);
    await expect(connectMqtt(gp.ports.mqttPort, 'drone-m', old)).rejects.toThrow();
    (await connectMqtt(gp.ports.mqttPort, 'drone-m', rotated.json.password)).end(true);

    expect((await gp.http('POST', '/api/v1/devices/drone-m/disable')).json.disabled).toBe(true);
    await expect(connectMqtt(gp.ports.mqttPort, 'drone-m', rotated.json.password)).rejects.toThrow();
    expect((await gp.http('POST', '/api/v1/devices/drone-m/enable')).json.disabled).toBe(false);
    (await connectMqtt(gp.ports.mqttPort, 'drone-m', rotated.json.password)).end(true);

    expect((await gp.http('DELETE', '/api/v1/devices/drone-m')).status).toBe(200);
    expect((await gp.http('GET', '/api/v1/devices/drone-m')).json.code).toBe('GP_ERR_DEVICE_NOT_FOUND');
  });
});

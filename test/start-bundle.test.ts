import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../core/topics.js';
import { buildWeb } from '../web/build.js';
import { buildServer } from '../scripts/build-server.js';
import { alive, connectMqtt, eventually, registerDevice, spawnGridPatrol, telemetry, testEnv } from './helpers/gridpatrol.js';

/**
 * `npm start` runs the pre-built bundle (dist/main.mjs), not the sources: the bundle must be the
 * same GridPatrol — listeners, MQTT auth and ingest, the store, the API docs, the dashboard.
 */
describe('the start-up bundle (npm start)', () => {
  const outDir = join(import.meta.dirname, '..', 'dist', `test-${process.pid}`);
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>>;
  const env = testEnv();

  beforeAll(async () => {
    await buildWeb();
    const bundle = await buildServer(join(outDir, 'main.mjs'));
    // as package.json's start script runs it: under the supervisor
    gp = await spawnGridPatrol(env, { bundle, supervise: true });
  });

  afterAll(async () => {
    gp?.child.kill('SIGTERM');
    await gp?.exited;
    rmSync(outDir, { recursive: true, force: true });
    rmSync(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
  });

  it('takes telemetry over MQTT and serves it, the API docs and the dashboard', async () => {
    expect((await gp.http('GET', '/readyz', undefined, null)).status).toBe(200);
    const password = await registerDevice(gp.http, 'drone-1', 'drone');
    const drone = await connectMqtt(gp.ports.mqttPort, 'drone-1', password);
    await drone.publishAsync(topics.droneTelemetry('drone-1'), JSON.stringify(telemetry(1)), { qos: 1 });
    await drone.endAsync();
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const track = await eventually(async () => {
      const r = await gp.http('GET', `/api/v1/drones/drone-1/track?from=${from}&to=${new Date().toISOString()}`);
      return r.status === 200 && r.json.items?.length === 1 && r.json;
    });
    expect(track.items[0]).toMatchObject({ lat: 33.8123, lon: 113.9541 });

    const docs = await fetch(`http://127.0.0.1:${gp.ports.httpPort}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
    const openapi = await gp.http('GET', '/openapi.json', undefined, null);
    expect(openapi.json.paths['/api/v1/devices']).toBeDefined();
    const page = await fetch(`http://127.0.0.1:${gp.ports.httpPort}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script');
    expect(gp.logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('runs GridPatrol as the supervisor’s child, and both stop on SIGTERM', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { scripts: { start: string } };
    expect(pkg.scripts.start).toBe('node --enable-source-maps dist/main.mjs --supervise');
    const listening = gp.logs.find((l) => l.msg === 'gridpatrol listening')!;
    expect(listening.pid).not.toBe(gp.child.pid);
    gp.child.kill('SIGTERM');
    expect(await gp.exited).toBe(0);
    expect(alive(listening.pid as number)).toBe(false);
  });
});

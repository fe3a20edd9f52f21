import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const secrets = { INFLUXDB_TOKEN: 'test-influx-token', INFLUXDB_PASSWORD: 'test-password', GRIDPATROL_ADMIN_TOKEN: 'test-admin-token-0123456789' };

describe('docker-compose.yml', () => {
  it('is valid for docker-compose and has the production shape', () => {
    const out = execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env: { ...process.env, ...secrets }, encoding: 'utf8' });
    const cfg = parse(out) as { services: Record<string, any>; volumes: Record<string, unknown> };
    expect(Object.keys(cfg.services).sort()).toEqual(['gridpatrol', 'influxdb']);
    expect(cfg.services.influxdb.image).toMatch(/^influxdb:2\./);
    expect(cfg.services.gridpatrol.build).toBeTruthy();
    expect(cfg.services.gridpatrol.environment).toMatchObject({
      GRIDPATROL_INFLUX_URL: 'http://influxdb:8086', GRIDPATROL_INFLUX_TOKEN: secrets.INFLUXDB_TOKEN, GRIDPATROL_DATA_DIR: '/data',
    });
    expect(cfg.services.gridpatrol.volumes.some((v: string | { target: string }) => (typeof v === 'string' ? v.split(':')[1] : v.target) === '/data')).toBe(true);
    expect(Object.keys(cfg.volumes)).toEqual(expect.arrayContaining(['influxdb-data', 'gridpatrol-data']));
  });

  it('refuses to start without secrets and names the missing one', () => {
    const env = { ...process.env };
    for (const k of Object.keys(secrets)) delete env[k];
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set (INFLUXDB_PASSWORD|INFLUXDB_TOKEN|GRIDPATROL_ADMIN_TOKEN)/);
  });
});

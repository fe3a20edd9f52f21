import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ALERT_TRANSITION, EVENT, READING, TELEMETRY } from '../storage/influx/influxql.js';
import { startInfluxd, stopInfluxd, type Influxd } from './helpers/influxd.js';

const secrets = { INFLUXDB_TOKEN: 'test-influx-token', INFLUXDB_PASSWORD: 'test-password', GRIDPATROL_ADMIN_TOKEN: 'test-admin-token-0123456789' };
type Service = Record<string, any> & { profiles?: string[]; environment?: Record<string, string> };

/** The whole file as docker-compose resolves it (compose 1.x `config` lists every profile's services). */
function composeConfig(profile: string): { services: Record<string, Service>; volumes: Record<string, unknown>; secrets: Record<string, { file: string }> } {
  const out = execFileSync('docker-compose', ['-f', 'docker-compose.yml', '--profile', profile, 'config'], { env: { ...process.env, ...secrets }, encoding: 'utf8' });
  return parse(out);
}

const inProfile = (services: Record<string, Service>, profile: string) =>
  Object.keys(services).filter((name) => services[name]!.profiles?.includes(profile)).sort();
const mountsData = (s: Service) => s.volumes.some((v: string | { target: string }) => (typeof v === 'string' ? v.split(':')[1] : v.target) === '/data');

describe('docker-compose.yml', () => {
  it('profile single: GridPatrol all-in-one and InfluxDB', () => {
    const cfg = composeConfig('single');
    expect(inProfile(cfg.services, 'single')).toEqual(['gridpatrol', 'influxdb']);
    expect(cfg.services.influxdb!.image).toMatch(/^influxdb:2\./);
    const gp = cfg.services.gridpatrol!;
    expect(gp.build).toBeTruthy();
    expect(gp.environment).toMatchObject({ GRIDPATROL_INFLUX_URL: 'http://influxdb:8086', GRIDPATROL_INFLUX_TOKEN: secrets.INFLUXDB_TOKEN, GRIDPATROL_DATA_DIR: '/data' });
    expect(gp.environment!.GRIDPATROL_ROLE ?? 'all').toBe('all');
    expect(mountsData(gp)).toBe(true);
    expect(Object.keys(cfg.volumes)).toEqual(expect.arrayContaining(['influxdb-data', 'gridpatrol-data']));
  });

  it('profile cluster: Redis, two broker nodes behind HAProxy, the api role, InfluxDB and Grafana, one data volume', () => {
    const cfg = composeConfig('cluster');
    const s = cfg.services;
    expect(inProfile(s, 'cluster')).toEqual(['api', 'broker-1', 'broker-2', 'grafana', 'haproxy', 'influxdb', 'redis']);
    const brokers = ['broker-1', 'broker-2'];
    for (const name of brokers) {
      expect(s[name]!.environment).toMatchObject({
        GRIDPATROL_ROLE: 'broker', GRIDPATROL_NODE_ID: name, GRIDPATROL_BROKER_INGEST: 'local', GRIDPATROL_REDIS_URL: 'redis://redis:6379',
        GRIDPATROL_INFLUX_URL: 'http://influxdb:8086', GRIDPATROL_ADMIN_TOKEN: secrets.GRIDPATROL_ADMIN_TOKEN,
        GRIDPATROL_MQTT_PROXY_PROTOCOL: 'on', // HAProxy sends the header: see the next test
      });
      expect(s[name]!.depends_on).toHaveProperty('redis');
      // only HAProxy publishes MQTT ports
      expect(s[name]!.ports).toBeUndefined();
    }
    expect(s.api!.environment).toMatchObject({ GRIDPATROL_ROLE: 'api', GRIDPATROL_MQTT_URL: 'mqtt://haproxy:1883' });
    for (const name of [...brokers, 'api']) {
      expect(s[name]!.image).toBe('gridpatrol:latest');
      expect(mountsData(s[name]!)).toBe(true);
      expect(s[name]!.volumes.map((v: string | { source: string }) => (typeof v === 'string' ? v.split(':')[0] : v.source))).toContain('gridpatrol-data');
    }
    const published = (name: string) => (s[name]!.ports ?? []).map((p: { target: number } | string) => (typeof p === 'string' ? Number(p.split(':').at(-1)) : p.target));
    expect(published('haproxy').sort()).toEqual([1883, 8083]);
    expect(published('api')).toEqual([8080]);
    expect(s.redis!.image).toMatch(/^redis:/);
    // Redis is on a network of its own with the broker nodes; nothing publishes its port
    expect(Object.keys(s.redis!.networks)).toEqual(['backplane']);
    expect(s.redis!.ports).toBeUndefined();
    // Grafana's admin password is a file the operator writes, never a default
    expect(s.grafana!.environment).toMatchObject({ GF_SECURITY_ADMIN_PASSWORD__FILE: '/run/secrets/grafana_admin_password', INFLUXDB_TOKEN: secrets.INFLUXDB_TOKEN });
    expect(s.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD).toBeUndefined();
    expect(cfg.secrets.grafana_admin_password!.file).toMatch(/secrets\/grafana-admin-password$/);
  });

  it("HAProxy passes MQTT and MQTT over WebSocket through to both broker services", () => {
    const cfg = readFileSync('docker/haproxy/haproxy.cfg', 'utf8');
    expect(cfg).toMatch(/^\s*mode tcp$/m);
    expect(cfg).toMatch(/^\s*bind :1883$/m);
    expect(cfg).toMatch(/^\s*bind :8083$/m);
    const servers = [...cfg.matchAll(/^\s*server (\S+) (\S+):(\d+)(.*)$/gm)];
    expect(servers.map((m) => `${m[2]}:${m[3]}`).sort()).toEqual(['broker-1:1883', 'broker-1:8083', 'broker-2:1883', 'broker-2:8083']);
    // every connection, health checks too, starts with the PROXY header the brokers require
    for (const m of servers) expect(m[4]!.split(/\s+/)).toEqual(expect.arrayContaining(['send-proxy-v2', 'check-send-proxy']));
  });

  it('refuses to start without secrets and names the missing one', () => {
    const env = { ...process.env };
    for (const k of Object.keys(secrets)) delete env[k];
    for (const profile of ['single', 'cluster']) {
      const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', '--profile', profile, 'config'], { env, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/set (INFLUXDB_PASSWORD|INFLUXDB_TOKEN|GRIDPATROL_ADMIN_TOKEN)/);
    }
  });
});

describe('Grafana provisioning', () => {
  const dashboard = JSON.parse(readFileSync('docker/grafana/dashboards/gridpatrol.json', 'utf8')) as {
    uid: string; panels: Array<{ title: string; targets: Array<{ query: string; datasource: { uid: string } }> }>; templating: { list: Array<{ query: string }> };
  };
  const queries = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.query)), ...dashboard.templating.list.map((v) => v.query)];
  let influxd: Influxd | undefined;

  beforeAll(async () => {
    influxd = await startInfluxd();
    await fetch(`${influxd.url}/query?q=${encodeURIComponent('CREATE DATABASE gridpatrol')}`, { method: 'POST' });
  }, 60_000);
  afterAll(() => stopInfluxd(influxd));

  it('reads the InfluxDB of the compose file with InfluxQL and its token, through the DBRP mapping', () => {
    const ds = parse(readFileSync('docker/grafana/provisioning/datasources/influxdb.yaml', 'utf8')).datasources[0];
    expect(ds).toMatchObject({ type: 'influxdb', url: 'http://influxdb:8086', jsonData: { dbName: 'gridpatrol', httpHeaderName1: 'Authorization' } });
    expect(ds.secureJsonData.httpHeaderValue1).toBe('Token $INFLUXDB_TOKEN');
    expect(readFileSync('docker/influxdb-init/10-dbrp.sh', 'utf8')).toMatch(/influx v1 dbrp create/);
    for (const p of dashboard.panels) for (const t of p.targets) expect(t.datasource.uid).toBe(ds.uid);
  });

  it("names only the contract's measurements, tags and fields (README: What lands in the store)", () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('### What lands in the store'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| measurement |')));
    const columns = new Map<string, Set<string>>();
    for (const m of table.matchAll(/^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|$/gm)) columns.set(m[1]!, new Set([...`${m[2]} ${m[3]}`.matchAll(/`(\w+)`/g)].map((c) => c[1]!)));
    expect([...columns.keys()].sort()).toEqual([ALERT_TRANSITION, EVENT, READING, TELEMETRY].sort());
    const used = new Set<string>();
    for (const q of queries) {
      const measurements = [...q.matchAll(/FROM "(\w+)"/g)].map((m) => m[1]!);
      expect(measurements.length, q).toBeGreaterThan(0);
      for (const m of measurements) {
        expect(columns.has(m), `${m} in ${q}`).toBe(true);
        used.add(m);
        // every other quoted identifier of the query is a column of one of its measurements
        const known = new Set(measurements.flatMap((x) => [...(columns.get(x) ?? [])]));
        for (const id of [...q.matchAll(/"(\w+)"/g)].map((x) => x[1]!)) expect(known.has(id) || measurements.includes(id) || id === 'last', `${id} in ${q}`).toBe(true);
      }
    }
    expect([...used].sort()).toEqual([ALERT_TRANSITION, EVENT, READING, TELEMETRY].sort());
  });

  it('has queries that a real InfluxDB parses (Grafana variables filled in as Grafana does)', async () => {
    for (const q of queries) {
      const filled = q.replaceAll('$timeFilter', 'time > now() - 1h').replaceAll('$__interval', '10s').replaceAll('$grid', '.*').replaceAll('$metric', '.*');
      const res = await fetch(`${influxd!.url}/query?db=gridpatrol&q=${encodeURIComponent(filled)}`);
      const body = (await res.json()) as { error?: string; results?: Array<{ error?: string }> };
      expect(body.error ?? body.results?.[0]?.error ?? null, filled).toBe(null);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig, settingsHelp } from './config.js';

describe('loadConfig', () => {
  it('gives the contract defaults and the embedded store when nothing is set', () => {
    const r = loadConfig({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({ host: '127.0.0.1', mqttPort: 1883, mqttWsPort: 8083, httpPort: 8080, dataDir: './data' });
    expect(r.config.store).toEqual({ type: 'sqlite', path: 'data/telemetry.db' });
    expect(Object.isFrozen(r.config.limits)).toBe(true);
  });

  it('chooses InfluxDB when its URL is set', () => {
    const r = loadConfig({ GRIDPATROL_INFLUX_URL: 'http://127.0.0.1:8086', GRIDPATROL_INFLUX_DB: 'patrol' });
    expect(r.ok && r.config.store).toEqual({ type: 'influx', url: 'http://127.0.0.1:8086', database: 'patrol', api: 'auto', token: undefined, org: undefined });
  });

  it('names every bad setting, its value and what is allowed, one line each', () => {
    const r = loadConfig({ GRIDPATROL_HTTP_PORT: 'eighty', GRIDPATROL_MQTT_PORT: '70000', GRIDPATROL_INFLUX_URL: 'ftp://x', GRIDPATROL_ADMIN_TOKEN: 'short' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(4);
    expect(r.errors.find((e) => e.includes('GRIDPATROL_HTTP_PORT'))).toMatch(/GRIDPATROL_HTTP_PORT="eighty".*number/);
    expect(r.errors.find((e) => e.includes('GRIDPATROL_MQTT_PORT'))).toMatch(/"70000".*65535/);
    expect(r.errors.find((e) => e.includes('GRIDPATROL_ADMIN_TOKEN'))).toMatch(/at least 16 characters/);
    for (const e of r.errors) expect(e).not.toContain('\n');
  });

  it('shows a bad URL setting without its password or query values', () => {
    const r = loadConfig({ GRIDPATROL_MQTT_URL: 'http://svc:hunter2-secret@broker:1883/?key=abc123', GRIDPATROL_INFLUX_URL: 'ftp://x' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const line = r.errors.find((e) => e.includes('GRIDPATROL_MQTT_URL'))!;
    expect(line).toMatch(/GRIDPATROL_MQTT_URL="http:\/\/redacted@broker:1883\/\?key=redacted": expected an mqtt:\/\//);
    expect(line).not.toMatch(/hunter2|abc123|svc/);
    expect(r.errors.find((e) => e.includes('GRIDPATROL_INFLUX_URL'))).toContain('GRIDPATROL_INFLUX_URL="ftp://x"');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ GRIDPATROL_HTTP_PORT: '' }).ok).toBe(true);
  });

  it('lists every contract setting in --help', () => {
    const help = settingsHelp();
    for (const name of ['GRIDPATROL_MQTT_PORT', 'GRIDPATROL_MQTT_WS_PORT', 'GRIDPATROL_HTTP_PORT', 'GRIDPATROL_HOST', 'GRIDPATROL_DATA_DIR', 'GRIDPATROL_INFLUX_URL', 'GRIDPATROL_INFLUX_DB', 'GRIDPATROL_INFLUX_TOKEN', 'GRIDPATROL_INFLUX_ORG', 'GRIDPATROL_ADMIN_TOKEN', 'GRIDPATROL_GRIDS_FILE', 'GRIDPATROL_RULES_FILE'])
      expect(help).toContain(name);
    expect(help).toContain('(default: 1883)');
  });
});

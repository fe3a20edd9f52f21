import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../core/topics.js';
import { connectMqtt, eventually, registerDevice, startInProcess, telemetry } from './helpers/gridpatrol.js';
import { sqliteProbe, type StoreProbe } from './helpers/stores.js';

/**
 * Issue 8, faults (6): device clocks hours off, messages out of order and late. Plausible times
 * (within GRIDPATROL_MAX_FUTURE_MS ahead and GRIDPATROL_MAX_AGE_MS back) are stored at device
 * time; others are dead letters that say how far off the clock is; "latest position" is the
 * newest by device time, not the last received.
 */
const H = 3_600_000;

describe('clock trouble', () => {
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  let probe: StoreProbe;
  let skewed: MqttClient;
  let late: MqttClient;

  beforeAll(async () => {
    probe = await sqliteProbe();
    gp = await startInProcess({ GRIDPATROL_MAX_FUTURE_MS: String(24 * H), GRIDPATROL_MAX_AGE_MS: String(7 * 24 * H) });
    probe.env(gp.gp.config.dataDir);
    skewed = await connectMqtt(gp.ports.mqttPort, 'skewed', await registerDevice(gp.http, 'skewed', 'drone'));
    late = await connectMqtt(gp.ports.mqttPort, 'late', await registerDevice(gp.http, 'late', 'drone'));
  });
  afterAll(async () => {
    skewed?.end(true);
    late?.end(true);
    await gp?.stop();
  });

  it('stores times hours off but within the limits at device time, and refuses those beyond with how far off', async () => {
    const now = Date.now();
    const send = (seq: number, ts: number | string) => skewed.publishAsync(topics.droneTelemetry('skewed'), JSON.stringify(telemetry(seq, { ts })), { qos: 1 });
    await send(1, now - 5 * H); // clock 5 h behind
    await send(2, now + 20 * H); // 20 h ahead: within 24 h
    await send(3, new Date(now - 2 * H).toISOString().replace('Z', '+00:00'));
    await send(4, `${new Date(now - 3 * H + 8 * H).toISOString().slice(0, 19)}+08:00`); // local time with its zone
    await send(5, now + 25 * H); // beyond
    await send(6, now - 8 * 24 * H); // beyond
    const rows = await eventually(async () => {
      const r = await probe.rows('drone_telemetry', "drone_id = 'skewed'");
      return r.length === 4 && r;
    });
    const bySeq = Object.fromEntries(rows.map((r) => [r.seq, r.time]));
    expect(bySeq).toEqual({ 1: now - 5 * H, 2: now + 20 * H, 3: now - 2 * H, 4: Math.floor((now - 3 * H) / 1000) * 1000 });

    const letters = (await gp.http('GET', '/api/v1/dead-letters?deviceId=skewed')).json.items as Array<{ code: string; stage: string; reason: string }>;
    expect(letters.map((l) => [l.stage, l.code]).sort()).toEqual([['normalize', 'ts_future'], ['normalize', 'ts_too_old']]);
    expect(letters.find((l) => l.code === 'ts_future')!.reason).toMatch(/25\.0 h ahead of the server clock; at most 24\.0 h/);
    expect(letters.find((l) => l.code === 'ts_too_old')!.reason).toMatch(/8\.0 days old; at most 7\.0 days/);
  });

  it('takes the newest position by device time as the latest, whatever order messages arrive in', async () => {
    const t = Date.now() - 60_000;
    const send = (seq: number, ts: number, lat: number) => late.publishAsync(topics.droneTelemetry('late'), JSON.stringify(telemetry(seq, { ts, lat })), { qos: 1 });
    const latest = async () => ((await gp.http('GET', '/api/v1/drones')).json.items as Array<{ id: string; last: { seq: number; ts: string; lat: number } }>).find((d) => d.id === 'late')!.last;

    await send(10, t, 33.1);
    await send(11, t - 30_000, 33.2); // arrives after, taken before
    await send(9, t - 120_000, 33.3); // very late
    expect(await latest()).toMatchObject({ seq: 10, ts: new Date(t).toISOString(), lat: 33.1 });
    await send(12, t + 1000, 33.4);
    expect(await latest()).toMatchObject({ seq: 12, lat: 33.4 });
    // a backlog flushed after a lost link (batch, oldest first) does not move the latest back
    await late.publishAsync(topics.droneTelemetry('late'), JSON.stringify([telemetry(7, { ts: t - 200_000, lat: 33.5 }), telemetry(8, { ts: t - 150_000, lat: 33.6 })]), { qos: 1 });
    expect(await latest()).toMatchObject({ seq: 12 });

    // the track is in device-time order, each point once
    const track = await eventually(async () => {
      const r = await gp.http('GET', `/api/v1/drones/late/track?from=${t - H}&to=${t + H}&limit=100`);
      return r.json.items.length === 6 && r.json.items;
    });
    expect(track.map((p: { lat: number }) => p.lat)).toEqual([33.5, 33.6, 33.3, 33.2, 33.1, 33.4]);
  });
});

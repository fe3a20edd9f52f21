import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../core/alerts.js';
import { topics } from '../core/topics.js';
import { offlineWill, openSse, ScriptedDevice, subscribeAlerts, writeRulesFile, type AlertMessage, type SseEvent, type SseStream } from './helpers/alerts.js';
import { connectMqtt, eventually, startInProcess } from './helpers/gridpatrol.js';

/**
 * Every rule kind end to end: a device publishes over MQTT (mqtt.js), the alert comes out on
 * the SSE stream (read over HTTP) and on gridpatrol/v1/alerts/{gridId}/{severity} (mqtt.js,
 * an admin token). Each rule is confined to its own test device, so one test's traffic cannot
 * raise another's alert. Durations that the defaults count in minutes are counted in device
 * time (the `ts` the device sends), or shortened here where they run on the server clock.
 */
const RULES = `
version: 1
rules:
  - id: smoke-high
    kind: threshold
    severity: critical
    appliesTo: { kind: sensor, devices: [s-smoke], metrics: [smoke] }
    field: value
    op: above
    value: 8
    clear: 4
    for: 10s
    minSamples: 2
  - id: smoke-held
    kind: threshold
    severity: warning
    appliesTo: { kind: sensor, devices: [s-smoke2], metrics: [smoke] }
    field: value
    op: above
    value: 8
    for: 1500ms
    minSamples: 2
  - id: river-rise
    kind: rate_of_change
    severity: warning
    appliesTo: { kind: sensor, devices: [s-river], metrics: [water_level] }
    field: value
    direction: rising
    change: 0.05
    per: 10m
  - id: ceiling
    kind: geofence
    severity: warning
    appliesTo: { kind: drone, devices: [d-alt] }
    check: altitude
    ceilingM: 120
  - id: left-cell
    kind: geofence
    severity: warning
    appliesTo: { kind: drone, devices: [d-cell] }
    check: leave_cell
    toleranceM: 50
  - id: no-fly
    kind: geofence
    severity: critical
    appliesTo: { kind: drone, devices: [d-nfz] }
    check: no_fly
  - id: reserve
    kind: battery_reserve
    severity: critical
    appliesTo: { kind: drone, devices: [d-bat] }
  - id: link-silent
    kind: lost_link
    severity: critical
    appliesTo: { kind: drone, devices: [d-silent] }
    after: 1s
    onLastWill: false
  - id: link-will
    kind: lost_link
    severity: critical
    appliesTo: { kind: drone, devices: [d-will] }
    after: 1h
  - id: sensor-offline
    kind: lost_link
    severity: warning
    appliesTo: { kind: sensor, devices: [s-will] }
  - id: fire
    kind: detection
    severity: critical
    appliesTo: { devices: [d-det] }
    kinds: [fire]
    minConfidence: 0.8
  - id: quiet
    kind: sensor_silent
    severity: warning
    appliesTo: { devices: [s-quiet] }
    factor: 3
    minSilence: 1s
  - id: stuck
    kind: stuck_value
    severity: warning
    appliesTo: { devices: [s-stuck] }
    for: 1h
    minSamples: 10
  - id: gps-jump
    kind: implausible_motion
    severity: warning
    appliesTo: { devices: [d-jump] }
    maxSpeedMs: 40
    minJumpM: 30
`;

const MIN = 60_000;
const HOUR = 3_600_000;
const C4_OFFICER = { id: 'officer-16', name: 'Yang Bo' };

describe('rules end to end: MQTT publish in, alert out on SSE and on the MQTT alert topic', () => {
  let rules: ReturnType<typeof writeRulesFile>;
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  let sse: SseStream;
  let mq: Awaited<ReturnType<typeof subscribeAlerts>>;
  const opened: ScriptedDevice[] = [];
  const passwords = new Map<string, string>();

  beforeAll(async () => {
    rules = writeRulesFile(RULES);
    gp = await startInProcess({ GRIDPATROL_RULES_FILE: rules.path });
    sse = await openSse(gp.ports.httpPort);
    expect(sse.status).toBe(200);
    mq = await subscribeAlerts(gp.ports.mqttPort);
    expect(mq.granted).toBe(1);
  });

  afterAll(async () => {
    for (const d of opened) d.end();
    sse?.close();
    mq?.client.end(true);
    await gp?.stop();
    rules?.remove();
  });

  async function device(id: string, kind: 'drone' | 'sensor', o: { gridId?: string; will?: boolean } = {}): Promise<ScriptedDevice> {
    let password = passwords.get(id);
    if (!password) {
      const r = await gp.http('POST', '/api/v1/devices', { id, kind, ...(o.gridId && { gridId: o.gridId }) });
      expect(r.status).toBe(201);
      password = r.json.password as string;
      passwords.set(id, password);
    }
    const client = await connectMqtt(gp.ports.mqttPort, id, password, o.will ? offlineWill(kind, id) : {});
    const d = new ScriptedDevice(id, kind, client);
    // a new connection of a known device continues its seq (GridPatrol drops a repeated seq) and its clock
    const before = opened.findLast((x) => x.id === id);
    if (before) Object.assign(d, { seq: before.seq, ts: before.ts });
    opened.push(d);
    return d;
  }

  async function alertsOf(entityId: string): Promise<Alert[]> {
    const r = await gp.http('GET', '/api/v1/alerts?limit=1000');
    expect(r.status).toBe(200);
    return (r.json.items as Alert[]).filter((a) => a.entityId === entityId);
  }

  /**
   * The transition on SSE, and the alert as the MQTT alert topic carried it (same content, on
   * gridpatrol/v1/alerts/{its cell}/{its severity}).
   */
  async function delivered(entityId: string, kind: 'open' | 'auto_resolve', timeoutMs = 5000): Promise<{ event: SseEvent; message: AlertMessage }> {
    const event = await sse.events.waitFor((e) => e.alert.entityId === entityId && e.transition.kind === kind, `${kind} of ${entityId} on SSE`, timeoutMs);
    const state = kind === 'open' ? 'open' : 'resolved';
    const message = await mq.messages.waitFor((m) => m.alert.id === event.alert.id && m.alert.state === state, `${state} alert of ${entityId} on MQTT`, timeoutMs);
    expect(message.topic).toBe(topics.alerts(event.alert.gridId, event.alert.severity));
    expect(message.alert).toEqual(event.alert);
    expect(event.event).toBe('alert');
    expect(event.transition).toMatchObject({ alertId: event.alert.id, actor: 'system', from: kind === 'open' ? null : 'open', to: state });
    return { event, message };
  }

  function expectDeadlines(a: Alert, responseMs: number, disposalMs: number): void {
    expect(Date.parse(a.responseDueAt) - Date.parse(a.openedAt)).toBe(responseMs);
    expect(Date.parse(a.disposalDueAt) - Date.parse(a.openedAt)).toBe(disposalMs);
  }

  it('threshold: opens only after the value held above 8 for 10 s of device time over ≥ 2 samples, stays open above the clear level, resolves below it', async () => {
    const s = await device('s-smoke', 'sensor', { gridId: 'LY-C4' });
    await s.reading('smoke', 9, { unit: '%/m' }, 0);
    await s.reading('smoke', 7, { unit: '%/m' }, 5000); // dips below: the 10 s start again
    await s.reading('smoke', 9, { unit: '%/m' }, 6000);
    await s.reading('smoke', 9.5, { unit: '%/m' }, 5000); // held 5 s
    expect(await alertsOf('s-smoke')).toEqual([]);
    await s.reading('smoke', 10, { unit: '%/m' }, 6000); // held 11 s, 3 samples

    const { event } = await delivered('s-smoke', 'open');
    expect(event.alert).toMatchObject({
      ruleId: 'smoke-high', ruleKind: 'threshold', severity: 'critical', state: 'open', entityKind: 'sensor', entityId: 's-smoke',
      gridId: 'LY-C4', officer: C4_OFFICER, count: 1, requiresDisposal: false, silenced: false, previousAlertId: null, escalationLevel: 0,
      values: { metric: 'smoke', value: 10, threshold: 8, clear: 4, unit: '%/m', heldForS: 11 },
    });
    expect(event.alert.description).toBe('s-smoke smoke 10 %/m is above the 8 %/m threshold for 11 s');
    expect(event.transition.note).toBe(event.alert.description);
    expectDeadlines(event.alert, 5 * MIN, 4 * HOUR);

    await s.reading('smoke', 6, { unit: '%/m' }); // under the threshold, over the clear level: hysteresis keeps it open
    const [still] = await alertsOf('s-smoke');
    expect(still).toMatchObject({ id: event.alert.id, state: 'open', count: 2, values: { value: 6 } });
    // a repeat updates the values, count and last-seen time; the description stays the one it opened with
    expect(still!.description).toBe(event.alert.description);

    await s.reading('smoke', 3.5, { unit: '%/m' });
    const resolved = await delivered('s-smoke', 'auto_resolve');
    expect(resolved.event.alert).toMatchObject({ id: event.alert.id, state: 'resolved', resolvedBy: 'system' });
    expect(resolved.event.transition.note).toBe('condition cleared');
  });

  it('threshold: a `for` that runs out without a new sample opens on the clock', async () => {
    const s = await device('s-smoke2', 'sensor', { gridId: 'LY-C4' });
    await s.reading('smoke', 9, {}, 0);
    await s.reading('smoke', 9.2, {}, 100);
    expect(await alertsOf('s-smoke2')).toEqual([]);
    const { event } = await delivered('s-smoke2', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'smoke-held', severity: 'warning', values: { metric: 'smoke', value: 9.2 } });
    expect(event.alert.values.heldForS).toBeGreaterThanOrEqual(1.5);
    expectDeadlines(event.alert, 15 * MIN, 24 * HOUR);
  });

  it('rate of change: water rising 10 cm in 10 min opens (limit 5 cm per 10 min); a flat level resolves', async () => {
    const s = await device('s-river', 'sensor', { gridId: 'LY-C4' });
    await s.reading('water_level', 1.0, { unit: 'm' }, 0);
    await s.reading('water_level', 1.02, { unit: 'm' }, 5 * MIN); // 4 cm per 10 min: under the limit
    expect(await alertsOf('s-river')).toEqual([]);
    await s.reading('water_level', 1.1, { unit: 'm' }, 5 * MIN);
    const { event } = await delivered('s-river', 'open');
    expect(event.alert).toMatchObject({
      ruleId: 'river-rise', ruleKind: 'rate_of_change', severity: 'warning', gridId: 'LY-C4',
      values: { metric: 'water_level', value: 1.1, change: 0.1, spanS: 600, changePerPeriod: 0.1, limit: 0.05, unit: 'm' },
    });
    expect(event.alert.description).toBe('s-river water_level rose 0.1 m in 10 min (limit 0.05 per 10 min)');
    await s.reading('water_level', 1.11, { unit: 'm' }, 10 * MIN);
    await delivered('s-river', 'auto_resolve');
  });

  it('geofence altitude: above the 120 m ceiling opens, back under resolves', async () => {
    const d = await device('d-alt', 'drone');
    await d.telemetry({ alt: 118 });
    await d.telemetry({ alt: 131 });
    const { event } = await delivered('d-alt', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'ceiling', ruleKind: 'geofence', severity: 'warning', gridId: 'LY-C4', values: { alt: 131, ceilingM: 120 }, position: { lat: 33.8123, lon: 113.9541 } });
    expectDeadlines(event.alert, 15 * MIN, 24 * HOUR);
    await d.telemetry({ alt: 90 });
    await delivered('d-alt', 'auto_resolve');
  });

  it('geofence leave_cell: far outside the assigned cell opens (in the cell it is in), back inside resolves', async () => {
    const d = await device('d-cell', 'drone', { gridId: 'LY-C4' });
    await d.telemetry();
    await d.telemetry({ lat: 33.72, lon: 113.77 }, 600_000);
    const { event, message } = await delivered('d-cell', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'left-cell', severity: 'warning', gridId: 'LY-A1', values: { assignedCell: 'LY-C4', currentCell: 'LY-A1', toleranceM: 50 } });
    expect(message.topic).toBe('gridpatrol/v1/alerts/LY-A1/warning');
    expect(event.alert.values.outsideM).toBeGreaterThan(10_000);
    await d.telemetry({}, 600_000);
    await delivered('d-cell', 'auto_resolve');
  });

  it('geofence no_fly: inside the government compound opens a critical alert naming the zone', async () => {
    const d = await device('d-nfz', 'drone');
    await d.telemetry();
    await d.telemetry({ lat: 33.805, lon: 113.935 }, 60_000);
    const { event } = await delivered('d-nfz', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'no-fly', severity: 'critical', values: { zones: 'NFZ-GOV' } });
    expect(event.alert.description).toContain('NFZ-GOV (County government compound)');
    await d.telemetry({}, 60_000);
    await delivered('d-nfz', 'auto_resolve');
  });

  it('battery reserve: 20 % five km from the take-off point is below what flying home needs; landing resolves', async () => {
    const d = await device('d-bat', 'drone');
    await d.telemetry({ mode: 'takeoff', battery: 95, speed: 2 });
    await d.telemetry({ lat: 33.85, lon: 113.99, battery: 60 }, 10 * MIN);
    expect(await alertsOf('d-bat')).toEqual([]);
    await d.telemetry({ lat: 33.85, lon: 113.99, battery: 20 });
    const { event } = await delivered('d-bat', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'reserve', ruleKind: 'battery_reserve', severity: 'critical', values: { batteryPct: 20, homeIsTakeoff: true, marginPct: 10, homeLat: 33.8123, homeLon: 113.9541 } });
    expect(event.alert.values.distanceHomeM).toBeGreaterThan(5000);
    expect(event.alert.values.neededPct).toBeGreaterThan(20);
    await d.telemetry({ lat: 33.85, lon: 113.99, battery: 19, mode: 'landed', speed: 0 });
    await delivered('d-bat', 'auto_resolve');
  });

  it('lost link: an airborne drone silent for 1 s opens on the clock; its next telemetry resolves', async () => {
    const d = await device('d-silent', 'drone');
    await d.telemetry({ mode: 'patrol' });
    const { event } = await delivered('d-silent', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'link-silent', ruleKind: 'lost_link', severity: 'critical', gridId: 'LY-C4', values: { cause: 'no_telemetry', mode: 'patrol' } });
    expect(event.alert.description).toMatch(/^d-silent sent no telemetry for [\d.]+ s while in patrol$/);
    await d.telemetry({ mode: 'patrol' });
    await delivered('d-silent', 'auto_resolve');
  });

  it("lost link: a drone's and a sensor's last will open at once; online again resolves", async () => {
    const d = await device('d-will', 'drone', { will: true });
    const s = await device('s-will', 'sensor', { gridId: 'LY-C4', will: true });
    await d.telemetry({ mode: 'patrol' });
    await s.reading('water_level', 1.5);
    d.cutLink();
    s.cutLink();
    const drone = await delivered('d-will', 'open');
    expect(drone.event.alert).toMatchObject({ ruleId: 'link-will', severity: 'critical', gridId: 'LY-C4', values: { cause: 'last_will', mode: 'patrol' }, position: { lat: 33.8123, lon: 113.9541 } });
    expect(drone.event.alert.description).toBe('d-will lost its connection (MQTT last will) while in patrol');
    const sensor = await delivered('s-will', 'open');
    expect(sensor.event.alert).toMatchObject({ ruleId: 'sensor-offline', severity: 'warning', gridId: 'LY-C4', values: { cause: 'last_will' } });

    await (await device('d-will', 'drone')).status('online');
    await (await device('s-will', 'sensor')).status('online');
    await delivered('d-will', 'auto_resolve');
    await delivered('s-will', 'auto_resolve');
  });

  it('detection: a fire seen with confidence ≥ 0.8 opens a critical alert that needs disposal; weaker or other detections do not', async () => {
    const d = await device('d-det', 'drone');
    await d.event('fire', 0.5);
    await d.event('smoke', 0.99);
    expect(await alertsOf('d-det')).toEqual([]);
    await d.event('fire', 0.92, { lat: 33.81, lon: 113.95, imageUrl: 'https://example.org/fire.jpg' });
    const { event } = await delivered('d-det', 'open');
    expect(event.alert).toMatchObject({
      ruleId: 'fire', ruleKind: 'detection', severity: 'critical', gridId: 'LY-C4', officer: C4_OFFICER, requiresDisposal: true,
      values: { kind: 'fire', confidence: 0.92, minConfidence: 0.8, imageUrl: 'https://example.org/fire.jpg' }, position: { lat: 33.81, lon: 113.95 },
    });
    expect(event.alert.description).toBe('d-det detected fire (confidence 0.92) at 33.81000, 113.95000');
    expectDeadlines(event.alert, 5 * MIN, 4 * HOUR);
  });

  it('sensor silent: no reading for 3 × its usual interval (at least 1 s) opens on the clock; the next reading resolves', async () => {
    const s = await device('s-quiet', 'sensor', { gridId: 'LY-C4' });
    for (let i = 0; i < 3; i++) await s.reading('temperature', 21 + i, { unit: '°C' }, 200);
    const { event } = await delivered('s-quiet', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'quiet', ruleKind: 'sensor_silent', severity: 'warning', gridId: 'LY-C4', values: { usualIntervalS: 0.2, factor: 3, limitS: 1 } });
    expect(event.alert.values.silentForS).toBeGreaterThanOrEqual(1);
    await s.reading('temperature', 24, { unit: '°C' }, 200);
    await delivered('s-quiet', 'auto_resolve');
  });

  it('stuck value: the same reading for an hour over ≥ 10 readings opens; a changed value resolves', async () => {
    const s = await device('s-stuck', 'sensor', { gridId: 'LY-C4' });
    await s.reading('water_level', 2.5, { unit: 'm' }, 0);
    for (let i = 1; i < 9; i++) await s.reading('water_level', 2.5, { unit: 'm' }, 7 * MIN); // 9 readings over 56 min
    expect(await alertsOf('s-stuck')).toEqual([]);
    await s.reading('water_level', 2.5, { unit: 'm' }, 7 * MIN);
    const { event } = await delivered('s-stuck', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'stuck', ruleKind: 'stuck_value', values: { metric: 'water_level', value: 2.5, sameForS: 3780, samples: 10 } });
    await s.reading('water_level', 2.51, { unit: 'm' }, 7 * MIN);
    await delivered('s-stuck', 'auto_resolve');
  });

  it('implausible motion: 5 km in one second opens (a GPS jump); a plausible next step resolves', async () => {
    const d = await device('d-jump', 'drone');
    await d.telemetry();
    await d.telemetry({ lat: 33.85, lon: 113.99 }, 1000);
    const { event } = await delivered('d-jump', 'open');
    expect(event.alert).toMatchObject({ ruleId: 'gps-jump', ruleKind: 'implausible_motion', severity: 'warning', values: { maxSpeedMs: 40, dtMs: 1000, fromLat: 33.8123, toLat: 33.85 } });
    expect(event.alert.values.speedMs).toBeGreaterThan(5000);
    await d.telemetry({ lat: 33.85005, lon: 113.99 }, 1000);
    await delivered('d-jump', 'auto_resolve');
  });

  it('refuses devices and operators the alert topics, and an officer the cells of others', async () => {
    const d = await device('d-nosy', 'drone');
    // SUBACK 128 (refused); mqtt.js turns it into a rejection
    await expect(d.client.subscribeAsync(topics.alerts('+', '+'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await expect(d.client.subscribeAsync(topics.alerts('LY-C4', 'critical'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const token = async (body: object) => (await gp.http('POST', '/api/v1/tokens', body)).json.token as string;
    const operator = await connectMqtt(gp.ports.mqttPort, 'token', await token({ name: 'ops-desk', role: 'operator' }));
    await expect(operator.subscribeAsync(topics.alerts('LY-C4', '+'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    operator.end(true);
    const a1 = await token({ name: 'officer-a1', role: 'officer', grids: ['LY-A1'] });
    const own = await subscribeAlerts(gp.ports.mqttPort, topics.alerts('LY-A1', '+'), a1);
    expect(own.granted).toBe(1);
    await expect(own.client.subscribeAsync(topics.alerts('LY-C4', 'critical'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    own.client.end(true);
  });

  it('reloads the rules file without a restart: a changed rule keeps its state, a removed rule resolves its open alert', async () => {
    const alt = await device('d-alt', 'drone');
    await alt.telemetry({ alt: 125 });
    const high = (await sse.events.waitFor((e) => e.alert.entityId === 'd-alt' && e.transition.kind === 'open' && e.alert.values.alt === 125, 'd-alt above 120 m')).alert;
    const jump = await device('d-jump', 'drone');
    await jump.telemetry({ lat: 33.85005, lon: 113.99 }, 60_000); // where it was
    await jump.telemetry({ lat: 33.70, lon: 113.99 }, 1000);
    const jumped = (await sse.events.waitFor((e) => e.alert.entityId === 'd-jump' && e.transition.kind === 'open' && e.alert.values.toLat === 33.7, 'a second jump')).alert;

    writeFileSync(rules.path, RULES.replace('ceilingM: 120', 'ceilingM: 130').replace(/  - id: gps-jump[\s\S]*$/, ''));
    const listed = await eventually(async () => {
      const r = await gp.http('GET', '/api/v1/rules');
      return r.json.items.find((x: { id: string }) => x.id === 'ceiling')?.ceilingM === 130 && r.json.items;
    }, 10_000);
    expect(listed.map((x: { id: string }) => x.id)).not.toContain('gps-jump');
    expect((await sse.events.waitFor((e) => e.alert.id === jumped.id && e.transition.kind === 'auto_resolve', 'the removed rule\'s alert resolved')).alert.state).toBe('resolved');

    await alt.telemetry({ alt: 125 }); // under the new ceiling: the open condition clears
    await sse.events.waitFor((e) => e.alert.id === high.id && e.transition.kind === 'auto_resolve', 'the ceiling alert resolved under the new ceiling');
  });

  it('delivered every transition on SSE and MQTT once, in order, with increasing event ids', async () => {
    const ids = sse.events.items.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    // MQTT carries one message per transition too, in the same order
    const key = (a: Alert) => `${a.id}/${a.state}/${a.evidence.length}`;
    await eventually(() => mq.messages.items.length >= ids.length);
    expect(mq.messages.items.map((m) => key(m.alert))).toEqual(sse.events.items.map((e) => key(e.alert)));
  });
});

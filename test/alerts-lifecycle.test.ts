import { createHmac, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, AlertTransition } from '../core/alerts.js';
import { topics } from '../core/topics.js';
import { openSse, ScriptedDevice, subscribeAlerts, writeRulesFile, type AlertEvent, type SseStream } from './helpers/alerts.js';
import { connectMqtt, eventually, startInProcess, testEnv, type Http } from './helpers/gridpatrol.js';
import { sqliteProbe } from './helpers/stores.js';

/**
 * The alert lifecycle through GridPatrol's public interface: HTTP for people, MQTT for devices
 * and for an officer's app, SSE read over HTTP, webhooks into a node:http receiver that checks
 * the signature. One GridPatrol for the whole file (restarted once at the end on its data folder).
 */
const RULES = `
version: 1
rules:
  - id: ceiling
    kind: geofence
    severity: warning
    appliesTo: { kind: drone }
    check: altitude
    ceilingM: 120
  - id: detect-fire
    kind: detection
    severity: critical
    kinds: [fire]
    minConfidence: 0.8
  - id: gas-high
    description: a leak is for a person to close, even when the reading falls again
    kind: threshold
    severity: warning
    appliesTo: { kind: sensor, metrics: [gas] }
    field: value
    op: above
    value: 20
    clear: 10
    requiresDisposal: true
  - id: smoke-slow
    kind: threshold
    severity: warning
    appliesTo: { kind: sensor, metrics: [smoke] }
    field: value
    op: above
    value: 8
    for: 10s
    minSamples: 2
`;
const SECRET = 'webhook-secret-0123456789';

interface Hook {
  status: number;
  at: number;
  signatureOk: boolean;
  timestamp: number;
  event: AlertEvent;
}

/** The receiver side of CONTRACT's webhook: `x-gridpatrol-signature: sha256=hex(hmac(secret, timestamp + "." + body))`. */
function verify(secret: string, timestamp: string, body: string, header: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`);
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('alert lifecycle over HTTP, SSE, MQTT and webhooks', () => {
  let rules: ReturnType<typeof writeRulesFile>;
  let env: Record<string, string>;
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  let h: Http;
  /** connected from the start: every delivered transition */
  let sse: SseStream;
  let mq: Awaited<ReturnType<typeof subscribeAlerts>>;
  let receiver: Server;
  const hooks: Hook[] = [];
  const devices: ScriptedDevice[] = [];
  const passwords = new Map<string, string>();
  let officer: string;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        // the first two deliveries fail: GridPatrol must retry them and keep delivering
        const status = hooks.length < 2 ? 500 : 200;
        const ts = String(req.headers['x-gridpatrol-timestamp']);
        hooks.push({ status, at: performance.now(), signatureOk: verify(SECRET, ts, body, req.headers['x-gridpatrol-signature'] as string | undefined), timestamp: Number(ts), event: JSON.parse(body) as AlertEvent });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    rules = writeRulesFile(RULES);
    env = testEnv({
      GRIDPATROL_RULES_FILE: rules.path,
      GRIDPATROL_WEBHOOK_URLS: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/gridpatrol`,
      GRIDPATROL_WEBHOOK_SECRET: SECRET,
      // 1,000 messages in a second from one connection
      GRIDPATROL_MAX_MSGS_PER_SEC: '5000',
    });
    gp = await startInProcess(env);
    h = gp.http;
    sse = await openSse(gp.ports.httpPort);
    mq = await subscribeAlerts(gp.ports.mqttPort);
    const t = await h('POST', '/api/v1/tokens', { name: 'officer-yang', role: 'officer' });
    expect(t.status).toBe(201);
    officer = t.json.token;
  });

  afterAll(async () => {
    for (const d of devices) d.end();
    sse?.close();
    mq?.client.end(true);
    await gp?.stop();
    await new Promise((r) => receiver?.close(r));
    rules?.remove();
    if (env) rmSync(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
  });

  async function device(id: string, kind: 'drone' | 'sensor', gridId?: string): Promise<ScriptedDevice> {
    let password = passwords.get(id);
    if (!password) {
      const r = await h('POST', '/api/v1/devices', { id, kind, ...(gridId && { gridId }) });
      expect(r.status).toBe(201);
      passwords.set(id, (password = r.json.password as string));
    }
    const d = new ScriptedDevice(id, kind, await connectMqtt(gp.ports.mqttPort, id, password));
    devices.push(d);
    return d;
  }

  const alertsOf = async (entityId: string): Promise<Alert[]> => ((await h('GET', '/api/v1/alerts?limit=1000')).json.items as Alert[]).filter((a) => a.entityId === entityId);
  const history = async (id: string): Promise<AlertTransition[]> => (await h('GET', `/api/v1/alerts/${id}/history`)).json.items;
  const onSse = (alertId: string, kind: string) => sse.events.waitFor((e) => e.alert.id === alertId && e.transition.kind === kind, `${kind} of ${alertId} on SSE`);
  const opened = (entityId: string, notIn: string[] = []) =>
    sse.events.waitFor((e) => e.alert.entityId === entityId && e.transition.kind === 'open' && !notIn.includes(e.alert.id), `an alert of ${entityId} opened on SSE`);

  it('acknowledges and resolves over HTTP, each step in the audit history with actor, from, to and note; refuses what the state does not allow', async () => {
    const d = await device('d-ack', 'drone');
    await d.telemetry({ alt: 130 });
    const { alert } = await opened('d-ack');
    const as = (token: string) => (method: string, path: string, body?: unknown) => h(method, path, body, token);
    const officerHttp = as(officer);

    const ack = await officerHttp('POST', `/api/v1/alerts/${alert.id}/ack`, { note: 'on my way' });
    expect(ack.status).toBe(200);
    expect(ack.json).toMatchObject({ id: alert.id, state: 'acknowledged', acknowledgedBy: 'officer-yang' });
    expect((await onSse(alert.id, 'acknowledge')).transition).toMatchObject({ actor: 'officer-yang', from: 'open', to: 'acknowledged', note: 'on my way' });
    await mq.messages.waitFor((m) => m.alert.id === alert.id && m.alert.state === 'acknowledged', 'the acknowledged alert on MQTT');

    const again = await officerHttp('POST', `/api/v1/alerts/${alert.id}/ack`, {});
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(again.json).toMatchObject({ status: 409, code: 'GP_ERR_ALERT_STATE' });
    expect(again.json.detail).toContain(`it is acknowledged by officer-yang at ${ack.json.acknowledgedAt}`);

    for (const body of [undefined, {}, { note: '' }, { note: '   ' }]) {
      const r = await officerHttp('POST', `/api/v1/alerts/${alert.id}/resolve`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.code).toBe('GP_ERR_API_VALIDATION');
    }
    const resolved = await officerHttp('POST', `/api/v1/alerts/${alert.id}/resolve`, { note: 'pilot descended; wind gust' });
    expect(resolved.status).toBe(200);
    expect(resolved.json).toMatchObject({ state: 'resolved', resolvedBy: 'officer-yang', acknowledgedBy: 'officer-yang' });
    expect((await officerHttp('POST', `/api/v1/alerts/${alert.id}/ack`)).status).toBe(409);
    expect((await officerHttp('POST', `/api/v1/alerts/${alert.id}/resolve`, { note: 'twice' })).json.code).toBe('GP_ERR_ALERT_STATE');
    expect((await officerHttp('POST', '/api/v1/alerts/al_nope/ack')).json.code).toBe('GP_ERR_ALERT_NOT_FOUND');

    const trail = await history(alert.id);
    expect(trail.map(({ kind, actor, from, to, note }) => ({ kind, actor, from, to, note }))).toEqual([
      { kind: 'open', actor: 'system', from: null, to: 'open', note: alert.description },
      { kind: 'acknowledge', actor: 'officer-yang', from: 'open', to: 'acknowledged', note: 'on my way' },
      { kind: 'resolve', actor: 'officer-yang', from: 'acknowledged', to: 'resolved', note: 'pilot descended; wind gust' },
    ]);
    expect(trail.map((t) => t.at)).toEqual([alert.openedAt, ack.json.acknowledgedAt, resolved.json.resolvedAt]);
    // what SSE carried is the audit trail itself: same ids, same records
    const streamed = sse.events.filter((e) => e.alert.id === alert.id).map((e) => e.transition);
    expect(streamed).toEqual(trail);
    // and the store has it as the contract's alert_transition measurement, each at its own time
    const probe = await sqliteProbe();
    probe.env(env.GRIDPATROL_DATA_DIR);
    const rows = await eventually(async () => {
      const r = await probe.rows('alert_transition', `alert_id = '${alert.id}'`).catch(() => []);
      return r.length === 3 && r;
    });
    expect(rows.map(({ time, grid_id, severity, rule, entity_id, state, actor, note }) => ({ time, grid_id, severity, rule, entity_id, state, actor, note }))).toEqual(
      trail.map((t) => ({ time: Date.parse(t.at), grid_id: 'LY-C4', severity: 'warning', rule: 'ceiling', entity_id: 'd-ack', state: t.to, actor: t.actor, note: t.note })),
    );
  });

  it('resolves by itself when the condition clears, but not a fire or a rule that needs disposal; a recurrence links the alert before', async () => {
    const d = await device('d-auto', 'drone');
    await d.telemetry({ alt: 130 });
    const first = (await opened('d-auto')).alert;
    expect(first.requiresDisposal).toBe(false);
    await d.telemetry({ alt: 100 });
    expect((await onSse(first.id, 'auto_resolve')).alert).toMatchObject({ state: 'resolved', resolvedBy: 'system' });
    await d.telemetry({ alt: 125 });
    const second = (await opened('d-auto', [first.id])).alert;
    expect(second).toMatchObject({ state: 'open', previousAlertId: first.id, count: 1 });

    const gas = await device('gas-1', 'sensor', 'LY-C4');
    await gas.reading('gas', 25, { unit: '%LEL' });
    const leak = (await opened('gas-1')).alert;
    expect(leak.requiresDisposal).toBe(true);
    await gas.reading('gas', 4, { unit: '%LEL' }); // clears, but a person must close it
    await gas.reading('gas', 25, { unit: '%LEL' }); // and a new rise is the same alert
    const [kept] = await alertsOf('gas-1');
    expect(kept).toMatchObject({ id: leak.id, state: 'open', count: 2 });
    expect((await history(leak.id)).map((t) => t.kind)).toEqual(['open']);

    const f = await device('d-fire', 'drone');
    await f.event('fire', 0.9, { lat: 33.81, lon: 113.95 });
    const fire = (await opened('d-fire')).alert;
    expect(fire).toMatchObject({ severity: 'critical', requiresDisposal: true });
    await f.telemetry({ lat: 33.81, lon: 113.95 });
    expect((await alertsOf('d-fire'))[0]).toMatchObject({ id: fire.id, state: 'open' });
    expect((await h('POST', `/api/v1/alerts/${fire.id}/resolve`, { note: 'fire brigade put it out' })).status).toBe(200);
    await f.event('fire', 0.95, { lat: 33.81, lon: 113.95 });
    expect((await opened('d-fire', [fire.id])).alert).toMatchObject({ previousAlertId: fire.id, requiresDisposal: true });
  });

  it('turns 1,000 repeats published within about a second into one alert with count 1000 and one transition', async () => {
    const d = await device('d-rep', 'drone');
    const started = performance.now();
    await Promise.all(Array.from({ length: 1000 }, (_, i) => d.event('fire', 0.9, { lat: 33.81, lon: 113.95 }, i === 0 ? 1000 : 1)));
    const elapsedMs = performance.now() - started;
    const alerts = await alertsOf('d-rep');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ count: 1000, state: 'open' });
    expect((await history(alerts[0]!.id)).map((t) => t.kind)).toEqual(['open']);
    expect(sse.events.filter((e) => e.alert.entityId === 'd-rep')).toHaveLength(1);
    // the publishes were acknowledged within a second or so (PUBACK waits for the spool and the rules)
    console.info(`1,000 fire events from one drone acknowledged in ${Math.round(elapsedMs)} ms`);
    expect(elapsedMs).toBeLessThan(5000);
  });

  it('records a silenced alert but delivers it nowhere; ending the silence delivers it', async () => {
    const created = await h('POST', '/api/v1/silences', { matchers: { entityId: 'd-quiet' }, endsAt: new Date(Date.now() + 3_600_000).toISOString(), reason: 'planned test flight above the ceiling' }, officer);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ matchers: { entityId: 'd-quiet' }, createdBy: 'officer-yang', reason: 'planned test flight above the ceiling' });
    expect((await h('GET', '/api/v1/silences')).json.items.map((s: { id: string }) => s.id)).toContain(created.json.id);

    const quiet = await device('d-quiet', 'drone');
    await quiet.telemetry({ alt: 140 });
    const [silenced] = await alertsOf('d-quiet');
    expect(silenced).toMatchObject({ state: 'open', silenced: true });
    expect((await history(silenced!.id)).map((t) => [t.kind, t.note])).toEqual([['open', `${silenced!.description} (silenced)`]]);

    // delivery keeps commit order: once a later alert is out on every channel, the silenced one would have been too
    const loud = await device('d-loud', 'drone');
    await loud.telemetry({ alt: 140 });
    const later = await opened('d-loud');
    await mq.messages.waitFor((m) => m.alert.id === later.alert.id, 'the later alert on MQTT');
    expect(sse.events.filter((e) => e.alert.entityId === 'd-quiet')).toEqual([]);
    expect(mq.messages.filter((m) => m.alert.entityId === 'd-quiet')).toEqual([]);

    const ended = await h('DELETE', `/api/v1/silences/${created.json.id}`, undefined, officer);
    expect(ended.status).toBe(200);
    const lifted = await onSse(silenced!.id, 'silence');
    expect(lifted.alert.silenced).toBe(false);
    expect(lifted.transition).toMatchObject({ actor: 'officer-yang', from: 'open', to: 'open', note: 'no silence covers it any more' });
    await mq.messages.waitFor((m) => m.alert.id === silenced!.id && !m.alert.silenced, 'the unsilenced alert on MQTT');

    // a silence that ran out is listed only when asked for
    const brief = await h('POST', '/api/v1/silences', { matchers: { ruleId: 'ceiling', gridId: 'LY-A1' }, endsAt: Date.now() + 300, reason: 'a short test' });
    expect(brief.status).toBe(201);
    const ids = async (q: string) => (await h('GET', `/api/v1/silences${q}`)).json.items.map((x: { id: string }) => x.id) as string[];
    await eventually(async () => !(await ids('')).includes(brief.json.id));
    expect(await ids('?expired=false')).not.toContain(brief.json.id);
    expect(await ids('?expired=true')).toContain(brief.json.id);
    expect(await ids('?expired=true')).not.toContain(created.json.id); // deleted: only in the audit
  });

  it('resumes an SSE stream with Last-Event-ID without missing or repeating a transition, silenced ones left out as live', async () => {
    const d = await device('d-sse', 'drone');
    const away = await openSse(gp.ports.httpPort);
    await d.telemetry({ alt: 130 });
    const first = await away.events.waitFor((e) => e.alert.entityId === 'd-sse', 'the first transition');
    away.close();
    await away.closed;

    // while it is away: 40 transitions in one message (open, resolve, reopen …), one by a person, and one silenced alert
    await d.telemetryBatch(Array.from({ length: 40 }, (_, i) => ({ alt: i % 2 === 0 ? 100 : 130 })), 500);
    const last = (await alertsOf('d-sse'))[0]!;
    const acked = await h('POST', `/api/v1/alerts/${last.id}/ack`, { note: 'seen' });
    expect(acked.status).toBe(200);
    const s = await h('POST', '/api/v1/silences', { matchers: { entityId: 'd-hush' }, endsAt: Date.now() + 3_600_000, reason: 'calibration' });
    await (await device('d-hush', 'drone')).telemetry({ alt: 150 });
    await h('DELETE', `/api/v1/silences/${s.json.id}`);
    const end = await onSse((await alertsOf('d-hush'))[0]!.id, 'silence');

    const back = await openSse(gp.ports.httpPort, { lastEventId: first.id });
    await back.events.waitFor((e) => e.id === end.id, 'the replay to reach the newest transition');
    const expected = sse.events.items.filter((e) => e.id > first.id && e.id <= end.id);
    expect(back.events.items.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(back.events.items.map(({ transition, alert }) => ({ transition, alert }))).toEqual(expected.map(({ transition, alert }) => ({ transition, alert })));
    expect(back.events.filter((e) => e.alert.entityId === 'd-sse').length).toBe(40 + 1); // 40 in the batch and the ack

    // and it is live again: the next transition comes once
    await d.telemetry({ alt: 90 });
    const next = await back.events.waitFor((e) => e.id > end.id, 'a live transition after the replay');
    expect(next.id).toBe((await sse.events.waitFor((e) => e.id > end.id, 'the same on the other stream')).id);
    back.close();

    // from the very beginning: exactly what a client connected all along received
    const all = await openSse(gp.ports.httpPort, { lastEventId: 0 });
    await all.events.waitFor((e) => e.id === next.id, 'the whole replay');
    expect(all.events.items.map((e) => e.id)).toEqual(sse.events.items.filter((e) => e.id <= next.id).map((e) => e.id));
    all.close();
  });

  it('lists the rules in force', async () => {
    const r = await h('GET', '/api/v1/rules', undefined, officer);
    expect(r.status).toBe(200);
    expect(r.json.items.map((x: { id: string }) => x.id)).toEqual(['ceiling', 'detect-fire', 'gas-high', 'smoke-slow']);
    expect(r.json.items[3]).toMatchObject({ id: 'smoke-slow', kind: 'threshold', severity: 'warning', field: 'value', op: 'above', value: 8, for: 10_000, minSamples: 2, enabled: true, appliesTo: { kind: 'sensor', metrics: ['smoke'] } });
    expect(r.json.items[2]).toMatchObject({ requiresDisposal: true, clear: 10 });
  });

  it('reports time to acknowledge and to resolve for the cell', async () => {
    const d = await device('d-sla', 'drone');
    await d.telemetry({ lat: 33.96, lon: 114.05, alt: 130 }); // LY-F6, no other alert there
    const { alert } = await opened('d-sla');
    expect(alert.gridId).toBe('LY-F6');
    const ack = (await h('POST', `/api/v1/alerts/${alert.id}/ack`, {}, officer)).json as Alert;
    const res = (await h('POST', `/api/v1/alerts/${alert.id}/resolve`, { note: 'done' }, officer)).json as Alert;
    const r = await h('GET', `/api/v1/reports/sla?from=${Date.now() - 3_600_000}&to=${new Date(Date.now() + 1000).toISOString()}`, undefined, officer);
    expect(r.status).toBe(200);
    const secs = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 1000;
    expect(r.json.items.find((x: { gridId: string }) => x.gridId === 'LY-F6')).toEqual({
      gridId: 'LY-F6', severity: 'warning', count: 1, acknowledged: 1, resolved: 1,
      ackMedianS: secs(alert.openedAt, ack.acknowledgedAt!), ackP90S: secs(alert.openedAt, ack.acknowledgedAt!),
      resolveMedianS: secs(alert.openedAt, res.resolvedAt!), resolveP90S: secs(alert.openedAt, res.resolvedAt!),
      responseMissed: 0, disposalMissed: 0,
    });
    // a critical alert still waiting counts in its own row
    expect(r.json.items.find((x: { gridId: string; severity: string }) => x.gridId === 'LY-C4' && x.severity === 'critical')).toMatchObject({ resolved: 1 });
  });

  it('signs every webhook, retries the two failed first deliveries with backoff, and keeps delivering the rest in order', async () => {
    const deliveredIds = () => hooks.filter((x) => x.status === 200).map((x) => x.event.transition.id);
    const expectedIds = sse.events.items.map((e) => e.id);
    await eventually(() => deliveredIds().length >= expectedIds.length, 20_000);
    expect(deliveredIds()).toEqual(expectedIds);
    expect(hooks.every((x) => x.signatureOk)).toBe(true);
    expect(hooks.every((x) => Math.abs(Date.now() - x.timestamp) < 120_000)).toBe(true);
    // the first transition three times: 500, 500, then taken; 1 s and 2 s apart (backoff)
    const [a, b, c] = hooks;
    expect([a, b, c].map((x) => [x!.event.transition.id, x!.status])).toEqual([[expectedIds[0], 500], [expectedIds[0], 500], [expectedIds[0], 200]]);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(900);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(1900);
    // silenced alerts are not sent
    expect(hooks.some((x) => x.event.alert.entityId === 'd-quiet' && x.event.transition.kind === 'open')).toBe(false);
    // and the queue is visible: nothing pending or failed now
    const metrics = String((await h('GET', '/metrics', undefined, null)).json);
    expect(metrics).toMatch(/^gridpatrol_webhook_deliveries\{status="pending"\} 0$/m);
    expect(metrics).toMatch(/^gridpatrol_webhook_deliveries\{status="failed"\} 0$/m);
    const listed = (await h('GET', '/api/v1/webhooks/deliveries?limit=1000')).json.items as Array<{ eventId: number; status: string; attempts: number }>;
    expect(listed.find((d) => d.eventId === expectedIds[0])).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(listed.filter((d) => d.status !== 'delivered')).toEqual([]);
  });

  it('keeps alerts, their history and a `for` under way across a restart on the same data folder, with an SSE client connected', async () => {
    const s = await device('s-slow', 'sensor', 'LY-C4');
    await s.reading('smoke', 9, {}, 0);
    await s.reading('smoke', 9.1, {}, 5000); // 5 s of 10 held
    const before = (await h('GET', '/api/v1/alerts?limit=1000')).json.items as Alert[];
    const histories = await Promise.all(before.map((a) => history(a.id)));
    const lastSeen = sse.lastId();

    for (const d of devices.splice(0)) d.end();
    mq.client.end(true);
    await gp.gp.stop(); // the SSE stream is still open: stop must end it, not wait for it
    await sse.closed;

    gp = await startInProcess(env);
    h = gp.http;
    const after = (await h('GET', '/api/v1/alerts?limit=1000')).json.items as Alert[];
    expect(after).toEqual(before);
    expect(await Promise.all(after.map((a) => history(a.id)))).toEqual(histories);

    sse = await openSse(gp.ports.httpPort, { lastEventId: lastSeen });
    const again = await device('s-slow', 'sensor');
    again.ts = s.ts;
    again.seq = s.seq;
    await again.reading('smoke', 9.3, {}, 6000); // 11 s held, across the restart
    const { alert } = await opened('s-slow');
    expect(alert).toMatchObject({ ruleId: 'smoke-slow', values: { heldForS: 11 } });
    expect(sse.events.items[0]!.id).toBeGreaterThan(lastSeen);
    expect(topics.alerts(alert.gridId, alert.severity)).toBe('gridpatrol/v1/alerts/LY-C4/warning');
  });
});

describe('SSE resume after a long absence', () => {
  let rules: ReturnType<typeof writeRulesFile>;
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  let drone: ScriptedDevice | undefined;

  beforeAll(async () => {
    rules = writeRulesFile(RULES);
    gp = await startInProcess({ GRIDPATROL_RULES_FILE: rules.path });
  });
  afterAll(async () => {
    drone?.end();
    await gp?.stop();
    rules?.remove();
  });

  it('replays a backlog of 10,500 transitions (more than one replay page, more than the socket buffer) in order, then goes live', async () => {
    const r = await gp.http('POST', '/api/v1/devices', { id: 'd-flap', kind: 'drone' });
    drone = new ScriptedDevice('d-flap', 'drone', await connectMqtt(gp.ports.mqttPort, 'd-flap', r.json.password));
    const first = await openSse(gp.ports.httpPort);
    await drone.telemetry({ alt: 130 });
    const seen = await first.events.waitFor((e) => e.transition.kind === 'open', 'the first alert');
    first.close();

    // 35 messages of 300 positions flapping around the ceiling: 10,500 transitions while nobody listens
    const started = performance.now();
    for (let m = 0; m < 35; m++) await drone.telemetryBatch(Array.from({ length: 300 }, (_, i) => ({ alt: i % 2 === 0 ? 100 : 130 })), 100);
    const madeMs = performance.now() - started;

    const back = await openSse(gp.ports.httpPort, { lastEventId: seen.id });
    const last = await back.events.waitFor((e) => e.id === seen.id + 10_500, 'the newest transition', 30_000);
    expect(back.isClosed()).toBe(false);
    expect(back.events.items.map((e) => e.id)).toEqual(Array.from({ length: 10_500 }, (_, i) => seen.id + 1 + i));
    expect(last.transition.kind).toBe('open');
    await drone.telemetry({ alt: 90 });
    expect((await back.events.waitFor((e) => e.id > last.id, 'a live transition')).transition).toMatchObject({ id: last.id + 1, kind: 'auto_resolve' });
    console.info(`10,500 transitions made in ${Math.round(madeMs)} ms, replayed in ${Math.round(last.receivedAt - started - madeMs)} ms`);
    back.close();
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { openMetadataDb } from '../storage/metadata-db.js';
import { AlertService, type AlertEvent } from './service.js';
import { MIN, RecordingSink, T0, clear, fire, grids, harness, rulesFile, type Harness } from './testing.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.close();
});

describe('AlertService lifecycle', () => {
  it('opens, acknowledges and resolves an alert, each step an audit record with actor, states, note and time', () => {
    const opened = h.service.handle(fire('water-high', 's1', { values: { value: 2.4 } }))!;
    expect(opened).toMatchObject({
      id: expect.stringMatching(/^al_[0-9a-z]{26}$/), fingerprint: 'water-high/sensor/s1', state: 'open', severity: 'warning',
      gridId: 'C1', officer: { id: 'wang', name: 'Officer wang' }, values: { value: 2.4 }, position: { lat: 0.5, lon: 0.5 },
      openedAt: new Date(T0).toISOString(), count: 1, escalationLevel: 0, requiresDisposal: false, silenced: false,
      previousAlertId: null, evidence: [], acknowledgedAt: null, resolvedAt: null,
      // warning deadlines come from the rules file: 10 min to acknowledge, 12 h to resolve
      responseDueAt: new Date(T0 + 10 * MIN).toISOString(), disposalDueAt: new Date(T0 + 12 * 60 * MIN).toISOString(),
    });

    h.clock.advance(2 * MIN);
    const acked = h.service.acknowledge(opened.id, 'officer-wang', '  on my way ');
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'officer-wang', acknowledgedAt: new Date(T0 + 2 * MIN).toISOString() });

    h.clock.advance(30 * MIN);
    const resolved = h.service.resolve(opened.id, 'officer-wang', 'valve closed');
    expect(resolved).toMatchObject({ state: 'resolved', resolvedBy: 'officer-wang', resolvedAt: new Date(T0 + 32 * MIN).toISOString() });
    expect(h.service.get(opened.id)).toEqual(resolved);

    const trail = h.service.history(opened.id);
    expect(trail.map(({ id: _, alertId, ...t }) => ({ ...t, same: alertId === opened.id }))).toEqual([
      { kind: 'open', actor: 'system', from: null, to: 'open', note: 'water-high on s1', at: new Date(T0).toISOString(), same: true },
      { kind: 'acknowledge', actor: 'officer-wang', from: 'open', to: 'acknowledged', note: 'on my way', at: new Date(T0 + 2 * MIN).toISOString(), same: true },
      { kind: 'resolve', actor: 'officer-wang', from: 'acknowledged', to: 'resolved', note: 'valve closed', at: new Date(T0 + 32 * MIN).toISOString(), same: true },
    ]);
    expect(trail[1]!.id).toBeGreaterThan(trail[0]!.id);
    expect(trail[2]!.id).toBeGreaterThan(trail[1]!.id);
  });

  it('refuses transitions the state does not allow, with GP_ERR_ALERT_STATE and who did what', () => {
    const a = h.service.handle(fire('water-high', 's1'))!;
    h.service.acknowledge(a.id, 'wang');
    // same clock reading as the open: the acknowledgement gets the next millisecond (one per transition)
    expect(() => h.service.acknowledge(a.id, 'li')).toThrow(expect.objectContaining({
      code: 'GP_ERR_ALERT_STATE', status: 409, detail: expect.stringContaining(`it is acknowledged by wang at ${new Date(T0 + 1).toISOString()}`),
    }));
    h.service.resolve(a.id, 'wang', 'done');
    expect(() => h.service.resolve(a.id, 'li', 'again')).toThrow(expect.objectContaining({ code: 'GP_ERR_ALERT_STATE', detail: expect.stringContaining('already resolved') }));
    expect(() => h.service.acknowledge(a.id, 'li')).toThrow(expect.objectContaining({ code: 'GP_ERR_ALERT_STATE', status: 409 }));
    expect(h.service.history(a.id)).toHaveLength(3); // the refusals left no trace
  });

  it('resolves straight from open, asks for a note, and answers 404 for an unknown alert', () => {
    const a = h.service.handle(fire('water-high', 's1'))!;
    expect(() => h.service.resolve(a.id, 'wang', '  ')).toThrow(expect.objectContaining({ code: 'GP_ERR_API_VALIDATION' }));
    expect(h.service.resolve(a.id, 'wang', 'false alarm').state).toBe('resolved');
    expect(h.service.history(a.id).map((t) => [t.from, t.to])).toEqual([[null, 'open'], ['open', 'resolved']]);
    for (const call of [() => h.service.get('al_nope'), () => h.service.history('al_nope'), () => h.service.acknowledge('al_nope', 'x')]) {
      expect(call).toThrow(expect.objectContaining({ code: 'GP_ERR_ALERT_NOT_FOUND', status: 404 }));
    }
    expect(h.service.find('al_nope')).toBeUndefined();
  });

  it('attaches evidence as an audited transition without changing the state', () => {
    const a = h.service.handle(fire('fire-seen', 'd1'))!;
    const evidence = { at: new Date(T0).toISOString(), kind: 'dispatch' as const, summary: 'd7 sent to verify', data: { droneId: 'd7' } };
    expect(h.service.addEvidence(a.id, evidence).evidence).toEqual([evidence]);
    expect(h.service.history(a.id).at(-1)).toMatchObject({ kind: 'evidence', actor: 'system', from: 'open', to: 'open', note: 'dispatch: d7 sent to verify' });
    expect(() => h.service.addEvidence(a.id, { ...evidence, kind: 'nope' as never })).toThrow(expect.objectContaining({ code: 'GP_ERR_API_VALIDATION' }));
  });
});

describe('AlertService deduplication', () => {
  it('turns 1,000 repeats in a loop into one alert with count 1,000 and one transition', () => {
    const events: AlertEvent[] = [];
    h.service.onTransition((e) => events.push(e));
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      h.clock.advance(1);
      ids.add(h.service.handle(fire('water-high', 's1', { values: { value: 2 + i / 1000 } }))!.id);
    }
    expect(ids.size).toBe(1);
    const [alert] = h.service.list({}).items;
    expect(h.service.list({}).items).toHaveLength(1);
    expect(alert).toMatchObject({ count: 1000, values: { value: 2.999 }, lastSeenAt: new Date(T0 + 1000).toISOString() });
    expect(events.map((e) => e.transition.kind)).toEqual(['open']);
  });

  it('turns 1,000 concurrent repeats (Promise.all) into one alert', async () => {
    const results = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      await Promise.resolve();
      return h.service.handle(fire('water-high', 's1', { values: { value: i } }));
    }));
    expect(new Set(results.map((a) => a!.id)).size).toBe(1);
    expect(h.service.list({}).items.map((a) => a.count)).toEqual([1000]);
    expect(h.service.transitionsSince(0, 10)).toHaveLength(1);
  });

  it('cannot hold two unresolved alerts of one fingerprint even when written around the service', () => {
    const a = h.service.handle(fire('water-high', 's1'))!;
    expect(() => h.db.prepare(`INSERT INTO alerts (id, fingerprint, rule_id, rule_kind, severity, state, entity_kind, entity_id, grid_id,
      description, values_json, opened_at, last_seen_at, count, response_due_at, disposal_due_at, requires_disposal, silenced)
      VALUES ('al_other', ?, 'water-high', 'threshold', 'warning', 'acknowledged', 'sensor', 's1', 'C1', '', '{}', 0, 0, 1, 0, 0, 0, 0)`)
      .run(a.fingerprint)).toThrow(/UNIQUE constraint failed: alerts.fingerprint/);
  });
});

describe('AlertService batches', () => {
  it('takes the signals of one evaluation in order in one transaction; a signal that fails is rolled back alone', () => {
    const events: AlertEvent[] = [];
    h.service.onTransition((e) => events.push(e));
    const results = h.service.handleAll([
      fire('water-high', 's1'),
      fire('water-high', 's2', { values: { value: 1n as unknown as number } }), // cannot be stored: JSON has no BigInt
      fire('water-high', 's3'),
      fire('water-high', 's1', { values: { value: 3 } }),
      clear('water-high', 's3'),
    ]);
    expect(results.map((a) => a && [a.entityId, a.state, a.count])).toEqual([['s1', 'open', 1], null, ['s3', 'open', 1], ['s1', 'open', 2], ['s3', 'resolved', 1]]);
    expect(h.service.list({}).items.map((a) => [a.entityId, a.state, a.count, a.values])).toEqual([
      ['s3', 'resolved', 1, { value: 2.5 }], ['s1', 'open', 2, { value: 3 }],
    ]);
    expect(events.map((e) => [e.alert.entityId, e.transition.kind])).toEqual([['s1', 'open'], ['s3', 'open'], ['s3', 'auto_resolve']]);
    expect(h.service.transitionsSince(0, 10).map((e) => e.transition.id)).toEqual(events.map((e) => e.transition.id));
  });

  it('sees what another connection to the database changed: a repeat after a resolve elsewhere opens a new alert', async () => {
    const first = h.service.handle(fire('water-high', 's1'))!;
    expect(h.service.handle(fire('water-high', 's1'))!.count).toBe(2); // its unresolved alert is in memory now
    const db2 = openMetadataDb(h.path);
    const other = new AlertService({ db: db2, grids, rules: () => rulesFile, sink: new RecordingSink(), now: h.clock.now, log: silentLogger(), metrics: createMetrics() });
    try {
      other.resolve(first.id, 'li', 'handled on the other node');
      const next = h.service.handle(fire('water-high', 's1'))!;
      expect(next).toMatchObject({ state: 'open', count: 1, previousAlertId: first.id });
      expect(next.id).not.toBe(first.id);
      expect(h.service.get(first.id)).toMatchObject({ state: 'resolved', resolvedBy: 'li', count: 2 });
    } finally {
      await other.close();
      db2.close();
    }
  });
});

describe('AlertService clearing and recurrence', () => {
  it('resolves automatically when the condition clears', () => {
    const a = h.service.handle(fire('water-high', 's1'))!;
    h.clock.advance(MIN);
    expect(h.service.handle(clear('water-high', 's1'))).toMatchObject({ id: a.id, state: 'resolved', resolvedBy: 'system' });
    expect(h.service.history(a.id).at(-1)).toMatchObject({ kind: 'auto_resolve', actor: 'system', from: 'open', to: 'resolved', note: 'condition cleared' });
    expect(h.service.handle(clear('water-high', 's1'))).toBeNull(); // nothing left to clear
  });

  it('keeps an alert that needs disposal open when the condition clears (fire detection, a rule that says so)', () => {
    const fireAlert = h.service.handle(fire('fire-seen', 'd1'))!;
    const gas = h.service.handle(fire('gas-leak', 's9'))!;
    const smoke = h.service.handle(fire('smoke-seen', 'd1'))!;
    expect([fireAlert.requiresDisposal, gas.requiresDisposal, smoke.requiresDisposal]).toEqual([true, true, false]);
    expect(h.service.handle(clear('fire-seen', 'd1'))).toMatchObject({ id: fireAlert.id, state: 'open' });
    expect(h.service.handle(clear('gas-leak', 's9'))).toMatchObject({ state: 'open' });
    expect(h.service.handle(clear('smoke-seen', 'd1'))).toMatchObject({ state: 'resolved' });
    expect(h.service.history(fireAlert.id)).toHaveLength(1);
    // the detection fires again while it waits for a person: still the same alert
    expect(h.service.handle(fire('fire-seen', 'd1'))).toMatchObject({ id: fireAlert.id, count: 2 });
  });

  it('opens a new alert on recurrence after resolution, linked to the one before', () => {
    const first = h.service.handle(fire('water-high', 's1'))!;
    h.service.handle(clear('water-high', 's1'));
    h.clock.advance(MIN);
    const second = h.service.handle(fire('water-high', 's1'))!;
    expect(second.id).not.toBe(first.id);
    expect(second).toMatchObject({ previousAlertId: first.id, count: 1, state: 'open' });
    h.service.acknowledge(second.id, 'wang');
    h.service.resolve(second.id, 'wang', 'drained');
    h.clock.advance(MIN);
    expect(h.service.handle(fire('water-high', 's1'))).toMatchObject({ previousAlertId: second.id });
    expect(h.service.handle(fire('water-high', 's2'))).toMatchObject({ previousAlertId: null }); // another entity, another fingerprint
  });
});

describe('AlertService inhibition', () => {
  it("suppresses a drone's geofence and battery signals while its lost-link alert is unresolved", () => {
    const lost = h.service.handle(fire('link-lost', 'd1'))!;
    expect(h.service.handle(fire('left-cell', 'd1'))).toBeNull();
    expect(h.service.handle(fire('battery-home', 'd1'))).toBeNull();
    expect(h.service.handle(fire('left-cell', 'd2'))).toMatchObject({ entityId: 'd2' }); // another drone
    expect(h.service.handle(fire('fire-seen', 'd1'))).toMatchObject({ entityId: 'd1' }); // detections are not inhibited
    h.service.acknowledge(lost.id, 'wang');
    expect(h.service.handle(fire('left-cell', 'd1'))).toBeNull(); // acknowledged is still unresolved
    h.service.handle(clear('link-lost', 'd1'));
    expect(h.service.handle(fire('left-cell', 'd1'))).toMatchObject({ entityId: 'd1', state: 'open' });
    expect(h.service.list({}).items.map((a) => a.ruleId).sort()).toEqual(['fire-seen', 'left-cell', 'left-cell', 'link-lost']);
  });
});

describe('AlertService listeners', () => {
  it('delivers each committed transition in order, also those a listener causes, and survives a listener that throws', () => {
    const seen: string[] = [];
    h.service.onTransition(() => {
      throw new Error('broken consumer');
    });
    h.service.onTransition((e) => {
      seen.push(`a:${e.transition.kind}`);
      // as dispatch does: react to an open with evidence
      if (e.transition.kind === 'open') h.service.addEvidence(e.alert.id, { at: e.transition.at, kind: 'note', summary: 'looking' });
    });
    const off = h.service.onTransition((e) => seen.push(`b:${e.transition.kind}:${e.alert.evidence.length}`));
    const a = h.service.handle(fire('water-high', 's1'))!;
    expect(seen).toEqual(['a:open', 'b:open:0', 'a:evidence', 'b:evidence:1']);
    off();
    h.service.acknowledge(a.id, 'wang');
    expect(seen.at(-1)).toBe('a:acknowledge');
    expect(h.service.get(a.id).state).toBe('acknowledged');
  });
});

import { describe, expect, it } from 'vitest';
import type { AlertTransitionRecord } from '../../core/records.js';
import { loadRulesFile } from '../../lib/rules-file.js';
import { clears, fires, harness, IN_NFZ, only, reading, rulesFile, T0, telemetry } from './test-kit.js';

const low = { id: 'low', kind: 'threshold', severity: 'warning', field: 'battery', op: 'below', value: 20, minSamples: 2 };
const hot = { id: 'hot', kind: 'threshold', severity: 'critical', appliesTo: { metrics: ['temperature'] }, field: 'value', op: 'above', value: 60, for: '30s' };
const noFly = { id: 'no-fly', kind: 'geofence', severity: 'critical', check: 'no_fly' };

describe('RulesEngine', () => {
  it("evaluates a call's records in device-time order", () => {
    const { engine } = harness([low]);
    const s = only(engine.onRecords([telemetry('d', T0 + 2000, { battery: 10 }), telemetry('d', T0 + 1000, { battery: 12 })]));
    expect(s).toMatchObject({ type: 'fire', at: T0 + 2000, values: { value: 10 } });
  });

  it('ignores a record older than the newest one a stateful rule has seen for that entity', () => {
    const { engine } = harness([low]);
    engine.onRecords([telemetry('d', T0, { battery: 10 }), telemetry('d', T0 + 1000, { battery: 10 })]);
    expect(engine.onRecords([telemetry('d', T0 + 500, { battery: 90 })])).toEqual([]); // late: no clear
    expect(clears(engine.onRecords([telemetry('d', T0 + 2000, { battery: 90 })]))).toHaveLength(1);
  });

  it('ignores records that are not from devices (alert transitions)', () => {
    const { engine } = harness([low]);
    const t: AlertTransitionRecord = { type: 'alert_transition', gridId: 'LY-C3', severity: 'warning', rule: 'low', ts: T0, alertId: 'a', entityId: 'd', state: 'open', actor: 'system' };
    expect(engine.onRecords([t])).toEqual([]);
  });

  it('appliesTo: devices and cells (a drone by its assigned cell) choose entities', () => {
    const { engine } = harness([{ ...noFly, appliesTo: { devices: ['a', 'b'], cells: ['LY-C3'] } }], { assigned: { a: 'LY-C3', b: 'LY-A1' } });
    const out = engine.onRecords(['a', 'b', 'c'].map((id) => telemetry(id, T0, IN_NFZ)));
    expect(out.map((s) => s.entityId)).toEqual(['a']);
  });

  it('appliesTo.modes: outside the modes an open condition clears and nothing opens', () => {
    const { engine } = harness([{ ...low, minSamples: 1, appliesTo: { modes: ['patrol', 'goto', 'rth'] } }]);
    expect(fires(engine.onRecords([telemetry('d', T0, { battery: 15 })]))).toHaveLength(1);
    expect(clears(engine.onRecords([telemetry('d', T0 + 1000, { battery: 14, mode: 'landed' })]))).toHaveLength(1);
    expect(engine.onRecords([telemetry('d', T0 + 2000, { battery: 13, mode: 'idle' })])).toEqual([]);
  });

  describe('setRules (reload)', () => {
    it('keeps the state of a rule whose id and kind are unchanged: a `for` under way completes under the new rule', () => {
      const { engine, clock } = harness([hot]);
      engine.onRecords([reading('s', 'temperature', T0, 70)]);
      expect(engine.setRules(rulesFile([{ ...hot, value: 65, description: 'changed' }]))).toEqual([]);
      clock.now = T0 + 30_000;
      expect(only(engine.onRecords([reading('s', 'temperature', T0 + 30_000, 70)]))).toMatchObject({ type: 'fire', values: { threshold: 65, heldForS: 30 } });
      expect(engine.rules()[0]).toMatchObject({ id: 'hot', value: 65 });
    });

    it('drops the state of removed, disabled or re-kinded rules and clears what they had open', () => {
      const { engine, store } = harness([low, noFly, hot]);
      engine.onRecords([telemetry('d', T0, { ...IN_NFZ, battery: 5 }), telemetry('d', T0 + 1000, { ...IN_NFZ, battery: 5 })]);
      engine.onRecords([reading('s', 'temperature', T0, 70)]);
      const out = engine.setRules(rulesFile([{ ...low, enabled: false }, { ...noFly, id: 'hot' }]));
      expect(out).toEqual([
        { type: 'clear', ruleId: 'low', entityKind: 'drone', entityId: 'd', at: T0 },
        { type: 'clear', ruleId: 'no-fly', entityKind: 'drone', entityId: 'd', at: T0 },
      ]);
      expect(store.size).toBe(0); // `hot` is a geofence now: its threshold state is gone
      expect(engine.rules().map((r) => r.id)).toEqual(['low', 'hot']);
    });

    it('narrowing appliesTo.devices drops the entities it no longer covers', () => {
      const { engine } = harness([noFly]);
      engine.onRecords([telemetry('a', T0, IN_NFZ), telemetry('b', T0, IN_NFZ)]);
      expect(engine.setRules(rulesFile([{ ...noFly, appliesTo: { devices: ['a'] } }])).map((s) => s.entityId)).toEqual(['b']);
    });
  });

  it('forgetDevice drops a removed device and clears what was open for it', () => {
    const { engine, store } = harness([noFly, hot]);
    engine.onRecords([telemetry('a', T0, IN_NFZ), telemetry('b', T0, IN_NFZ), reading('a', 'temperature', T0, 80)]);
    expect(engine.forgetDevice('drone', 'a')).toEqual([{ type: 'clear', ruleId: 'no-fly', entityKind: 'drone', entityId: 'a', at: T0 }]);
    expect(store.get('no-fly', 'drone/a')).toBeUndefined();
    expect(store.get('hot', 'sensor/a/temperature')).toBeDefined();
  });

  it('runs the bundled rules over every kind of input without complaint', () => {
    const { engine, clock } = harness([]);
    engine.setRules(loadRulesFile());
    const out = [
      ...engine.onRecords([telemetry('d', T0, { mode: 'takeoff', alt: 5 }), telemetry('d', T0 + 1000, { ...IN_NFZ, alt: 150, battery: 3 })]), // 5 km in 1 s: a GPS jump too
      ...engine.onRecords([reading('s', 'water_level', T0, 4), reading('s', 'smoke', T0, 0)]),
      ...engine.onStatus('sensor', 's', false, T0, true),
      ...engine.tick((clock.now += 10_000)),
    ];
    expect(new Set(out.map((s) => s.ruleId))).toEqual(new Set(['drone-no-fly', 'drone-altitude-ceiling', 'drone-battery-reserve', 'drone-gps-jump', 'sensor-offline', 'drone-lost-link']));
  });
});

import { describe, expect, it } from 'vitest';
import { harness, only, reading, T0, telemetry } from './test-kit.js';

const lost = { id: 'lost-link', kind: 'lost_link', severity: 'critical', appliesTo: { kind: 'drone' }, after: '5s' };
const sensorOffline = { id: 'sensor-offline', kind: 'lost_link', severity: 'warning', appliesTo: { kind: 'sensor' } };
const clear = (at: number, entityId = 'd', ruleId = 'lost-link', entityKind = 'drone') => ({ type: 'clear', ruleId, entityKind, entityId, at });

describe('lost_link', () => {
  it('an airborne drone silent for `after` fires from a tick, once; telemetry again clears', () => {
    const { engine, clock } = harness([lost], { assigned: { d: 'LY-C3' } });
    engine.onRecords([telemetry('d', T0)]);
    expect(engine.tick(T0 + 4999)).toEqual([]);
    const s = only(engine.tick(T0 + 5000));
    expect(s).toMatchObject({
      type: 'fire', severity: 'critical', entityId: 'd', gridId: 'LY-C3', at: T0 + 5000, position: { lat: 33.82, lon: 113.88 },
      values: { cause: 'no_telemetry', mode: 'patrol', silentForS: 5 }, description: 'd sent no telemetry for 5 s while in patrol',
    });
    expect(engine.tick(T0 + 6000)).toEqual([]);
    clock.now = T0 + 9000;
    expect(engine.onRecords([telemetry('d', T0 + 9000)])).toEqual([clear(T0 + 9000)]);
    expect(engine.tick(T0 + 10_000)).toEqual([]);
  });

  it('a drone on the ground may be silent', () => {
    const { engine } = harness([lost]);
    engine.onRecords([telemetry('d', T0, { mode: 'landed' })]);
    expect(engine.tick(T0 + 60_000)).toEqual([]);
  });

  it('the last will fires at once; status online clears', () => {
    const { engine } = harness([lost]);
    engine.onRecords([telemetry('d', T0, { mode: 'rth' })]);
    const s = only(engine.onStatus('drone', 'd', false, T0 + 1500, true));
    expect(s).toMatchObject({ type: 'fire', at: T0 + 1500, values: { cause: 'last_will', mode: 'rth' }, description: 'd lost its connection (MQTT last will) while in rth' });
    expect(engine.tick(T0 + 10_000)).toEqual([]); // already open: the deadman does not fire it twice
    expect(engine.onStatus('drone', 'd', true, T0 + 12_000, false)).toEqual([clear(T0 + 12_000)]);
  });

  it('a will from a landed drone, or an offline it announced itself, opens nothing at once', () => {
    const { engine } = harness([lost]);
    engine.onRecords([telemetry('d', T0, { mode: 'landed' }), telemetry('e', T0)]);
    expect(engine.onStatus('drone', 'd', false, T0 + 100, true)).toEqual([]);
    expect(engine.onStatus('drone', 'e', false, T0 + 100, false)).toEqual([]);
  });

  it('a will from a drone never seen fires, and onLastWill: false turns wills off', () => {
    expect(only(harness([lost]).engine.onStatus('drone', 'x', false, T0, true))).toMatchObject({ type: 'fire', gridId: 'none' });
    expect(harness([{ ...lost, onLastWill: false }]).engine.onStatus('drone', 'x', false, T0, true)).toEqual([]);
  });

  it("a sensor's will fires for a sensor rule; its next reading clears", () => {
    const { engine, clock } = harness([lost, sensorOffline], { sensors: { s1: 'LY-B2' } });
    engine.onRecords([reading('s1', 'smoke', T0, 0)]);
    expect(engine.tick(T0 + 600_000)).toEqual([]); // the deadman is for drones; sensor_silent watches sensors
    expect(only(engine.onStatus('sensor', 's1', false, T0 + 1000, true))).toMatchObject({ type: 'fire', ruleId: 'sensor-offline', entityKind: 'sensor', gridId: 'LY-B2' });
    clock.now = T0 + 2000;
    expect(engine.onRecords([reading('s1', 'smoke', T0 + 2000, 0)])).toEqual([clear(T0 + 2000, 's1', 'sensor-offline', 'sensor')]);
  });

  it('silence is counted on the server clock: a drone whose clock is an hour behind is not lost', () => {
    const { engine } = harness([lost]);
    engine.onRecords([telemetry('d', T0 - 3_600_000)]);
    expect(engine.tick(T0 + 1000)).toEqual([]);
  });
});

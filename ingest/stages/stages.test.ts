import { describe, expect, it } from 'vitest';
import { decode } from './decode.js';
import { Dedup, SEQ_WINDOW } from './dedup.js';
import { normalizeTime } from './normalize.js';
import { isRefusal, type Envelope } from './types.js';
import { validate } from './validate.js';

const env = (payload: string | Buffer): Envelope => ({
  deviceId: 'd1', kind: 'drone', channel: 'telemetry', topic: 'gridpatrol/v1/drones/d1/telemetry',
  payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), receivedAt: 0,
});
const telemetry = { ts: 1795852800000, seq: 42, lat: 33.8123, lon: 113.9541, alt: 118.5, speed: 8.2, heading: 270, battery: 76, mode: 'patrol', rssi: -67, sats: 14 };

describe('decode', () => {
  it('takes one object or an array of them', () => {
    expect(decode(env('{"a":1}'), 100)).toEqual([{ a: 1 }]);
    expect(decode(env('[{"a":1},{"a":2}]'), 100)).toHaveLength(2);
  });
  it.each([
    ['{"a":', 'not_json', /not valid JSON/],
    ['', 'empty', /empty/],
    ['[]', 'empty_batch', /empty array/],
    ['42', 'not_object', /JSON number/],
    ['null', 'not_object', /JSON null/],
  ])('refuses %j with %s', (payload, code, reason) => {
    const r = decode(env(payload), 100);
    expect(isRefusal(r) && r.code).toBe(code);
    expect(isRefusal(r) && r.reason).toMatch(reason);
  });
  it('refuses a payload over the limit and says the limit', () => {
    const r = decode(env('x'.repeat(101)), 100);
    expect(isRefusal(r) && r).toMatchObject({ stage: 'decode', code: 'too_large' });
    expect(isRefusal(r) && r.reason).toContain('at most 100 bytes');
  });
});

describe('validate', () => {
  it('accepts the contract example', () => {
    expect(validate(telemetry, 'telemetry', 'd1')).toMatchObject({ channel: 'telemetry', value: { seq: 42 } });
  });
  it('names the field, the value and the rule', () => {
    const r = validate({ ...telemetry, battery: 140 }, 'telemetry', 'd1');
    expect(isRefusal(r) && r.reason).toMatch(/battery: .*100.*got 140/);
  });
  it('says a required field is missing', () => {
    const { ts: _ts, ...noTs } = telemetry;
    const r = validate(noTs, 'telemetry', 'd1');
    expect(isRefusal(r) && r.reason).toMatch(/^ts: .*missing/);
  });
  it.each([
    ['lat', 91], ['lon', -181], ['mode', 'hover'], ['seq', -1], ['lat', '33.8'],
  ])('refuses %s = %j', (field, value) => {
    expect(isRefusal(validate({ ...telemetry, [field]: value }, 'telemetry', 'd1'))).toBe(true);
  });
  it('refuses a payload id that is not the topic id', () => {
    const r = validate({ ...telemetry, droneId: 'd2' }, 'telemetry', 'd1');
    expect(isRefusal(r) && r).toMatchObject({ code: 'id_mismatch' });
  });
  it('validates readings, events and status', () => {
    expect(isRefusal(validate({ ts: 1, metric: 'water_level', value: 1.8, unit: 'm' }, 'readings', 's1'))).toBe(false);
    expect(isRefusal(validate({ ts: 1, metric: 'Water Level', value: 1 }, 'readings', 's1'))).toBe(true);
    expect(isRefusal(validate({ ts: 1, kind: 'fire', confidence: 0.9 }, 'events', 'd1'))).toBe(false);
    expect(isRefusal(validate({ ts: 1, kind: 'fire', confidence: 1.5 }, 'events', 'd1'))).toBe(true);
    expect(isRefusal(validate({ state: 'offline', reason: 'lost' }, 'status', 'd1'))).toBe(false);
    expect(isRefusal(validate({ state: 'sleeping' }, 'status', 'd1'))).toBe(true);
  });
});

describe('normalizeTime', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');
  const limits = { maxFutureMs: 24 * 3600_000, maxAgeMs: 7 * 24 * 3600_000 };
  it('reads epoch ms and ISO 8601', () => {
    expect(normalizeTime(now - 1000, now, limits)).toBe(now - 1000);
    expect(normalizeTime('2026-11-28T13:00:00+01:00', now, limits)).toBe(now);
  });
  it('refuses a time more than 24 h ahead and says how far', () => {
    const r = normalizeTime(now + 25 * 3600_000, now, limits);
    expect(isRefusal(r) && r).toMatchObject({ code: 'ts_future' });
    expect(isRefusal(r) && r.reason).toContain('25.0 h ahead');
  });
  it('refuses a time older than 7 days', () => {
    const r = normalizeTime(now - 8 * 24 * 3600_000, now, limits);
    expect(isRefusal(r) && r).toMatchObject({ code: 'ts_too_old' });
  });
});

describe('Dedup', () => {
  it('drops a repeated seq and keeps late ones', () => {
    const d = new Dedup();
    expect(d.check('a', 1).verdict).toBe('new');
    expect(d.check('a', 3)).toEqual({ verdict: 'new', gaps: 1 });
    expect(d.check('a', 3).verdict).toBe('duplicate');
    expect(d.check('a', 2).verdict).toBe('new');
    expect(d.check('a', 2).verdict).toBe('duplicate');
    expect(d.check('b', 3).verdict).toBe('new');
  });
  it('forgets what slid out of the window and clears reused slots', () => {
    const d = new Dedup();
    d.check('a', 5);
    d.check('a', 5 + SEQ_WINDOW);
    expect(d.check('a', 5 + SEQ_WINDOW).verdict).toBe('duplicate');
    expect(d.check('a', 6 + SEQ_WINDOW - 1).verdict).toBe('duplicate');
    expect(d.check('a', 10 + SEQ_WINDOW - 1).verdict).toBe('new');
  });
  it('takes a seq far below the highest as a device restart', () => {
    const d = new Dedup();
    d.check('a', 100_000);
    expect(d.check('a', 0).verdict).toBe('new');
    expect(d.check('a', 0).verdict).toBe('duplicate');
    expect(d.check('a', 1).verdict).toBe('new');
  });
  it('forget lets a redelivery through', () => {
    const d = new Dedup();
    d.check('a', 7);
    d.forget('a', 7);
    expect(d.check('a', 7).verdict).toBe('new');
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR, MIN, T0, fire, harness, type Harness } from './testing.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.close();
});

describe('AlertService silences', () => {
  it('records an alert that a silence covers, flagged silenced, and leaves others alone', () => {
    const s = h.service.createSilence({ matchers: { ruleId: 'water-high', gridId: 'C1' }, endsAt: T0 + HOUR, reason: 'pump maintenance' }, 'li');
    expect(s).toMatchObject({ id: expect.stringMatching(/^si_/), startsAt: new Date(T0).toISOString(), createdBy: 'li', reason: 'pump maintenance' });
    const covered = h.service.handle(fire('water-high', 's1'))!;
    const otherCell = h.service.handle(fire('water-high', 's2', { gridId: 'C2' }))!;
    const otherRule = h.service.handle(fire('gas-leak', 's1'))!;
    expect([covered.silenced, otherCell.silenced, otherRule.silenced]).toEqual([true, false, false]);
    expect(h.service.history(covered.id)).toEqual([expect.objectContaining({ kind: 'open', note: 'water-high on s1 (silenced)' })]);
  });

  it('silences open alerts when created, unsilences them when deleted, each step audited', () => {
    const a = h.service.handle(fire('left-cell', 'd1'))!;
    h.clock.advance(MIN);
    const s = h.service.createSilence({ matchers: { entityId: 'd1' }, endsAt: new Date(T0 + HOUR).toISOString(), reason: 'test flight' }, 'li');
    expect(h.service.get(a.id).silenced).toBe(true);
    h.clock.advance(MIN);
    expect(h.service.deleteSilence(s.id, 'wang').id).toBe(s.id);
    expect(h.service.get(a.id).silenced).toBe(false);
    expect(h.service.history(a.id).map((t) => [t.kind, t.actor, t.note])).toEqual([
      ['open', 'system', 'left-cell on d1'],
      ['silence', 'li', `silenced by ${s.id}: test flight`],
      ['silence', 'wang', 'no silence covers it any more'],
    ]);
    expect(h.service.silenceAudit().map((e) => [e.action, e.actor, e.silenceId, e.at])).toEqual([
      ['create', 'li', s.id, new Date(T0 + MIN).toISOString()],
      ['delete', 'wang', s.id, new Date(T0 + 2 * MIN).toISOString()],
    ]);
    expect(h.service.listSilences()).toEqual([]);
    expect(() => h.service.deleteSilence(s.id, 'wang')).toThrow(expect.objectContaining({ code: 'GP_ERR_SILENCE_NOT_FOUND', status: 404 }));
    expect(() => h.db.prepare('DELETE FROM silence_audit').run()).toThrow(/immutable/);
  });

  it('applies a silence when its window starts and lifts it when the window ends (checkDeadlines)', () => {
    const s = h.service.createSilence({ matchers: { gridId: 'C1' }, startsAt: T0 + HOUR, endsAt: T0 + 2 * HOUR, reason: 'drill' }, 'li');
    const a = h.service.handle(fire('water-high', 's1'))!;
    expect(a.silenced).toBe(false); // not yet in force
    expect(h.service.listSilences().map((x) => x.id)).toEqual([s.id]); // to come
    expect(h.service.checkDeadlines(T0 + HOUR).filter((e) => e.transition.kind === 'silence').map((e) => e.alert.silenced)).toEqual([true]);
    h.clock.t = T0 + 90 * MIN;
    expect(h.service.handle(fire('water-high', 's3'))!.silenced).toBe(true);
    const ended = h.service.checkDeadlines(T0 + 2 * HOUR).filter((e) => e.transition.kind === 'silence');
    expect(ended.map((e) => [e.alert.entityId, e.alert.silenced, e.transition.actor])).toEqual([['s1', false, 'system'], ['s3', false, 'system']]);
    h.clock.t = T0 + 2 * HOUR;
    expect(h.service.listSilences()).toEqual([]);
    expect(h.service.listSilences({ includeExpired: true }).map((x) => x.id)).toEqual([s.id]);
  });

  it('refuses a silence without matchers, without a reason, or with an empty window', () => {
    const cases = [
      { matchers: {}, endsAt: T0 + HOUR, reason: 'x' },
      { matchers: { gridId: 'C1' }, endsAt: T0 + HOUR, reason: ' ' },
      { matchers: { gridId: 'C1' }, startsAt: T0 + HOUR, endsAt: T0 + HOUR, reason: 'x' },
      { matchers: { gridId: 'C1' }, endsAt: T0 - 1, reason: 'x' },
      { matchers: { gridId: 'C1' }, endsAt: 'tomorrow', reason: 'x' },
    ];
    for (const c of cases) expect(() => h.service.createSilence(c, 'li')).toThrow(expect.objectContaining({ code: 'GP_ERR_API_VALIDATION' }));
    expect(h.service.silenceAudit()).toEqual([]);
  });
});

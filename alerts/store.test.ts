import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../core/alerts.js';
import { MIN, T0, fire, harness, type Harness } from './testing.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.close();
});

/** 30 alerts a minute apart: sensors s0..s29, cells C1/C2 alternating, every third critical (gas-leak). */
function seed(): Alert[] {
  const out: Alert[] = [];
  for (let i = 0; i < 30; i++) {
    h.clock.t = T0 + i * MIN;
    out.push(h.service.handle(fire(i % 3 === 0 ? 'gas-leak' : 'water-high', `s${i}`, { gridId: i % 2 ? 'C2' : 'C1' }))!);
  }
  return out;
}

describe('alert listing', () => {
  it('pages newest first through every alert exactly once', () => {
    const all = seed();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = h.service.list({ limit: 7, ...(cursor && { cursor }) });
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items.map((a) => a.id));
      cursor = page.next ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.map((a) => a.id).reverse());
  });

  it('filters by state, cell, severity and opening time, and pages within the filter', () => {
    const all = seed();
    h.service.acknowledge(all[4]!.id, 'wang');
    h.service.resolve(all[6]!.id, 'wang', 'ok');
    expect(h.service.list({ state: 'acknowledged' }).items.map((a) => a.id)).toEqual([all[4]!.id]);
    expect(h.service.list({ state: 'resolved' }).items.map((a) => a.id)).toEqual([all[6]!.id]);
    expect(h.service.list({ state: 'open' }).items).toHaveLength(28);
    const critical = h.service.list({ severity: 'critical', grid: 'C1' });
    expect(critical.items.map((a) => a.entityId)).toEqual(['s24', 's18', 's12', 's6', 's0']);
    const window = h.service.list({ from: T0 + 10 * MIN, to: T0 + 12 * MIN });
    expect(window.items.map((a) => a.entityId)).toEqual(['s12', 's11', 's10']);
    const first = h.service.list({ grid: 'C2', limit: 10 });
    const second = h.service.list({ grid: 'C2', limit: 10, cursor: first.next! });
    expect([...first.items, ...second.items].map((a) => a.entityId)).toEqual(all.filter((_, i) => i % 2).map((a) => a.entityId).reverse());
    expect(second.next).toBeNull();
  });

  it('refuses a cursor it did not give out', () => {
    for (const cursor of ['garbage', Buffer.from('[1]').toString('base64url'), Buffer.from('"x"').toString('base64url')]) {
      expect(() => h.service.list({ cursor })).toThrow(expect.objectContaining({ code: 'GP_ERR_API_VALIDATION' }));
    }
  });
});

describe('alert transitions', () => {
  it('replays transitions after an event id in order, each with the alert as it was then', () => {
    const a = h.service.handle(fire('water-high', 's1'))!;
    const b = h.service.handle(fire('gas-leak', 's2'))!;
    h.service.acknowledge(a.id, 'wang');
    h.service.resolve(a.id, 'wang', 'fixed');
    h.service.checkDeadlines(T0 + 2 * MIN); // b: response deadline (1 min) missed
    const all = h.service.transitionsSince(0, 100);
    expect(all.map((e) => [e.alert.id, e.transition.kind, e.alert.state])).toEqual([
      [a.id, 'open', 'open'], [b.id, 'open', 'open'], [a.id, 'acknowledge', 'acknowledged'], [a.id, 'resolve', 'resolved'], [b.id, 'escalate', 'open'],
    ]);
    const ids = all.map((e) => e.transition.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(h.service.lastEventId()).toBe(ids.at(-1));
    expect(h.service.transitionsSince(ids[1]!, 2).map((e) => e.transition.id)).toEqual([ids[2], ids[3]]);
    expect(h.service.transitionsSince(ids.at(-1)!, 10)).toEqual([]);
    // every transition has its own millisecond, in id order
    const times = all.map((e) => Date.parse(e.transition.at));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]!);
  });

  it('keeps transitions immutable in the database', () => {
    h.service.handle(fire('water-high', 's1'));
    expect(() => h.db.prepare("UPDATE alert_transitions SET actor = 'mallory'").run()).toThrow(/immutable/);
    expect(() => h.db.prepare('DELETE FROM alert_transitions').run()).toThrow(/immutable/);
    expect(h.service.transitionsSince(0, 10)[0]!.transition.actor).toBe('system');
  });
});

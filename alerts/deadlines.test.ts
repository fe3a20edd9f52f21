import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR, MIN, T0, fire, harness, type Harness } from './testing.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.close();
});

const iso = (ms: number) => new Date(ms).toISOString();

describe('AlertService deadlines', () => {
  it('takes deadlines from the rule, else the rules file for the severity, else the defaults', () => {
    const gas = h.service.handle(fire('gas-leak', 's1'))!; // rule: 1m / 10m
    const water = h.service.handle(fire('water-high', 's1'))!; // file, warning: 10m / 12h
    const fireAlert = h.service.handle(fire('fire-seen', 'd1'))!; // default, critical: 5m / 4h
    const info = h.service.handle(fire('chatter', 'd1'))!; // default, info: 1h / 72h
    const due = (a: typeof gas) => [Date.parse(a.responseDueAt) - Date.parse(a.openedAt), Date.parse(a.disposalDueAt) - Date.parse(a.openedAt)];
    expect([due(gas), due(water), due(fireAlert), due(info)]).toEqual([[MIN, 10 * MIN], [10 * MIN, 12 * HOUR], [5 * MIN, 4 * HOUR], [HOUR, 72 * HOUR]]);
  });

  it('escalates once when the response deadline passes and once more when the disposal deadline passes', () => {
    const a = h.service.handle(fire('fire-seen', 'd1'))!; // critical: 5 min, 4 h
    expect(h.service.checkDeadlines(T0 + 5 * MIN)).toEqual([]); // due, not yet missed
    const [response] = h.service.checkDeadlines(T0 + 5 * MIN + 90_000);
    expect(response).toMatchObject({
      transition: { kind: 'escalate', actor: 'system', from: 'open', to: 'open', note: `response deadline missed by 1m 30s (due ${iso(T0 + 5 * MIN)})` },
      alert: { id: a.id, escalationLevel: 1, state: 'open' },
    });
    expect(h.service.checkDeadlines(T0 + 30 * MIN)).toEqual([]); // once
    h.clock.t = T0 + 40 * MIN;
    h.service.acknowledge(a.id, 'wang');
    expect(h.service.checkDeadlines(T0 + 4 * HOUR)).toEqual([]);
    const [disposal] = h.service.checkDeadlines(T0 + 4 * HOUR + 1000);
    expect(disposal).toMatchObject({
      transition: { kind: 'escalate', from: 'acknowledged', to: 'acknowledged', note: `disposal deadline missed by 1s (due ${iso(T0 + 4 * HOUR)})` },
      alert: { escalationLevel: 2 },
    });
    expect(h.service.checkDeadlines(T0 + 100 * HOUR)).toEqual([]);
    expect(h.service.history(a.id).map((t) => t.kind)).toEqual(['open', 'escalate', 'acknowledge', 'escalate']);
    expect(h.service.get(a.id).escalationLevel).toBe(2);
  });

  it('does not escalate the response of an alert acknowledged in time, nor anything resolved', () => {
    const acked = h.service.handle(fire('fire-seen', 'd1'))!;
    const resolved = h.service.handle(fire('fire-seen', 'd2'))!;
    h.clock.advance(MIN);
    h.service.acknowledge(acked.id, 'wang');
    h.service.resolve(resolved.id, 'wang', 'false alarm');
    expect(h.service.checkDeadlines(T0 + HOUR)).toEqual([]);
    expect(h.service.checkDeadlines(T0 + 5 * HOUR).map((e) => [e.alert.id, e.transition.note?.split(' ')[0]])).toEqual([[acked.id, 'disposal']]);
  });

  it('escalates both deadlines at once after a long gap, each recorded', () => {
    const a = h.service.handle(fire('gas-leak', 's1'))!; // 1m / 10m
    const events = h.service.checkDeadlines(T0 + HOUR);
    expect(events.map((e) => [e.transition.note?.split(' ')[0], e.alert.escalationLevel])).toEqual([['response', 1], ['disposal', 2]]);
    expect(h.service.get(a.id).escalationLevel).toBe(2);
    // distinct, increasing transition times even though both happened at one clock reading
    expect(Date.parse(events[1]!.transition.at)).toBeGreaterThan(Date.parse(events[0]!.transition.at));
  });

  it('keeps alerts, deadlines and escalations across a restart (a new service on the same database file)', async () => {
    const a = h.service.handle(fire('fire-seen', 'd1'))!;
    const b = h.service.handle(fire('water-high', 's1'))!;
    h.service.checkDeadlines(T0 + 6 * MIN); // a's response deadline escalates before the restart
    h = await h.restart();
    expect(h.service.get(a.id)).toMatchObject({ escalationLevel: 1, responseDueAt: a.responseDueAt, disposalDueAt: a.disposalDueAt });
    expect(h.service.get(b.id)).toEqual(b);
    expect(h.service.checkDeadlines(T0 + 6 * MIN)).toEqual([]); // not again
    // b's response deadline (10 min) was running during the restart and is missed after it
    expect(h.service.checkDeadlines(T0 + 11 * MIN).map((e) => e.alert.id)).toEqual([b.id]);
    // the new service continues the trail: ids and times keep increasing
    const trail = h.service.transitionsSince(0, 100);
    expect(trail.map((e) => e.transition.kind)).toEqual(['open', 'open', 'escalate', 'escalate']);
    expect(h.service.handle(fire('water-high', 's1'))).toMatchObject({ id: b.id, count: 2 });
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMetadataDb } from '../../storage/metadata-db.js';
import { RuleStateStore } from './state-store.js';
import { harness, only, reading, T0, telemetry } from './test-kit.js';

const hot = { id: 'hot', kind: 'threshold', severity: 'critical', appliesTo: { metrics: ['temperature'] }, field: 'value', op: 'above', value: 60, for: '30s' };
const noFly = { id: 'no-fly', kind: 'geofence', severity: 'critical', check: 'no_fly' };
const lost = { id: 'lost', kind: 'lost_link', severity: 'critical', after: '5s' };

describe('RuleStateStore', () => {
  let dir: string;
  beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'gp-rules-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const dbFile = () => join(dir, 'gridpatrol.db');

  it('a `for` duration under way survives a restart (new db handle, new engine) and completes afterwards', () => {
    const first = harness([hot], { db: openMetadataDb(dbFile()) });
    first.engine.onRecords([reading('s', 'temperature', T0, 70), reading('s', 'temperature', T0 + 10_000, 71)]);
    expect(first.store.flush()).toBe(1);
    first.db.close();

    const second = harness([hot], { db: openMetadataDb(dbFile()), start: T0 + 20_000 });
    expect(second.store.size).toBe(1);
    expect(second.engine.onRecords([reading('s', 'temperature', T0 + 20_000, 72)])).toEqual([]);
    second.clock.now = T0 + 30_000;
    expect(only(second.engine.onRecords([reading('s', 'temperature', T0 + 30_000, 73)]))).toMatchObject({ type: 'fire', at: T0 + 30_000, values: { heldForS: 30 } });
    second.db.close();
  });

  it('a `for` under way also completes from a tick after the restart', () => {
    const first = harness([hot], { db: openMetadataDb(dbFile()) });
    first.engine.onRecords([reading('s', 'temperature', T0, 70)]);
    first.store.flush();
    first.db.close();
    const second = harness([hot], { db: openMetadataDb(dbFile()), start: T0 + 25_000 });
    expect(second.engine.tick(T0 + 29_000)).toEqual([]);
    expect(only(second.engine.tick(T0 + 30_000))).toMatchObject({ type: 'fire', values: { value: 70 } });
    second.db.close();
  });

  it('writes only at flush, and only what changed; deletions and dropped rules reach the database', () => {
    const db = openMetadataDb(dbFile());
    const count = () => (db.prepare('SELECT count(*) AS n FROM rule_state').get() as { n: number }).n;
    const h = harness([noFly, hot], { db });
    h.engine.onRecords([telemetry('a', T0), telemetry('b', T0), reading('s', 'temperature', T0, 70)]);
    expect(count()).toBe(0);
    expect(h.store.flush()).toBe(3);
    expect(h.store.flush()).toBe(0);
    h.engine.onRecords([telemetry('a', T0 + 1000)]);
    expect(h.store.flush()).toBe(1);
    h.engine.forgetDevice('drone', 'b');
    const file = h.engine.rulesFile();
    h.engine.setRules({ ...file, rules: file.rules.filter((r) => r.id !== 'hot') });
    h.store.flush();
    expect(db.prepare('SELECT rule_id, entity, rule_kind FROM rule_state').all()).toEqual([{ rule_id: 'no-fly', entity: 'drone/a', rule_kind: 'geofence' }]);
    db.close();
  });

  it('after a restart, a rule removed while we were down has its open conditions cleared with the first answer', () => {
    const first = harness([noFly], { db: openMetadataDb(dbFile()) });
    expect(first.engine.onRecords([telemetry('a', T0, { lat: 33.805, lon: 113.935 })])).toHaveLength(1);
    first.store.flush();
    first.db.close();
    const second = harness([hot], { db: openMetadataDb(dbFile()), start: T0 + 60_000 });
    expect(second.engine.tick(T0 + 61_000)).toEqual([{ type: 'clear', ruleId: 'no-fly', entityKind: 'drone', entityId: 'a', at: T0 + 60_000 }]);
    expect(second.engine.tick(T0 + 62_000)).toEqual([]);
    second.store.flush();
    expect(new RuleStateStore(second.db).size).toBe(0);
    second.db.close();
  });

  it('after a restart, silences are counted from the start: our downtime is no drone\'s lost link', () => {
    const first = harness([lost], { db: openMetadataDb(dbFile()) });
    first.engine.onRecords([telemetry('d', T0)]);
    first.store.flush();
    first.db.close();
    const second = harness([lost], { db: openMetadataDb(dbFile()), start: T0 + 600_000 });
    expect(second.engine.tick(T0 + 604_999)).toEqual([]);
    expect(only(second.engine.tick(T0 + 605_000))).toMatchObject({ type: 'fire', ruleId: 'lost' });
    second.db.close();
  });
});

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertTransitionRecord, StoreRecord } from '../core/records.js';
import { SqliteStore } from '../storage/sqlite-store.js';
import { MIN, T0, fire, harness, RecordingSink, type Harness } from './testing.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('alert transitions into the spool', () => {
  it('appends every transition as an alert_transition record with the contract tags and fields', async () => {
    h = harness();
    const a = h.service.handle(fire('water-high', 's1', { gridId: 'C2' }))!;
    h.clock.advance(MIN);
    h.service.acknowledge(a.id, 'officer "wang"');
    h.service.resolve(a.id, 'officer "wang"', 'drained\nsecond line');
    await h.service.flush();
    const trail = h.service.history(a.id);
    expect(h.sink.records).toEqual(trail.map((t): AlertTransitionRecord => ({
      type: 'alert_transition', gridId: 'C2', severity: 'warning', rule: 'water-high', ts: Date.parse(t.at),
      alertId: a.id, entityId: 's1', state: t.to, actor: t.actor, ...(t.note !== null && { note: t.note }),
    })));
    expect(h.sink.records.map((r) => (r as AlertTransitionRecord).state)).toEqual(['open', 'acknowledged', 'resolved']);
  });

  it('retries a failing spool and loses nothing, in order', async () => {
    const sink = new RecordingSink();
    sink.failures = 3;
    h = harness({ sink });
    for (let i = 0; i < 5; i++) h.service.handle(fire('water-high', `s${i}`));
    await h.service.flush();
    expect(sink.calls).toBeGreaterThan(3);
    expect(sink.records.map((r) => (r as AlertTransitionRecord).entityId)).toEqual(['s0', 's1', 's2', 's3', 's4']);
  });

  it('sends after a restart what the spool did not take before it', async () => {
    const sink = new RecordingSink();
    sink.failures = Number.MAX_SAFE_INTEGER; // the spool refuses everything until the restart
    h = harness({ sink });
    const a = h.service.handle(fire('fire-seen', 'd1'))!;
    h.service.acknowledge(a.id, 'wang');
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.records).toEqual([]);
    sink.failures = 0;
    h = await h.restart();
    await h.service.flush();
    expect(sink.records.map((r) => (r as AlertTransitionRecord).state)).toEqual(['open', 'acknowledged']);
  });

  it('stops, without an unhandled rejection, when its database is closed under it', async () => {
    const sink = new RecordingSink();
    sink.failures = Number.MAX_SAFE_INTEGER;
    h = harness({ sink });
    h.service.handle(fire('water-high', 's1'));
    h.db.close(); // the pump's next read fails; vitest fails the file on an unhandled rejection
    await new Promise((r) => setTimeout(r, 20));
    await expect(h.service.flush()).rejects.toThrow(/not open/);
  });

  it('lands in the SQLite store through its write, once even when a batch is appended twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridpatrol-outbox-'));
    const store = new SqliteStore(join(dir, 'telemetry.db'));
    await store.init();
    const appended: StoreRecord[][] = [];
    const sink = new RecordingSink();
    sink.append = async (records) => {
      appended.push([...records]);
      expect(await store.write(records)).toEqual({ status: 'accepted' });
    };
    try {
      h = harness({ sink });
      for (let i = 0; i < 3; i++) h.service.handle(fire('water-high', `s${i}`)); // one clock reading: three transitions, three ms
      await h.service.flush();
      expect(await store.write(appended.flat())).toEqual({ status: 'accepted' }); // a replay after a crash
      const db = new Database(join(dir, 'telemetry.db'), { readonly: true });
      const rows = db.prepare('SELECT ts, entity_id FROM alert_transition ORDER BY ts').all() as Array<{ ts: number; entity_id: string }>;
      db.close();
      expect(rows.map((r) => [r.ts, r.entity_id])).toEqual([[T0, 's0'], [T0 + 1, 's1'], [T0 + 2, 's2']]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

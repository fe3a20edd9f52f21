import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../test/helpers/gridpatrol.js';
import { telemetry } from '../ingest/rules/test-kit.js';
import { loadGrids } from '../lib/grids.js';
import { silentLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { DeviceRegistry } from '../storage/devices.js';
import { LiveState } from '../storage/live-state.js';
import { openMetadataDb } from '../storage/metadata-db.js';
import { SwitchedGuard } from '../storage/test-kit.js';
import { buildAlerting } from './runtime.js';
import { RecordingSink } from './testing.js';

/** The bundled rules' altitude ceiling (120 m) over one drone, with the metadata database paused by its write guard meanwhile. */
describe('alerting while the data folder cannot be written', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  function setUp() {
    const dir = mkdtempSync(join(tmpdir(), 'gp-runtime-'));
    const path = join(dir, 'gridpatrol.db');
    const guard = new SwitchedGuard(path);
    const db = openMetadataDb(path, guard);
    const alerting = buildAlerting({
      config: { webhooks: { targets: [] }, dispatch: { minBatteryPct: 30 } },
      db, dataGuard: guard, grids: loadGrids(), devices: new DeviceRegistry(db), live: new LiveState(), sink: new RecordingSink(),
      publish: () => {}, metrics: createMetrics(), log: silentLogger(),
    });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => db.close(), () => alerting.stop(), () => (guard.unwritable = false));
    const unresolved = () => alerting.service.countUnresolved().reduce((n, r) => n + r.count, 0);
    let seq = 0;
    const sample = (alt: number) => alerting.observer.records([telemetry('d1', Date.now() + seq, { seq: ++seq, alt })]);
    return { guard, alerting, unresolved, sample };
  }

  it('keeps the rule signals it could not store, in order, and takes them once it can: the open and the clear', async () => {
    const { guard, alerting, sample } = setUp();
    guard.unwritable = true;
    await sample(130); // over the ceiling: fire
    await sample(90); // well under: clear, which comes only once
    expect(() => alerting.service.list({})).toThrow(/GP_ERR_DATA_UNWRITABLE/);
    guard.unwritable = false;
    // taken on the next retry, in order: the alert opened, then resolved by the clear
    const [alert] = await eventually(() => {
      const items = alerting.service.list({}).items;
      return items.length > 0 && items;
    }, 5000);
    expect(alert).toMatchObject({ entityId: 'd1', ruleId: 'drone-altitude-ceiling', state: 'resolved' });
    expect(alerting.service.history(alert!.id).map((t) => t.kind)).toEqual(['open', 'auto_resolve']);
  });

  it('lets time-based rules wait while it cannot store: nothing is lost to a paused database', async () => {
    const { guard, alerting, sample, unresolved } = setUp();
    await sample(130);
    expect(unresolved()).toBe(1);
    guard.unwritable = true;
    const checksBefore = guard.checks;
    await new Promise((r) => setTimeout(r, 1200)); // a tick of the time-based rules
    // the tick asked the guard and went no further (no throw, no ERROR line, nothing half-done)
    expect(guard.checks).toBeGreaterThan(checksBefore);
    guard.unwritable = false;
    await sample(90);
    await eventually(() => unresolved() === 0, 5000);
  });
});

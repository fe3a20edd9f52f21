import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GridCollection, GridIndex } from '../core/grids.js';
import type { StoreRecord } from '../core/records.js';
import { RulesFile, type RuleSignal } from '../core/rules.js';
import { silentLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { openMetadataDb, type MetadataDb } from '../storage/metadata-db.js';
import { AlertService, type AlertServiceOptions } from './service.js';

/** Fixtures for the alert tests: two cells, a rules file, a clock, a recording sink. Not for production. */

export const T0 = Date.UTC(2026, 5, 1, 8, 0, 0);
export const MIN = 60_000;
export const HOUR = 60 * MIN;

const square = (id: string, x: number, officer: string) => ({
  type: 'Feature' as const,
  properties: { id, kind: 'cell' as const, name: `Cell ${id}`, officer: { id: officer, name: `Officer ${officer}` } },
  geometry: { type: 'Polygon' as const, coordinates: [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]] },
});

export const grids = new GridIndex(GridCollection.parse({ type: 'FeatureCollection', features: [square('C1', 0, 'wang'), square('C2', 1, 'li')] }));

export const rulesFile = RulesFile.parse({
  deadlines: { warning: { response: '10m', disposal: '12h' } },
  rules: [
    { id: 'water-high', kind: 'threshold', severity: 'warning', field: 'value', op: 'above', value: 2 },
    { id: 'fire-seen', kind: 'detection', severity: 'critical', kinds: ['fire'], minConfidence: 0.8 },
    { id: 'smoke-seen', kind: 'detection', severity: 'warning', kinds: ['smoke'] },
    { id: 'left-cell', kind: 'geofence', severity: 'warning', check: 'leave_cell' },
    { id: 'battery-home', kind: 'battery_reserve', severity: 'critical' },
    { id: 'link-lost', kind: 'lost_link', severity: 'critical' },
    { id: 'gas-leak', kind: 'threshold', severity: 'critical', field: 'value', op: 'above', value: 50, responseDeadline: '1m', disposalDeadline: '10m', requiresDisposal: true },
    { id: 'chatter', kind: 'threshold', severity: 'info', field: 'rssi', op: 'below', value: -100 },
  ],
});

export class Clock {
  constructor(public t = T0) {}
  readonly now = (): number => this.t;
  advance(ms: number): number {
    return (this.t += ms);
  }
}

export class RecordingSink {
  readonly records: StoreRecord[] = [];
  /** appends that still fail before one succeeds */
  failures = 0;
  calls = 0;
  async append(records: readonly StoreRecord[]): Promise<void> {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('spool full');
    }
    this.records.push(...records);
  }
}

const KIND: Record<string, { ruleKind: Extract<RuleSignal, { type: 'fire' }>['ruleKind']; entityKind: 'drone' | 'sensor' }> = {
  'water-high': { ruleKind: 'threshold', entityKind: 'sensor' },
  'fire-seen': { ruleKind: 'detection', entityKind: 'drone' },
  'smoke-seen': { ruleKind: 'detection', entityKind: 'drone' },
  'left-cell': { ruleKind: 'geofence', entityKind: 'drone' },
  'battery-home': { ruleKind: 'battery_reserve', entityKind: 'drone' },
  'link-lost': { ruleKind: 'lost_link', entityKind: 'drone' },
  'gas-leak': { ruleKind: 'threshold', entityKind: 'sensor' },
  chatter: { ruleKind: 'threshold', entityKind: 'drone' },
};

/** A fire signal of a fixture rule; severity as the rule says. */
export function fire(ruleId: string, entityId: string, extra: Partial<Extract<RuleSignal, { type: 'fire' }>> = {}): RuleSignal {
  const { ruleKind, entityKind } = KIND[ruleId]!;
  const severity = rulesFile.rules.find((r) => r.id === ruleId)!.severity;
  return {
    type: 'fire', ruleId, ruleKind, severity, entityKind, entityId, gridId: 'C1', values: { value: 2.5 },
    position: { lat: 0.5, lon: 0.5 }, description: `${ruleId} on ${entityId}`, at: T0, ...extra,
  };
}

export function clear(ruleId: string, entityId: string): RuleSignal {
  return { type: 'clear', ruleId, entityKind: KIND[ruleId]!.entityKind, entityId, at: T0 };
}

export interface Harness {
  service: AlertService;
  db: MetadataDb;
  clock: Clock;
  sink: RecordingSink;
  path: string;
  /** a new service (and connection) on the same database file, as after a restart */
  restart(): Promise<Harness>;
  close(): Promise<void>;
}

/** A service on a fresh database file in a temporary folder. */
export function harness(opts: { clock?: Clock; sink?: RecordingSink; dir?: string; options?: Partial<AlertServiceOptions> } = {}): Harness {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gridpatrol-alerts-'));
  const path = join(dir, 'gridpatrol.db');
  const db = openMetadataDb(path);
  const clock = opts.clock ?? new Clock();
  const sink = opts.sink ?? new RecordingSink();
  const service = new AlertService({
    db, grids, rules: () => rulesFile, sink, now: clock.now, log: silentLogger(), metrics: createMetrics(),
    sinkBackoff: { minMs: 1, maxMs: 5 }, ...opts.options,
  });
  const h: Harness = {
    service, db, clock, sink, path,
    async restart() {
      await service.close();
      db.close();
      return harness({ clock, sink, dir, options: opts.options ?? {} });
    },
    async close() {
      await service.close();
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Shared fixtures for the rules tests: the sample county, record builders, an engine on an injected clock. */
import type { DetectionRecord, ReadingRecord, TelemetryRecord } from '../../core/records.js';
import { RulesFile, type RuleSignal } from '../../core/rules.js';
import type { DetectionKind } from '../../core/telemetry.js';
import { loadGrids } from '../../lib/grids.js';
import { silentLogger } from '../../lib/logger.js';
import { openMetadataDb, type MetadataDb } from '../../storage/metadata-db.js';
import { RulesEngine } from './engine.js';
import { RuleStateStore } from './state-store.js';

export const grids = loadGrids();
/** 2026-06-01 08:00 UTC */
export const T0 = Date.UTC(2026, 5, 1, 8, 0, 0);
/** inside cell LY-C3 */
export const IN_C3 = { lat: 33.82, lon: 113.88 };
/** inside no-fly zone NFZ-GOV (in LY-C4) */
export const IN_NFZ = { lat: 33.805, lon: 113.935 };

export function telemetry(droneId: string, ts: number, over: Partial<TelemetryRecord> = {}): TelemetryRecord {
  const lat = over.lat ?? IN_C3.lat, lon = over.lon ?? IN_C3.lon;
  return {
    type: 'telemetry', droneId, gridId: grids.cellAt(lat, lon), ts, seq: 1, lat, lon, alt: 80, speed: 8, heading: 90,
    battery: 80, mode: 'patrol', rssi: -60, sats: 14, ...over,
  };
}

export function reading(sensorId: string, metric: string, ts: number, value: number, unit?: string, gridId = 'LY-C3'): ReadingRecord {
  return { type: 'reading', sensorId, gridId, ts, metric, value, ...(unit ? { unit } : {}) };
}

export function detection(droneId: string, ts: number, kind: DetectionKind, confidence: number, at = IN_C3): DetectionRecord {
  return { type: 'event', droneId, gridId: grids.cellAt(at.lat, at.lon), ts, kind, confidence, lat: at.lat, lon: at.lon };
}

export interface Harness {
  engine: RulesEngine;
  store: RuleStateStore;
  db: MetadataDb;
  clock: { now: number };
  /** advance the server clock */
  advance(ms: number): number;
}

export interface HarnessOptions {
  /** drone id → assigned cell */
  assigned?: Record<string, string>;
  /** sensor id → registered cell */
  sensors?: Record<string, string>;
  db?: MetadataDb;
  start?: number;
}

export function rulesFile(rules: unknown[]): RulesFile {
  return RulesFile.parse({ rules });
}

export function harness(rules: unknown[], opts: HarnessOptions = {}): Harness {
  const clock = { now: opts.start ?? T0 };
  const db = opts.db ?? openMetadataDb(':memory:');
  const store = new RuleStateStore(db, { now: () => clock.now });
  const engine = new RulesEngine({
    rules: rulesFile(rules), grids, state: store, now: () => clock.now, log: silentLogger(),
    assignedCell: (id) => opts.assigned?.[id], sensorCell: (id) => opts.sensors?.[id] ?? 'LY-C3',
  });
  return { engine, store, db, clock, advance: (ms) => (clock.now += ms) };
}

export const fires = (signals: RuleSignal[]) => signals.filter((s) => s.type === 'fire');
export const clears = (signals: RuleSignal[]) => signals.filter((s) => s.type === 'clear');
/** the one signal of a call, failing the test (by throwing) when there are more or none */
export function only(signals: RuleSignal[]): RuleSignal {
  if (signals.length !== 1) throw new Error(`expected one signal, got ${signals.length}: ${JSON.stringify(signals)}`);
  return signals[0]!;
}

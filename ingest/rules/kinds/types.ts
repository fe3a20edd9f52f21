import type { GridIndex } from '../../../core/grids.js';
import type { DetectionRecord, ReadingRecord, StoreRecord, TelemetryRecord } from '../../../core/records.js';
import type { Rule, RuleSignal } from '../../../core/rules.js';

export type EntityKind = 'drone' | 'sensor';

/** The records rules read: what devices send (the store also holds alert transitions). */
export type DeviceRecord = TelemetryRecord | DetectionRecord | ReadingRecord;

export function isDeviceRecord(r: StoreRecord): r is DeviceRecord {
  return r.type === 'telemetry' || r.type === 'event' || r.type === 'reading';
}

/** What a rule's state is about: a device, or one metric of a sensor for kinds that watch values. */
export interface EntityRef {
  kind: EntityKind;
  id: string;
  metric?: string;
}

/**
 * One thing an evaluator is asked about. `at` and `now` are the server clock (epoch ms); a
 * record's `ts` is the device clock. Durations between samples use device time; silences
 * (nothing heard for N s) use the server clock, so a device whose clock is off is not silent.
 */
export type RuleInput =
  | { type: 'record'; entity: EntityRef; record: DeviceRecord; at: number }
  | { type: 'status'; entity: EntityRef; online: boolean; isWill: boolean; at: number }
  | { type: 'tick'; entity: EntityRef; now: number };

/** Read-only lookups an evaluator may make. */
export interface RuleContext {
  grids: GridIndex;
  assignedCell(droneId: string): string | undefined;
  sensorCell(sensorId: string): string | undefined;
  /** server clock when the engine started: silences are counted from here at the earliest, so our own downtime is no device's fault */
  startedAt: number;
}

/** Every stateful kind keeps these; the state is JSON (persisted by RuleStateStore). */
export interface BaseState {
  /** device time of the newest record seen */
  lastTs: number;
  /** server clock when that record was evaluated */
  lastAt: number;
  /** the condition is open: a `clear` is owed when it ends */
  firing: boolean;
}

export interface Evaluation<S> {
  /** undefined: keep nothing for this entity */
  state: S | undefined;
  signal?: RuleSignal;
}

/**
 * One rule kind. `evaluate` is pure: it returns the new state (the same object when nothing
 * changed, so the engine writes nothing) and at most one signal.
 */
export interface KindModule<R extends Rule = Rule, S extends BaseState = BaseState> {
  /** whether this record is input for the rule at all (record type, field, metric) */
  reads(rule: R, record: DeviceRecord): boolean;
  /** sensors: one state per metric (thresholds, rates, stuck values) instead of one per device */
  perMetric: boolean;
  /** the engine passes device status (online, offline, last will) */
  status: boolean;
  /** the engine calls it on every tick for each entity it holds state for */
  ticks: boolean;
  /** false: the evaluator wants records older than the entity's newest too (it orders them itself) */
  skipStale: boolean;
  evaluate(state: S | undefined, input: RuleInput, rule: R, ctx: RuleContext): Evaluation<S>;
}

/** The rule type of one kind. */
export type RuleOf<K extends Rule['kind']> = Extract<Rule, { kind: K }>;

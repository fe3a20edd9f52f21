import { z } from 'zod';
import { DetectionKind, DroneMode } from './telemetry.js';
import { Duration } from './time.js';

/** Risk rules are data (GRIDPATROL_RULES_FILE, YAML). This is their one definition. */

export const Severity = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof Severity>;

/** Which entities a rule applies to; every given key must match (unset keys match all). */
export const Selector = z.object({
  kind: z.enum(['drone', 'sensor']).optional(),
  devices: z.array(z.string()).min(1).optional(),
  metrics: z.array(z.string()).min(1).optional().describe('sensor metrics, e.g. water_level'),
  cells: z.array(z.string()).min(1).optional().describe("a drone's assigned cell (its position's cell when unassigned), a sensor's registered cell"),
  /** drone modes in which the rule applies, e.g. only airborne; outside them an open condition clears */
  modes: z.array(DroneMode).min(1).optional(),
});
export type Selector = z.infer<typeof Selector>;

/** Telemetry fields a drone rule may watch; a sensor rule watches its reading's `value`. */
export const WatchedField = z.enum(['value', 'alt', 'speed', 'battery', 'rssi', 'sats', 'vs', 'voltage', 'heading']);

const Base = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, ".", "_", "-"'),
  severity: Severity,
  description: z.string().max(300).optional(),
  enabled: z.boolean().default(true),
  appliesTo: Selector.default({}),
  /** acknowledge within; default by severity */
  responseDeadline: Duration.optional(),
  /** resolve within; default by severity */
  disposalDeadline: Duration.optional(),
  /** true: clearing the condition does not resolve the alert, a person must */
  requiresDisposal: z.boolean().optional(),
};

export const ThresholdRule = z.object({
  ...Base,
  kind: z.literal('threshold'),
  field: WatchedField,
  op: z.enum(['above', 'below']),
  value: z.number(),
  /** hysteresis: the condition clears only past this level (default: `value`) */
  clear: z.number().optional(),
  /** the condition must hold this long before the alert opens */
  for: Duration.default(0),
  minSamples: z.number().int().min(1).default(1),
});

export const RateOfChangeRule = z.object({
  ...Base,
  kind: z.literal('rate_of_change'),
  field: WatchedField,
  direction: z.enum(['rising', 'falling']),
  /** change in the field's unit over `per`, e.g. 0.05 (m) per 10m */
  change: z.number().positive(),
  per: Duration,
});

export const GeofenceRule = z.object({
  ...Base,
  kind: z.literal('geofence'),
  check: z.enum(['leave_cell', 'no_fly', 'altitude']),
  /** leave_cell: metres outside the assigned cell before it counts */
  toleranceM: z.number().min(0).default(50),
  /** altitude: metres above take-off */
  ceilingM: z.number().positive().default(120),
  /** altitude: once above, the alert clears only this many metres below the ceiling (hysteresis against flapping) */
  clearMarginM: z.number().min(0).default(5),
});

export const BatteryReserveRule = z.object({
  ...Base,
  kind: z.literal('battery_reserve'),
  /** battery percent a drone uses per minute of flight */
  drainPctPerMin: z.number().positive().default(1.5),
  /** extra percent kept above what flying home needs */
  marginPct: z.number().min(0).default(10),
  /** speed assumed when the drone's recent speed is lower, m/s */
  minSpeedMs: z.number().positive().default(5),
});

export const LostLinkRule = z.object({
  ...Base,
  kind: z.literal('lost_link'),
  after: Duration.default(5000),
  /** modes in which a drone counts as airborne */
  airborneModes: z.array(DroneMode).min(1).default(['takeoff', 'patrol', 'goto', 'rth', 'landing', 'emergency']),
  /** also fire on the device's last will (status offline) */
  onLastWill: z.boolean().default(true),
});

export const DetectionRule = z.object({
  ...Base,
  kind: z.literal('detection'),
  kinds: z.array(DetectionKind).min(1),
  minConfidence: z.number().min(0).max(1).default(0.5),
});

export const SensorSilentRule = z.object({
  ...Base,
  kind: z.literal('sensor_silent'),
  /** silent for this many times its usual interval */
  factor: z.number().min(1).default(3),
  /** never sooner than this */
  minSilence: Duration.default(60_000),
});

export const StuckValueRule = z.object({
  ...Base,
  kind: z.literal('stuck_value'),
  /** identical readings for this long */
  for: Duration.default(3_600_000),
  minSamples: z.number().int().min(2).default(10),
});

export const ImplausibleMotionRule = z.object({
  ...Base,
  kind: z.literal('implausible_motion'),
  /** m/s no drone of the fleet can fly */
  maxSpeedMs: z.number().positive().default(40),
  /** steps shorter than this (m) are GPS noise, whatever the time between the samples */
  minJumpM: z.number().min(0).default(30),
});

export const Rule = z.discriminatedUnion('kind', [
  ThresholdRule, RateOfChangeRule, GeofenceRule, BatteryReserveRule, LostLinkRule,
  DetectionRule, SensorSilentRule, StuckValueRule, ImplausibleMotionRule,
]);
export type Rule = z.infer<typeof Rule>;
export type RuleKind = Rule['kind'];

/** Which entities each kind can watch: a rule whose `appliesTo.kind` says otherwise is refused. */
export const RULE_ENTITY_KINDS: Record<RuleKind, ReadonlyArray<'drone' | 'sensor'>> = {
  threshold: ['drone', 'sensor'],
  rate_of_change: ['drone', 'sensor'],
  geofence: ['drone'],
  battery_reserve: ['drone'],
  lost_link: ['drone', 'sensor'],
  detection: ['drone'],
  sensor_silent: ['sensor'],
  stuck_value: ['sensor'],
  implausible_motion: ['drone'],
};

/** Checks across fields of one rule that zod's object shapes cannot say. */
function checkRule(r: Rule, i: number, ctx: z.RefinementCtx): void {
  const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path: ['rules', i, ...path], message });
  const on = r.appliesTo.kind;
  if (on && !RULE_ENTITY_KINDS[r.kind].includes(on)) issue(['appliesTo', 'kind'], `a ${r.kind} rule watches ${RULE_ENTITY_KINDS[r.kind].join(' or ')}s`);
  if (r.appliesTo.modes && on === 'sensor') issue(['appliesTo', 'modes'], 'modes select drones; this rule applies to sensors');
  if (r.kind !== 'threshold' && r.kind !== 'rate_of_change') return;
  // a sensor reading has one number, `value`; drones have named telemetry fields
  if (r.field === 'value' && on === 'drone') issue(['field'], 'drone rules watch a telemetry field (alt, speed, battery, …); `value` is a sensor reading\'s');
  if (r.field !== 'value' && on === 'sensor') issue(['field'], 'sensor rules watch `value` (choose the metric with appliesTo.metrics)');
  if (r.field !== 'value' && r.appliesTo.metrics) issue(['appliesTo', 'metrics'], `metrics select sensor readings; this rule watches the drone field ${r.field}`);
  if (r.kind === 'threshold' && r.clear !== undefined) {
    if (r.op === 'above' && r.clear > r.value) issue(['clear'], `an "above" rule clears at or below its value (${r.value})`);
    if (r.op === 'below' && r.clear < r.value) issue(['clear'], `a "below" rule clears at or above its value (${r.value})`);
  }
}

const DeadlineDefaults = z.object({ response: Duration, disposal: Duration });

export const RulesFile = z
  .object({
    version: z.literal(1).default(1),
    /** per severity: acknowledge within, resolve within */
    deadlines: z
      .object({ info: DeadlineDefaults.optional(), warning: DeadlineDefaults.optional(), critical: DeadlineDefaults.optional() })
      .default({}),
    rules: z.array(Rule),
  })
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.rules.forEach((r, i) => {
      checkRule(r, i, ctx);
      if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}"` });
      seen.add(r.id);
    });
  });
export type RulesFile = z.infer<typeof RulesFile>;

/** Defaults when neither the rule nor the file says (issue: 5 min / 4 h critical, 15 min / 24 h warning). */
export const DEFAULT_DEADLINES_MS: Record<Severity, { response: number; disposal: number }> = {
  critical: { response: 5 * 60_000, disposal: 4 * 3_600_000 },
  warning: { response: 15 * 60_000, disposal: 24 * 3_600_000 },
  info: { response: 60 * 60_000, disposal: 72 * 3_600_000 },
};

/**
 * What the rules engine tells the alert service. `fire` repeats while the condition holds; the
 * alert service dedups by fingerprint (rule + entity).
 */
export type RuleSignal =
  | {
      type: 'fire';
      ruleId: string;
      ruleKind: RuleKind;
      severity: Severity;
      entityKind: 'drone' | 'sensor';
      entityId: string;
      gridId: string;
      /** the values that triggered it, for people */
      values: Record<string, number | string | boolean>;
      position?: { lat: number; lon: number };
      description: string;
      /** epoch ms (device time of the triggering record, or the clock for time-based rules) */
      at: number;
    }
  | { type: 'clear'; ruleId: string; entityKind: 'drone' | 'sensor'; entityId: string; at: number };

export function fingerprint(ruleId: string, entityKind: string, entityId: string): string {
  return `${ruleId}/${entityKind}/${entityId}`;
}

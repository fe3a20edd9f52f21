import type { Alert } from '../core/alerts.js';
import type { Officer } from '../core/grids.js';
import { DEFAULT_DEADLINES_MS, type Rule, type RuleKind, type RuleSignal, type RulesFile, type Severity } from '../core/rules.js';
import type { DetectionKind } from '../core/telemetry.js';
import { GridPatrolError } from '../lib/errors.js';
import { newId } from './ids.js';
import { iso } from './rows.js';

/** The pure decisions of the alert lifecycle: deadlines, who must dispose, what inhibits what. */

export interface Deadlines {
  /** acknowledge within, ms */
  responseMs: number;
  /** resolve within, ms */
  disposalMs: number;
}

/** The rule's own deadline, else the rules file's for the severity, else the built-in default. */
export function deadlinesFor(rule: Rule | undefined, severity: Severity, file: RulesFile): Deadlines {
  const bySeverity = file.deadlines[severity];
  return {
    responseMs: rule?.responseDeadline ?? bySeverity?.response ?? DEFAULT_DEADLINES_MS[severity].response,
    disposalMs: rule?.disposalDeadline ?? bySeverity?.disposal ?? DEFAULT_DEADLINES_MS[severity].disposal,
  };
}

/** Detections that a person must dispose of even when the condition clears (issue 4). */
const DISPOSAL_KINDS: ReadonlySet<string> = new Set<DetectionKind>(['fire', 'flood', 'intrusion']);

/**
 * Whether clearing the condition leaves the alert for a person: the rule says so, else a
 * detection rule watching fire, flood or intrusion does (any of its kinds: erring towards a
 * person looking). A rule no longer in the file (reloaded away) falls back to the detected kind
 * the signal carries in `values.kind`.
 */
export function requiresDisposalFor(rule: Rule | undefined, ruleKind: RuleKind, values: Record<string, unknown>): boolean {
  if (rule?.requiresDisposal !== undefined) return rule.requiresDisposal;
  if (rule?.kind === 'detection') return rule.kinds.some((k) => DISPOSAL_KINDS.has(k));
  return !rule && ruleKind === 'detection' && typeof values.kind === 'string' && DISPOSAL_KINDS.has(values.kind);
}

/**
 * Inhibition: while a drone has an unresolved `lost_link` alert, its geofence and battery
 * signals are stale guesses (the last position and battery before the link went) and would only
 * bury the one alert that matters, so they are suppressed.
 */
export const INHIBITED_BY_LOST_LINK: ReadonlySet<string> = new Set<RuleKind>(['geofence', 'battery_reserve']);

/** 125000 → "2m 5s": short, for notes people read. */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}

export type FireSignal = Extract<RuleSignal, { type: 'fire' }>;

export interface OpenContext {
  /** opening time, epoch ms (also the `open` transition's time) */
  at: number;
  fingerprint: string;
  /** the rule in force, if the file still has it */
  rule: Rule | undefined;
  file: RulesFile;
  /** the cell's responsible officer */
  officer: Officer | null;
  silenced: boolean;
  /** the last resolved alert of this fingerprint */
  previousAlertId: string | null;
}

/** A new open alert for a fire signal: deadlines counted from `at`. */
export function openAlert(s: FireSignal, c: OpenContext): Alert {
  const { responseMs, disposalMs } = deadlinesFor(c.rule, s.severity, c.file);
  return {
    id: newId('al', c.at), fingerprint: c.fingerprint, ruleId: s.ruleId, ruleKind: s.ruleKind, severity: s.severity, state: 'open',
    entityKind: s.entityKind, entityId: s.entityId, gridId: s.gridId, officer: c.officer,
    description: s.description, values: s.values, position: s.position ?? null,
    openedAt: iso(c.at), lastSeenAt: iso(c.at), count: 1,
    acknowledgedAt: null, acknowledgedBy: null, resolvedAt: null, resolvedBy: null,
    responseDueAt: iso(c.at + responseMs), disposalDueAt: iso(c.at + disposalMs), escalationLevel: 0,
    requiresDisposal: requiresDisposalFor(c.rule, s.ruleKind, s.values),
    silenced: c.silenced, previousAlertId: c.previousAlertId, evidence: [],
  };
}

const ruleIndex = new WeakMap<RulesFile, Map<string, Rule>>();

/** The rule with this id in the file in force (indexed once per loaded file). */
export function ruleById(file: RulesFile, id: string): Rule | undefined {
  let byId = ruleIndex.get(file);
  if (!byId) ruleIndex.set(file, (byId = new Map(file.rules.map((r) => [r.id, r]))));
  return byId.get(id);
}

/** GP_ERR_ALERT_STATE (409) saying what the alert is, who made it so and when. */
export function stateError(a: Alert, action: string, why: string): GridPatrolError {
  const by = a.state === 'acknowledged' ? ` by ${a.acknowledgedBy} at ${a.acknowledgedAt}` : a.state === 'resolved' ? ` by ${a.resolvedBy} at ${a.resolvedAt}` : '';
  return new GridPatrolError('GP_ERR_ALERT_STATE', `cannot ${action} alert ${a.id}: it is ${a.state}${by}; ${why}`, { state: a.state });
}

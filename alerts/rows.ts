import type { Alert, AlertTransition, Evidence } from '../core/alerts.js';

/** Alerts and transitions between their SQLite rows (epoch ms, JSON text) and the API shape (ISO times). */

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
export const ms = (isoTime: string): number => Date.parse(isoTime);
const msOrNull = (isoTime: string | null): number | null => (isoTime === null ? null : ms(isoTime));

export interface AlertRow {
  id: string; fingerprint: string; rule_id: string; rule_kind: string; severity: Alert['severity'];
  state: Alert['state']; entity_kind: Alert['entityKind']; entity_id: string; grid_id: string;
  officer_json: string | null; description: string; values_json: string; lat: number | null; lon: number | null;
  opened_at: number; last_seen_at: number; count: number;
  acknowledged_at: number | null; acknowledged_by: string | null; resolved_at: number | null; resolved_by: string | null;
  response_due_at: number; disposal_due_at: number; escalation_level: number;
  response_escalated: number; disposal_escalated: number;
  requires_disposal: number; silenced: number; previous_alert_id: string | null; evidence_json: string;
}

export interface TransitionRow {
  id: number; alert_id: string; at: number; actor: string; kind: AlertTransition['kind'];
  from_state: AlertTransition['from']; to_state: AlertTransition['to']; note: string | null; alert_json: string;
}

export function toAlert(r: AlertRow): Alert {
  return {
    id: r.id, fingerprint: r.fingerprint, ruleId: r.rule_id, ruleKind: r.rule_kind, severity: r.severity, state: r.state,
    entityKind: r.entity_kind, entityId: r.entity_id, gridId: r.grid_id,
    officer: r.officer_json === null ? null : (JSON.parse(r.officer_json) as Alert['officer']),
    description: r.description, values: JSON.parse(r.values_json) as Alert['values'],
    position: r.lat === null || r.lon === null ? null : { lat: r.lat, lon: r.lon },
    openedAt: iso(r.opened_at), lastSeenAt: iso(r.last_seen_at), count: r.count,
    acknowledgedAt: isoOrNull(r.acknowledged_at), acknowledgedBy: r.acknowledged_by,
    resolvedAt: isoOrNull(r.resolved_at), resolvedBy: r.resolved_by,
    responseDueAt: iso(r.response_due_at), disposalDueAt: iso(r.disposal_due_at),
    escalationLevel: r.escalation_level, requiresDisposal: r.requires_disposal === 1, silenced: r.silenced === 1,
    previousAlertId: r.previous_alert_id, evidence: JSON.parse(r.evidence_json) as Evidence[],
  };
}

/** Named parameters for INSERT and UPDATE of every column the Alert shape carries. */
export function alertParams(a: Alert) {
  return {
    id: a.id, fingerprint: a.fingerprint, ruleId: a.ruleId, ruleKind: a.ruleKind, severity: a.severity, state: a.state,
    entityKind: a.entityKind, entityId: a.entityId, gridId: a.gridId,
    officer: a.officer === null ? null : JSON.stringify(a.officer), description: a.description,
    values: JSON.stringify(a.values), lat: a.position?.lat ?? null, lon: a.position?.lon ?? null,
    openedAt: ms(a.openedAt), lastSeenAt: ms(a.lastSeenAt), count: a.count,
    acknowledgedAt: msOrNull(a.acknowledgedAt), acknowledgedBy: a.acknowledgedBy,
    resolvedAt: msOrNull(a.resolvedAt), resolvedBy: a.resolvedBy,
    responseDueAt: ms(a.responseDueAt), disposalDueAt: ms(a.disposalDueAt), escalationLevel: a.escalationLevel,
    requiresDisposal: a.requiresDisposal ? 1 : 0, silenced: a.silenced ? 1 : 0,
    previousAlertId: a.previousAlertId, evidence: JSON.stringify(a.evidence),
  };
}

export function toTransition(r: TransitionRow): AlertTransition {
  return { id: r.id, alertId: r.alert_id, at: iso(r.at), actor: r.actor, kind: r.kind, from: r.from_state, to: r.to_state, note: r.note };
}

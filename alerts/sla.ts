import type { z } from 'zod';
import type { SlaRow as SlaRowSchema } from '../core/alerts.js';
import type { Severity } from '../core/rules.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import { createAlertTables } from './schema.js';

export type SlaRow = z.infer<typeof SlaRowSchema>;

export interface SlaQuery {
  /** alerts opened at or after, epoch ms */
  from: number;
  /** alerts opened at or before, epoch ms */
  to: number;
  /** when the report is made: an alert still waiting past its deadline has missed it (default: the clock) */
  now?: number;
}

interface Row {
  grid_id: string; severity: Severity; opened_at: number; acknowledged_at: number | null; resolved_at: number | null;
  response_due_at: number; disposal_due_at: number;
}

/**
 * Time to acknowledge and to resolve per (cell, severity), for alerts opened in [from, to].
 *
 * - Times are seconds from `openedAt`; median and p90 interpolate linearly between the two
 *   nearest ranks (numpy's default), null when no alert of the group got there.
 * - Every resolved alert counts, auto-resolved ones too (their time is how long the condition
 *   lasted); silenced alerts count like the others.
 * - Response deadline missed: the first answer (acknowledgement, or a resolution without one)
 *   came after `responseDueAt`, or none has come and `now` is past it. Disposal: the same with
 *   the resolution and `disposalDueAt`. This is computed from the stored times, so an alert
 *   acknowledged late between two deadline checks (never escalated) still counts as missed.
 */
export function slaReport(db: MetadataDb, q: SlaQuery): SlaRow[] {
  createAlertTables(db);
  const now = q.now ?? Date.now();
  const rows = db.prepare(`SELECT grid_id, severity, opened_at, acknowledged_at, resolved_at, response_due_at, disposal_due_at
    FROM alerts WHERE opened_at BETWEEN ? AND ? ORDER BY grid_id, severity`).all(q.from, q.to) as Row[];
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.grid_id, r.severity]);
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((g) => {
    const ack = g.filter((r) => r.acknowledged_at !== null).map((r) => (r.acknowledged_at! - r.opened_at) / 1000);
    const res = g.filter((r) => r.resolved_at !== null).map((r) => (r.resolved_at! - r.opened_at) / 1000);
    return {
      gridId: g[0]!.grid_id,
      severity: g[0]!.severity,
      count: g.length,
      acknowledged: ack.length,
      resolved: res.length,
      ackMedianS: quantile(ack, 0.5),
      ackP90S: quantile(ack, 0.9),
      resolveMedianS: quantile(res, 0.5),
      resolveP90S: quantile(res, 0.9),
      responseMissed: g.filter((r) => (r.acknowledged_at ?? r.resolved_at ?? now) > r.response_due_at).length,
      disposalMissed: g.filter((r) => (r.resolved_at ?? now) > r.disposal_due_at).length,
    };
  });
}

/** Linear interpolation between closest ranks; rounded to the millisecond. */
export function quantile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const v = sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  return Math.round(v * 1000) / 1000;
}

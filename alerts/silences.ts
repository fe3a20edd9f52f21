import type { Alert, Silence } from '../core/alerts.js';
import { GridPatrolError } from '../lib/errors.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import { newId } from './ids.js';
import { iso } from './rows.js';
import { createAlertTables } from './schema.js';

/** A silence as given by a person: at least one matcher; times as epoch ms or ISO 8601. */
export interface SilenceInput {
  matchers: Silence['matchers'];
  /** default: now */
  startsAt?: number | string;
  endsAt: number | string;
  reason: string;
}

export interface SilenceAuditEntry {
  id: number;
  silenceId: string;
  at: string;
  actor: string;
  action: 'create' | 'delete';
  /** the silence as it was created or as it was when deleted */
  silence: Silence;
}

interface SilenceRow {
  id: string; rule_id: string | null; entity_id: string | null; grid_id: string | null;
  starts_at: number; ends_at: number; created_by: string; reason: string; created_at: number;
}

const toSilence = (r: SilenceRow): Silence => {
  const matchers: Silence['matchers'] = {};
  if (r.rule_id !== null) matchers.ruleId = r.rule_id;
  if (r.entity_id !== null) matchers.entityId = r.entity_id;
  if (r.grid_id !== null) matchers.gridId = r.grid_id;
  return { id: r.id, matchers, startsAt: iso(r.starts_at), endsAt: iso(r.ends_at), createdBy: r.created_by, reason: r.reason, createdAt: iso(r.created_at) };
};

function toMs(t: number | string, what: string): number {
  const v = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(v)) throw new GridPatrolError('GP_ERR_API_VALIDATION', `${what}: ${JSON.stringify(t)} is not a time (ISO 8601 or epoch ms)`);
  return v;
}

/** Every matcher given must equal the alert's value; unset matchers match anything. */
export function silenceMatches(s: Silence, a: { ruleId: string; entityId: string; gridId: string }): boolean {
  const m = s.matchers;
  return (m.ruleId === undefined || m.ruleId === a.ruleId) &&
    (m.entityId === undefined || m.entityId === a.entityId) &&
    (m.gridId === undefined || m.gridId === a.gridId);
}

/** The alerts whose silenced flag is wrong for the silences in force, with the silence that now covers each (none: unsilence). */
export function silenceChanges(alerts: readonly Alert[], active: readonly Silence[]): Array<{ alert: Alert; by: Silence | undefined }> {
  return alerts
    .map((alert) => ({ alert, by: active.find((s) => silenceMatches(s, alert)) }))
    .filter(({ alert, by }) => (by !== undefined) !== alert.silenced);
}

/**
 * Silences in the metadata database. Deleting ends a silence but keeps its row; every creation
 * and deletion is a row of `silence_audit` (who, when, the silence), which cannot be changed.
 * Callers run these inside their own transaction when they also touch alerts.
 */
export class Silences {
  private readonly s;

  constructor(db: MetadataDb) {
    createAlertTables(db);
    this.s = {
      insert: db.prepare(`INSERT INTO silences (id, rule_id, entity_id, grid_id, starts_at, ends_at, created_by, reason, created_at)
        VALUES (@id, @ruleId, @entityId, @gridId, @startsAt, @endsAt, @createdBy, @reason, @createdAt)`),
      get: db.prepare('SELECT * FROM silences WHERE id = ? AND deleted_at IS NULL'),
      remove: db.prepare('UPDATE silences SET deleted_at = ?, deleted_by = ? WHERE id = ?'),
      active: db.prepare('SELECT * FROM silences WHERE deleted_at IS NULL AND starts_at <= @now AND ends_at > @now ORDER BY starts_at, id'),
      current: db.prepare('SELECT * FROM silences WHERE deleted_at IS NULL AND ends_at > @now ORDER BY starts_at, id'),
      all: db.prepare('SELECT * FROM silences WHERE deleted_at IS NULL ORDER BY starts_at, id'),
      audit: db.prepare(`INSERT INTO silence_audit (silence_id, at, actor, action, silence_json) VALUES (?, ?, ?, ?, ?)`),
      auditAll: db.prepare('SELECT * FROM silence_audit WHERE (@id IS NULL OR silence_id = @id) ORDER BY id'),
    };
  }

  create(input: SilenceInput, actor: string, now: number): Silence {
    const m = input.matchers;
    if (m.ruleId === undefined && m.entityId === undefined && m.gridId === undefined) {
      throw new GridPatrolError('GP_ERR_API_VALIDATION', 'matchers: give at least one of ruleId, entityId, gridId');
    }
    if (!input.reason.trim()) throw new GridPatrolError('GP_ERR_API_VALIDATION', 'reason: say why (planned work, a known fault)');
    const startsAt = input.startsAt === undefined ? now : toMs(input.startsAt, 'startsAt');
    const endsAt = toMs(input.endsAt, 'endsAt');
    if (endsAt <= startsAt) throw new GridPatrolError('GP_ERR_API_VALIDATION', `endsAt ${iso(endsAt)} must be after startsAt ${iso(startsAt)}`);
    if (endsAt <= now) throw new GridPatrolError('GP_ERR_API_VALIDATION', `endsAt ${iso(endsAt)} is already past`);
    const row: SilenceRow = {
      id: newId('si', now), rule_id: m.ruleId ?? null, entity_id: m.entityId ?? null, grid_id: m.gridId ?? null,
      starts_at: startsAt, ends_at: endsAt, created_by: actor, reason: input.reason, created_at: now,
    };
    this.s.insert.run({
      id: row.id, ruleId: row.rule_id, entityId: row.entity_id, gridId: row.grid_id, startsAt, endsAt,
      createdBy: actor, reason: row.reason, createdAt: now,
    });
    const silence = toSilence(row);
    this.s.audit.run(silence.id, now, actor, 'create', JSON.stringify(silence));
    return silence;
  }

  /** Ends a silence now; GP_ERR_SILENCE_NOT_FOUND when there is no such silence (or it was deleted). */
  delete(id: string, actor: string, now: number): Silence {
    const row = this.s.get.get(id) as SilenceRow | undefined;
    if (!row) throw new GridPatrolError('GP_ERR_SILENCE_NOT_FOUND', `no silence ${JSON.stringify(id)}`);
    this.s.remove.run(now, actor, id);
    const silence = toSilence(row);
    this.s.audit.run(id, now, actor, 'delete', JSON.stringify(silence));
    return silence;
  }

  /** Silences in force at `now`. */
  active(now: number): Silence[] {
    return (this.s.active.all({ now }) as SilenceRow[]).map(toSilence);
  }

  /** Not deleted, and (unless includeExpired) not yet ended: in force or still to come. */
  list(now: number, includeExpired = false): Silence[] {
    return ((includeExpired ? this.s.all.all() : this.s.current.all({ now })) as SilenceRow[]).map(toSilence);
  }

  audit(silenceId?: string): SilenceAuditEntry[] {
    const rows = this.s.auditAll.all({ id: silenceId ?? null }) as Array<{ id: number; silence_id: string; at: number; actor: string; action: 'create' | 'delete'; silence_json: string }>;
    return rows.map((r) => ({ id: r.id, silenceId: r.silence_id, at: iso(r.at), actor: r.actor, action: r.action, silence: JSON.parse(r.silence_json) as Silence }));
  }
}

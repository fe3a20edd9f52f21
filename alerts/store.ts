import type { Alert, AlertState, AlertTransition } from '../core/alerts.js';
import type { Severity } from '../core/rules.js';
import { GridPatrolError } from '../lib/errors.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import { alertParams, iso, toAlert, toTransition, type AlertRow, type TransitionRow } from './rows.js';
import { createAlertTables } from './schema.js';

/** What every transition listener, the SSE stream and a Last-Event-ID replay carry. */
export interface AlertEvent {
  transition: AlertTransition;
  /** the alert right after the transition */
  alert: Alert;
}

export type NewTransition = Pick<AlertTransition, 'kind' | 'actor' | 'from' | 'to' | 'note'>;

export interface AlertListQuery {
  state?: AlertState;
  grid?: string;
  severity?: Severity;
  /** opened at or after, epoch ms */
  from?: number;
  /** opened at or before, epoch ms */
  to?: number;
  /** default 100 */
  limit?: number;
  /** `next` of the previous page */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

const COLUMNS = `id, fingerprint, rule_id, rule_kind, severity, state, entity_kind, entity_id, grid_id, officer_json,
  description, values_json, lat, lon, opened_at, last_seen_at, count, acknowledged_at, acknowledged_by, resolved_at,
  resolved_by, response_due_at, disposal_due_at, escalation_level, requires_disposal, silenced, previous_alert_id, evidence_json`;
const PARAMS = `@id, @fingerprint, @ruleId, @ruleKind, @severity, @state, @entityKind, @entityId, @gridId, @officer,
  @description, @values, @lat, @lon, @openedAt, @lastSeenAt, @count, @acknowledgedAt, @acknowledgedBy, @resolvedAt,
  @resolvedBy, @responseDueAt, @disposalDueAt, @escalationLevel, @requiresDisposal, @silenced, @previousAlertId, @evidence`;
/** fingerprints a store keeps in memory at most (rules × devices; about 1 KiB each) */
const CACHE_MAX_ENTRIES = 50_000;
const SET = COLUMNS.split(',').map((c, i) => `${c.trim()} = ${PARAMS.split(',')[i]!.trim()}`).join(', ');

/**
 * Alerts and their audit trail in the metadata database. Synchronous (better-sqlite3): a caller
 * that reads and then writes inside `transaction` cannot interleave with another call of this
 * process, and BEGIN IMMEDIATE takes the write lock first so another process cannot either.
 */
export class AlertStore {
  private readonly s;
  /**
   * fingerprint → its unresolved alert (null: it has none), as this connection last read or wrote
   * it: a repeat of an open alert, the most frequent signal of a storm, then costs one UPDATE
   * instead of a SELECT and a row decoded. Dropped whenever another connection committed to the
   * database (PRAGMA data_version, checked after BEGIN IMMEDIATE so nobody can commit meanwhile)
   * and whenever a transaction or savepoint rolls back.
   */
  private readonly cache = new Map<string, Alert | null>();
  private dataVersion = -1;

  constructor(readonly db: MetadataDb) {
    createAlertTables(db);
    this.s = {
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      get: db.prepare('SELECT * FROM alerts WHERE id = ?'),
      unresolved: db.prepare("SELECT * FROM alerts WHERE fingerprint = ? AND state != 'resolved'"),
      latest: db.prepare('SELECT id FROM alerts WHERE fingerprint = ? ORDER BY opened_at DESC, id DESC LIMIT 1').pluck(),
      unresolvedOfEntity: db.prepare("SELECT 1 FROM alerts WHERE entity_kind = ? AND entity_id = ? AND rule_kind = ? AND state != 'resolved' LIMIT 1"),
      allUnresolved: db.prepare("SELECT * FROM alerts WHERE state != 'resolved' ORDER BY opened_at"),
      silencedUnresolved: db.prepare("SELECT * FROM alerts WHERE state != 'resolved' AND silenced = 1 ORDER BY opened_at"),
      responseOverdue: db.prepare("SELECT * FROM alerts WHERE state = 'open' AND response_escalated = 0 AND response_due_at < ? ORDER BY response_due_at"),
      disposalOverdue: db.prepare("SELECT * FROM alerts WHERE state != 'resolved' AND disposal_escalated = 0 AND disposal_due_at < ? ORDER BY disposal_due_at"),
      insert: db.prepare(`INSERT INTO alerts (${COLUMNS}) VALUES (${PARAMS})`),
      update: db.prepare(`UPDATE alerts SET ${SET} WHERE id = @id`),
      // a repeat changes no indexed column: this touches the row only, no index (4x cheaper than update)
      touch: db.prepare('UPDATE alerts SET last_seen_at = @lastSeenAt, count = @count, values_json = @values, lat = @lat, lon = @lon WHERE id = @id'),
      markResponse: db.prepare('UPDATE alerts SET response_escalated = 1 WHERE id = ?'),
      markDisposal: db.prepare('UPDATE alerts SET disposal_escalated = 1 WHERE id = ?'),
      lastAt: db.prepare('SELECT at FROM alert_transitions ORDER BY id DESC LIMIT 1').pluck(),
      lastId: db.prepare('SELECT MAX(id) FROM alert_transitions').pluck(),
      appendTransition: db.prepare(`INSERT INTO alert_transitions (alert_id, at, actor, kind, from_state, to_state, note, alert_json)
        VALUES (@alertId, @at, @actor, @kind, @from, @to, @note, @alertJson)`),
      history: db.prepare('SELECT * FROM alert_transitions WHERE alert_id = ? ORDER BY id'),
      since: db.prepare('SELECT * FROM alert_transitions WHERE id > ? ORDER BY id LIMIT ?'),
    };
  }

  /** Runs `fn` as one BEGIN IMMEDIATE transaction; a throw rolls everything back. */
  transaction<T>(fn: () => T): T {
    return this.uncachedOnThrow(() => this.db.transaction(() => {
      this.checkCache();
      return fn();
    }).immediate());
  }

  /** Inside `transaction`: runs `fn` as a savepoint; a throw rolls back only what `fn` did, and is rethrown. */
  savepoint<T>(fn: () => T): T {
    return this.uncachedOnThrow(() => this.db.transaction(fn)()); // better-sqlite3 nests a transaction inside another as a SAVEPOINT
  }

  get(id: string): Alert | undefined {
    return this.one(this.s.get.get(id));
  }

  /** The open or acknowledged alert of a fingerprint; the unique index allows at most one. */
  unresolved(fingerprint: string): Alert | undefined {
    if (!this.db.inTransaction) this.checkCache();
    const cached = this.cache.get(fingerprint);
    if (cached !== undefined) return cached ?? undefined;
    const a = this.one(this.s.unresolved.get(fingerprint));
    this.remember(fingerprint, a);
    return a;
  }

  /** The id of the newest alert of a fingerprint, in any state. */
  latestId(fingerprint: string): string | undefined {
    return this.s.latest.get(fingerprint) as string | undefined;
  }

  hasUnresolved(entityKind: string, entityId: string, ruleKind: string): boolean {
    return this.s.unresolvedOfEntity.get(entityKind, entityId, ruleKind) !== undefined;
  }

  unresolvedAll(onlySilenced = false): Alert[] {
    return ((onlySilenced ? this.s.silencedUnresolved : this.s.allUnresolved).all() as AlertRow[]).map(toAlert);
  }

  /** Open alerts past their response deadline that have not been escalated for it. */
  responseOverdue(now: number): Alert[] {
    return (this.s.responseOverdue.all(now) as AlertRow[]).map(toAlert);
  }

  /** Unresolved alerts past their disposal deadline that have not been escalated for it. */
  disposalOverdue(now: number): Alert[] {
    return (this.s.disposalOverdue.all(now) as AlertRow[]).map(toAlert);
  }

  insert(a: Alert): void {
    this.s.insert.run(alertParams(a));
    this.remember(a.fingerprint, a);
  }

  update(a: Alert): void {
    this.s.update.run(alertParams(a));
    this.remember(a.fingerprint, a);
  }

  /** Saves what a repeat changes: last seen, count, values, position. */
  touch(a: Alert): void {
    const { id, lastSeenAt, count, values, lat, lon } = alertParams(a);
    this.s.touch.run({ id, lastSeenAt, count, values, lat, lon });
    this.remember(a.fingerprint, a);
  }

  markEscalated(id: string, deadline: 'response' | 'disposal'): void {
    (deadline === 'response' ? this.s.markResponse : this.s.markDisposal).run(id);
  }

  /**
   * The time for the next transition: the clock, but at least 1 ms after the previous
   * transition. Every transition thus has its own millisecond, which is what keeps two of them
   * from being one point in InfluxDB (its key is series + time, and the alert id is a field).
   * Under a burst (1,000 escalations at once) the times spread by up to a ms per transition.
   * Call inside the transaction that appends the transition.
   */
  nextAt(now: number): number {
    const last = this.s.lastAt.get() as number | undefined;
    return last === undefined ? now : Math.max(now, last + 1);
  }

  appendTransition(t: NewTransition, at: number, alert: Alert): AlertEvent {
    const { kind, actor, from, to, note } = t;
    const params = { alertId: alert.id, at, actor, kind, from, to, note, alertJson: JSON.stringify(alert) };
    const id = Number(this.s.appendTransition.run(params).lastInsertRowid);
    return { transition: { id, alertId: alert.id, at: iso(at), actor, kind, from, to, note }, alert };
  }

  /** The id of the newest transition, 0 when there is none. */
  lastTransitionId(): number {
    return (this.s.lastId.get() as number | null) ?? 0;
  }

  /** An alert's audit trail, oldest first. */
  history(alertId: string): AlertTransition[] {
    return (this.s.history.all(alertId) as TransitionRow[]).map(toTransition);
  }

  /** Transitions after `lastId` in id order, each with the alert as it was right after it. */
  transitionsSince(lastId: number, limit: number): AlertEvent[] {
    const rows = this.s.since.all(Math.max(0, Math.floor(lastId)), Math.max(0, Math.floor(limit))) as TransitionRow[];
    return rows.map((r) => ({ transition: toTransition(r), alert: JSON.parse(r.alert_json) as Alert }));
  }

  /** Newest first (by opening time, then id); `next` continues after the last item. */
  list(q: AlertListQuery): Page<Alert> {
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 100)));
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: limit + 1 };
    const add = (clause: string, key: string, v: unknown) => {
      if (v === undefined) return;
      where.push(clause);
      params[key] = v;
    };
    add('state = @state', 'state', q.state);
    add('grid_id = @grid', 'grid', q.grid);
    add('severity = @severity', 'severity', q.severity);
    add('opened_at >= @from', 'from', q.from);
    add('opened_at <= @to', 'to', q.to);
    if (q.cursor !== undefined) {
      const [at, id] = decodeCursor(q.cursor);
      where.push('(opened_at < @cAt OR (opened_at = @cAt AND id < @cId))');
      Object.assign(params, { cAt: at, cId: id });
    }
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, id DESC LIMIT @limit`;
    const rows = this.db.prepare(sql).all(params) as AlertRow[];
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toAlert), next: rows.length > limit && last ? encodeCursor(last.opened_at, last.id) : null };
  }

  private remember(fingerprint: string, a: Alert | undefined): void {
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(fingerprint, a && a.state !== 'resolved' ? a : null);
  }

  private checkCache(): void {
    const v = this.s.dataVersion.get() as number;
    if (v !== this.dataVersion) this.cache.clear();
    this.dataVersion = v;
  }

  private uncachedOnThrow<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.cache.clear(); // what it cached may have been rolled back
      throw err;
    }
  }

  private one(row: unknown): Alert | undefined {
    return row === undefined ? undefined : toAlert(row as AlertRow);
  }
}

function encodeCursor(openedAt: number, id: string): string {
  return Buffer.from(JSON.stringify([openedAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return [v[0] as number, v[1]];
  } catch {
    // fall through to the one error below
  }
  throw new GridPatrolError('GP_ERR_API_VALIDATION', 'cursor: not a cursor this server gave out (pass `next` of the previous page unchanged)');
}

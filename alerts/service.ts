import { Evidence, type Alert, type AlertTransition, type Silence } from '../core/alerts.js';
import type { GridIndex } from '../core/grids.js';
import { fingerprint, type RuleSignal, type RulesFile } from '../core/rules.js';
import { GridPatrolError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import { isDiskFault } from '../storage/write-guard.js';
import { TransitionEmitter, type TransitionListener } from './emitter.js';
import { alertMetrics, type AlertMetrics } from './metrics.js';
import { TransitionOutbox, type TransitionSink } from './outbox.js';
import { INHIBITED_BY_LOST_LINK, formatDuration, openAlert, ruleById, stateError, type FireSignal } from './policy.js';
import { iso, ms } from './rows.js';
import { Silences, silenceChanges, silenceMatches, type SilenceAuditEntry, type SilenceInput } from './silences.js';
import { AlertStore, type AlertEvent, type AlertListQuery, type NewTransition, type Page } from './store.js';

export type { AlertEvent, AlertListQuery, Page, SilenceAuditEntry, SilenceInput, TransitionListener, TransitionSink };

export interface AlertServiceOptions {
  db: MetadataDb;
  grids: GridIndex;
  /** the rules in force (reloadable): deadlines and requiresDisposal per rule */
  rules: () => RulesFile;
  /** the spool: every transition becomes an `alert_transition` record (see TransitionOutbox) */
  sink: TransitionSink;
  /** epoch ms; injected in tests */
  now?: () => number;
  log: Logger;
  metrics: Pick<Metrics, 'registry'>;
  /** retry delays while the sink fails, ms */
  sinkBackoff?: { minMs: number; maxMs: number };
}

type Clear = Extract<RuleSignal, { type: 'clear' }>;
/** Inside a transaction: saves `alert` (a new one: inserts it) and appends its transition at `at`. */
type Commit = (alert: Alert, t: Omit<NewTransition, 'to'>, at: number, isNew?: boolean) => Alert;

/**
 * The alert lifecycle: one unresolved alert per fingerprint, open → acknowledged → resolved,
 * deadlines that escalate, silences, inhibition, and an immutable audit trail. Every method is
 * synchronous and runs as one SQLite transaction, so concurrent callers in this process are
 * serialised (1,000 repeats give one alert). Listeners run after the commit; the spool gets each
 * transition through the outbox. All lifecycle times are this service's clock, not device time.
 */
export class AlertService {
  private readonly store: AlertStore;
  private readonly silences: Silences;
  private readonly outbox: TransitionOutbox;
  private readonly metrics: AlertMetrics;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly emitter: TransitionEmitter;

  constructor(private readonly o: AlertServiceOptions) {
    this.store = new AlertStore(o.db);
    this.silences = new Silences(o.db);
    this.now = o.now ?? Date.now;
    this.log = o.log.child({ component: 'alerts' });
    this.metrics = alertMetrics(o.metrics.registry);
    this.emitter = new TransitionEmitter(this.log, this.metrics);
    this.outbox = new TransitionOutbox({ db: o.db, sink: o.sink, log: this.log, metrics: this.metrics, ...(o.sinkBackoff ? { backoff: o.sinkBackoff } : {}) });
    this.outbox.kick(); // what an earlier run committed but did not get into the spool
  }

  /** A rule signal: the alert opened, updated or resolved; null when nothing is (inhibited, or a clear with no alert). */
  handle(signal: RuleSignal): Alert | null {
    return this.write((commit) => this.take(signal, commit));
  }

  /**
   * The signals of one evaluation, in order, as one transaction: an alert storm costs one commit
   * per batch instead of one per signal (a commit is about half of what a repeat costs). Each
   * signal runs in a savepoint, so one that throws is rolled back alone, logged and answered null.
   * A disk fault (the data folder read-only or full) throws out of the whole batch, nothing
   * taken: the caller keeps the signals for later.
   */
  handleAll(signals: readonly RuleSignal[]): Array<Alert | null> {
    if (signals.length === 1) {
      try {
        return [this.handle(signals[0]!)];
      } catch (err) {
        if (isDiskFault(err)) throw err;
        this.signalFailed(err, signals[0]!);
        return [null];
      }
    }
    return this.write((commit, made) => signals.map((s) => {
      const mark = made.length;
      try {
        return this.store.savepoint(() => this.take(s, commit));
      } catch (err) {
        if (isDiskFault(err)) throw err; // not this signal's fault: the whole batch waits
        made.length = mark; // its transitions were rolled back with it
        this.signalFailed(err, s);
        return null;
      }
    }));
  }

  /** open → acknowledged; anything else is GP_ERR_ALERT_STATE (409). */
  acknowledge(id: string, actor: string, note?: string): Alert {
    return this.write((commit) => {
      const a = this.mustGet(id);
      if (a.state !== 'open') throw stateError(a, 'acknowledge', 'only an open alert can be acknowledged');
      const at = this.store.nextAt(this.now());
      return commit({ ...a, state: 'acknowledged', acknowledgedAt: iso(at), acknowledgedBy: actor }, { kind: 'acknowledge', actor, from: a.state, note: note?.trim() || null }, at);
    });
  }

  /** open | acknowledged → resolved, with a note saying how it was disposed of. */
  resolve(id: string, actor: string, note: string): Alert {
    if (!note?.trim()) throw new GridPatrolError('GP_ERR_API_VALIDATION', 'note: say how the alert was disposed of');
    return this.write((commit) => {
      const a = this.mustGet(id);
      if (a.state === 'resolved') throw stateError(a, 'resolve', 'it is already resolved');
      const at = this.store.nextAt(this.now());
      return commit({ ...a, state: 'resolved', resolvedAt: iso(at), resolvedBy: actor }, { kind: 'resolve', actor, from: a.state, note: note.trim() }, at);
    });
  }

  /** Attaches evidence (a dispatch, an arrival, a detection) in any state; audited as kind `evidence`. */
  addEvidence(id: string, evidence: Evidence, actor = 'system'): Alert {
    const parsed = Evidence.safeParse(evidence);
    if (!parsed.success) throw new GridPatrolError('GP_ERR_API_VALIDATION', `evidence: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return this.write((commit) => {
      const a = this.mustGet(id);
      const at = this.store.nextAt(this.now());
      return commit({ ...a, evidence: [...a.evidence, parsed.data] }, { kind: 'evidence', actor, from: a.state, note: `${parsed.data.kind}: ${parsed.data.summary}` }, at);
    });
  }

  /**
   * The clock-driven work, to be called every few seconds: an open alert past its response
   * deadline, and an unresolved one past its disposal deadline, escalate one level each, once
   * (the deadlines are stored, so a restart loses none). Also applies silences that started or
   * ended since the last call. Returns the transitions it made.
   */
  checkDeadlines(now: number = this.now()): AlertEvent[] {
    const made: AlertEvent[] = [];
    this.write((commit) => {
      const escalate = (a: Alert, deadline: 'response' | 'disposal', dueAt: string) => {
        this.store.markEscalated(a.id, deadline);
        const note = `${deadline} deadline missed by ${formatDuration(now - ms(dueAt))} (due ${dueAt})`;
        commit({ ...a, escalationLevel: a.escalationLevel + 1 }, { kind: 'escalate', actor: 'system', from: a.state, note }, this.store.nextAt(now));
      };
      for (const a of this.store.responseOverdue(now)) escalate(a, 'response', a.responseDueAt);
      // read after the loop above, so an alert escalated for both carries both levels
      for (const a of this.store.disposalOverdue(now)) escalate(a, 'disposal', a.disposalDueAt);
      this.applySilences(commit, now, 'system');
    }, made);
    return made;
  }

  /** Subscribes to every committed transition; returns the unsubscribe function. */
  onTransition(listener: TransitionListener): () => void {
    return this.emitter.add(listener);
  }

  /** Creates a silence (audited); alerts it covers now are marked silenced at once. */
  createSilence(input: SilenceInput, actor: string): Silence {
    return this.write((commit) => {
      const now = this.now();
      const silence = this.silences.create(input, actor, now);
      this.applySilences(commit, now, actor);
      return silence;
    });
  }

  /** Ends a silence (audited); alerts no other silence covers are unsilenced at once. */
  deleteSilence(id: string, actor: string): Silence {
    return this.write((commit) => {
      const now = this.now();
      const silence = this.silences.delete(id, actor, now);
      this.applySilences(commit, now, actor);
      return silence;
    });
  }

  /** Silences in force or still to come (with `includeExpired`, also those that ended). Deleted ones only in the audit. */
  listSilences(opts: { includeExpired?: boolean } = {}): Silence[] {
    return this.silences.list(this.now(), opts.includeExpired ?? false);
  }

  silenceAudit(silenceId?: string): SilenceAuditEntry[] {
    return this.silences.audit(silenceId);
  }

  /** GP_ERR_ALERT_NOT_FOUND (404) when there is no such alert. */
  get(id: string): Alert {
    return this.mustGet(id);
  }

  find(id: string): Alert | undefined {
    return this.store.get(id);
  }

  list(query: AlertListQuery): Page<Alert> {
    return this.store.list(query);
  }

  /** The alert's audit trail, oldest first; GP_ERR_ALERT_NOT_FOUND when there is no such alert. */
  history(id: string): AlertTransition[] {
    this.mustGet(id);
    return this.store.history(id);
  }

  /** For SSE resume (Last-Event-ID): transitions after that id, in order, each with the alert as it was then. */
  transitionsSince(lastEventId: number, limit: number): AlertEvent[] {
    return this.store.transitionsSince(lastEventId, limit);
  }

  /** The newest transition id (0 when none): where a fresh SSE client starts. */
  lastEventId(): number {
    return this.store.lastTransitionId();
  }

  /** Resolves when every transition committed so far is in the spool. */
  /** Unresolved alerts by state and severity, for metrics. */
  countUnresolved(): Array<{ state: string; severity: string; count: number }> {
    return this.o.db.prepare("SELECT state, severity, COUNT(*) AS count FROM alerts WHERE state != 'resolved' GROUP BY state, severity").all() as Array<{ state: string; severity: string; count: number }>;
  }

  /** Unresolved alerts past their response (still open) and disposal deadlines, for metrics. */
  countOverdue(now: number): { response: number; disposal: number } {
    const q = (sql: string) => (this.o.db.prepare(sql).get(now) as { n: number }).n;
    return {
      response: q("SELECT COUNT(*) AS n FROM alerts WHERE state = 'open' AND response_due_at < ?"),
      disposal: q("SELECT COUNT(*) AS n FROM alerts WHERE state != 'resolved' AND disposal_due_at < ?"),
    };
  }

  flush(): Promise<void> {
    return this.outbox.flush();
  }

  /** Stops the outbox after its append in flight; listeners are dropped. The db stays open (the caller owns it). */
  async close(): Promise<void> {
    this.emitter.clear();
    await this.outbox.stop();
  }

  private take(s: RuleSignal, commit: Commit): Alert | null {
    return s.type === 'fire' ? this.fire(s, commit) : this.clear(s, commit);
  }

  private signalFailed(err: unknown, s: RuleSignal): void {
    this.log.error({ err, ruleId: s.ruleId, entityId: s.entityId }, 'alert service failed to take a rule signal');
  }

  /** Inside a transaction. */
  private fire(s: FireSignal, commit: Commit): Alert | null {
    const fp = fingerprint(s.ruleId, s.entityKind, s.entityId);
    if (s.entityKind === 'drone' && INHIBITED_BY_LOST_LINK.has(s.ruleKind) && this.store.hasUnresolved('drone', s.entityId, 'lost_link')) {
      this.metrics.signals.inc({ type: 'fire', outcome: 'inhibited' });
      this.log.debug({ ruleId: s.ruleId, droneId: s.entityId }, 'signal inhibited by the drone\'s lost-link alert');
      return null;
    }
    const now = this.now();
    const open = this.store.unresolved(fp);
    if (open) {
      // a repeat: no transition, nothing pushed
      const updated: Alert = { ...open, lastSeenAt: iso(Math.max(now, ms(open.lastSeenAt))), count: open.count + 1, values: s.values, position: s.position ?? open.position };
      this.store.touch(updated);
      this.metrics.signals.inc({ type: 'fire', outcome: 'repeated' });
      return updated;
    }
    const at = this.store.nextAt(now);
    const alert = openAlert(s, {
      at, fingerprint: fp, rule: ruleById(this.o.rules(), s.ruleId), file: this.o.rules(), officer: this.o.grids.cell(s.gridId)?.officer ?? null,
      silenced: this.silences.active(at).some((x) => silenceMatches(x, s)),
      previousAlertId: this.store.latestId(fp) ?? null, // none is unresolved here: this is the last resolved one
    });
    this.metrics.signals.inc({ type: 'fire', outcome: 'opened' });
    const note = alert.silenced ? `${s.description} (silenced)` : s.description;
    return commit(alert, { kind: 'open', actor: 'system', from: null, note }, at, true);
  }

  /** Inside a transaction. */
  private clear(s: Clear, commit: Commit): Alert | null {
    const open = this.store.unresolved(fingerprint(s.ruleId, s.entityKind, s.entityId));
    const outcome = !open ? 'none' : open.requiresDisposal ? 'kept' : 'resolved';
    this.metrics.signals.inc({ type: 'clear', outcome });
    if (!open || open.requiresDisposal) return open ?? null; // a person must dispose of it
    const at = this.store.nextAt(this.now());
    return commit({ ...open, state: 'resolved', resolvedAt: iso(at), resolvedBy: 'system' }, { kind: 'auto_resolve', actor: 'system', from: open.state, note: 'condition cleared' }, at);
  }

  /** Marks unresolved alerts silenced or not as the silences in force at `now` say, each change audited. */
  private applySilences(commit: Commit, now: number, actor: string): void {
    const active = this.silences.active(now);
    for (const { alert: a, by } of silenceChanges(this.store.unresolvedAll(active.length === 0), active)) {
      const note = by ? `silenced by ${by.id}: ${by.reason}` : 'no silence covers it any more';
      commit({ ...a, silenced: by !== undefined }, { kind: 'silence', actor, from: a.state, note }, this.store.nextAt(now));
    }
  }

  /**
   * Runs `fn` as one transaction with a `commit` that saves an alert and appends its transition;
   * after the commit, the transitions go to the listeners (in order, also when a listener causes
   * more) and the outbox. A throw rolls back and nothing is emitted.
   */
  private write<T>(fn: (commit: Commit, made: AlertEvent[]) => T, made: AlertEvent[] = []): T {
    const commit: Commit = (alert, t, at, isNew = false) => {
      if (isNew) this.store.insert(alert);
      else this.store.update(alert);
      made.push(this.store.appendTransition({ ...t, to: alert.state }, at, alert));
      return alert;
    };
    const result = this.store.transaction(() => fn(commit, made));
    if (made.length > 0) {
      for (const e of made) this.metrics.transitions.inc({ kind: e.transition.kind });
      this.outbox.kick();
      this.emitter.emit(made);
    }
    return result;
  }

  private mustGet(id: string): Alert {
    const a = this.store.get(id);
    if (!a) throw new GridPatrolError('GP_ERR_ALERT_NOT_FOUND', `no alert ${JSON.stringify(id)}`);
    return a;
  }

}

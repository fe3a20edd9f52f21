import type { AlertTransitionRecord, StoreRecord } from '../core/records.js';
import type { Logger } from '../lib/logger.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import { isDiskFault } from '../storage/write-guard.js';
import type { AlertMetrics } from './metrics.js';
import { createAlertTables } from './schema.js';

/** Where transitions go to reach the telemetry store: the spool. `append` resolves once they are durable. */
export interface TransitionSink {
  append(records: readonly StoreRecord[]): Promise<void>;
}

export interface OutboxOptions {
  db: MetadataDb;
  sink: TransitionSink;
  log: Logger;
  metrics: AlertMetrics;
  /** delay between attempts while the sink fails, ms: doubles from minMs up to maxMs (default 200 … 30 000) */
  backoff?: { minMs: number; maxMs: number };
  /** transitions per append (default 500) */
  batchSize?: number;
}

const CURSOR = 'spool';

/**
 * The transactional outbox between the audit trail and the spool. A transition is durable once
 * its SQLite transaction commits; the sink is async and may fail (spool full), so it cannot be
 * part of that commit, and fire-and-forget could lose a transition. Instead `alert_sink_cursor`
 * remembers the last transition the sink accepted, and one pump at a time appends the ones after
 * it, in id order, awaiting each append and moving the cursor only after it resolved. A failing
 * sink is retried with backoff; a restart resumes at the cursor. At least once: a crash between
 * append and cursor update appends a batch again, which the stores overwrite by key.
 */
export class TransitionOutbox {
  private readonly s;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private kickedWhileRunning = false;

  constructor(private readonly o: OutboxOptions) {
    this.log = o.log;
    createAlertTables(o.db);
    o.db.prepare('INSERT OR IGNORE INTO alert_sink_cursor (name, last_id) VALUES (?, 0)').run(CURSOR);
    this.s = {
      cursor: o.db.prepare('SELECT last_id FROM alert_sink_cursor WHERE name = ?').pluck(),
      advance: o.db.prepare('UPDATE alert_sink_cursor SET last_id = ? WHERE name = ? AND last_id < ?'),
      lastId: o.db.prepare('SELECT MAX(id) FROM alert_transitions').pluck(),
      // the alert's cell, severity, rule and entity never change, so joining the current row is exact
      batch: o.db.prepare(`SELECT t.id, t.at, t.actor, t.to_state, t.note, a.id AS alert_id, a.grid_id, a.severity, a.rule_id, a.entity_id
        FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id WHERE t.id > ? ORDER BY t.id LIMIT ?`),
    };
  }

  /** Starts a pass over what the sink lacks, unless one is under way (it then runs once more). */
  kick(): void {
    if (this.stopping.signal.aborted) return;
    if (this.running) {
      this.kickedWhileRunning = true;
      return;
    }
    this.running = this.pump()
      .catch((err: unknown) => {
        // not the sink (its failures are retried in pump): the database itself, e.g. closed under us
        this.log.error({ err }, 'alert outbox stopped: cannot read the transitions; they reach the spool after a restart');
        this.stopping.abort();
      })
      .finally(() => {
        this.running = undefined;
        if (this.kickedWhileRunning) {
          this.kickedWhileRunning = false;
          this.kick();
        }
      });
  }

  /** Transitions committed but not yet in the sink. */
  backlog(): number {
    return ((this.s.lastId.get() as number | null) ?? 0) - this.cursor();
  }

  /** Resolves when every transition committed before the call is in the sink; rejects if stopped first. */
  async flush(): Promise<void> {
    const target = (this.s.lastId.get() as number | null) ?? 0;
    while (this.cursor() < target) {
      if (this.stopping.signal.aborted) throw new Error('alert outbox stopped before every transition reached the spool');
      this.kick();
      await this.running;
    }
  }

  /** Lets an append in flight finish (and records it), then stops; what is left goes on the next start. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private cursor(): number {
    return this.s.cursor.get(CURSOR) as number;
  }

  private async pump(): Promise<void> {
    const batchSize = this.o.batchSize ?? 500;
    for (let failures = 0; !this.stopping.signal.aborted; ) {
      const pass = await this.pass(batchSize);
      if (pass === 'done') return;
      if (pass !== 'more') {
        this.o.metrics.sinkFailures.inc();
        // WARN, not ERROR: the transitions are safe in SQLite and will be appended
        if (failures === 0) this.log.warn({ err: pass.err }, 'alert transitions cannot reach the spool; retrying');
        await sleep(this.delay(failures++), this.stopping.signal);
        continue;
      }
      if (failures > 0) this.log.info({ failures }, 'alert transitions reach the spool again');
      failures = 0;
    }
  }

  /** One batch: appended and the cursor moved ('more'), nothing left ('done'), or why not (retried). */
  private async pass(batchSize: number): Promise<'done' | 'more' | { err: unknown }> {
    try {
      const rows = this.s.batch.all(this.cursor(), batchSize) as Row[];
      this.o.metrics.sinkBacklog.set(this.backlog());
      if (rows.length === 0) return 'done';
      try {
        await this.o.sink.append(rows.map(toRecord));
      } catch (err) {
        return { err };
      }
      const last = rows.at(-1)!.id;
      // if this cannot be written, the batch is appended again later: the stores overwrite by key
      this.s.advance.run(last, CURSOR, last);
      return 'more';
    } catch (err) {
      // a disk fault (the data folder read-only or full) is waited out like the sink; any other database error stops the pump
      if (isDiskFault(err)) return { err };
      throw err;
    }
  }

  private delay(attempt: number): number {
    const { minMs, maxMs } = this.o.backoff ?? { minMs: 200, maxMs: 30_000 };
    return Math.min(maxMs, minMs * 2 ** attempt);
  }
}

interface Row {
  id: number; at: number; actor: string; to_state: string; note: string | null;
  alert_id: string; grid_id: string; severity: string; rule_id: string; entity_id: string;
}

function toRecord(r: Row): AlertTransitionRecord {
  const rec: AlertTransitionRecord = {
    type: 'alert_transition', gridId: r.grid_id, severity: r.severity, rule: r.rule_id, ts: r.at,
    alertId: r.alert_id, entityId: r.entity_id, state: r.to_state, actor: r.actor,
  };
  if (r.note !== null) rec.note = r.note;
  return rec;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

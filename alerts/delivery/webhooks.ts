import { createHmac } from 'node:crypto';
import type { MetadataDb } from '../../storage/metadata-db.js';
import type { Logger } from '../../lib/logger.js';
import type { AlertEvent } from './sse.js';
import { redactUrl } from '../../lib/redact-url.js';
import { fetchWithin } from '../../lib/fetch-within.js';

export interface WebhookOptions {
  db: MetadataDb;
  targets: readonly string[];
  /** HMAC-SHA256 key; the receiver checks `X-GridPatrol-Signature` with it */
  secret: string;
  log: Logger;
  now?: () => number;
  /** per attempt, ms */
  timeoutMs?: number;
  /** after this many failed attempts a delivery is kept as `failed` */
  maxAttempts?: number;
  backoff?: { minMs: number; maxMs: number };
}

export interface WebhookDelivery {
  id: number;
  target: string;
  eventId: number;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  nextAttemptAt: number;
}

/** `sha256=<hex>` of `<timestamp>.<body>`: binds the body to its time, so a captured request cannot be replayed later. */
export function signature(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Webhook delivery: every transition is queued in SQLite per target, then each target's worker
 * posts its queue in order, one at a time, retrying with backoff. A slow or dead target delays
 * only itself; undelivered events stay in the table (`failed` after maxAttempts) for people to see.
 */
export class Webhooks {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly busy = new Set<string>();
  private stopped = false;
  /** aborts the posts in flight on stop: their answer could no longer be recorded (the database closes next) */
  private readonly stopping = new AbortController();
  private readonly now: () => number;

  constructor(private readonly o: WebhookOptions) {
    this.now = o.now ?? Date.now;
    o.db.exec(`CREATE TABLE IF NOT EXISTS webhook_deliveries (
      id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, event_id INTEGER NOT NULL, body TEXT NOT NULL,
      status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, created_at INTEGER NOT NULL,
      delivered_at INTEGER, next_attempt_at INTEGER NOT NULL)`);
    o.db.exec("CREATE INDEX IF NOT EXISTS webhook_pending ON webhook_deliveries(target, id) WHERE status = 'pending'");
  }

  start(): void {
    for (const t of this.o.targets) this.schedule(t, 0);
  }

  /** Stops scheduling and aborts posts in flight; what was not delivered stays pending and is sent after the next start. */
  stop(): void {
    this.stopped = true;
    this.stopping.abort();
    for (const t of this.timers.values()) clearTimeout(t);
  }

  enqueue(e: AlertEvent): void {
    const body = JSON.stringify(e);
    const insert = this.o.db.prepare(
      "INSERT INTO webhook_deliveries (target, event_id, body, status, created_at, next_attempt_at) VALUES (?, ?, ?, 'pending', ?, ?)",
    );
    const at = this.now();
    for (const t of this.o.targets) insert.run(t, e.transition.id, body, at, at);
    for (const t of this.o.targets) this.schedule(t, 0);
  }

  count(status: WebhookDelivery['status']): number {
    return (this.o.db.prepare('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = ?').get(status) as { n: number }).n;
  }

  list(q: { status?: WebhookDelivery['status']; limit: number; before?: number }): WebhookDelivery[] {
    return this.o.db
      .prepare(
        `SELECT id, target, event_id AS eventId, status, attempts, last_error AS lastError, created_at AS createdAt,
         delivered_at AS deliveredAt, next_attempt_at AS nextAttemptAt FROM webhook_deliveries
         WHERE (@status IS NULL OR status = @status) AND (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit`,
      )
      .all({ status: q.status ?? null, before: q.before ?? null, limit: q.limit }) as WebhookDelivery[];
  }

  private schedule(target: string, delayMs: number): void {
    if (this.stopped || this.busy.has(target)) return;
    clearTimeout(this.timers.get(target));
    const timer = setTimeout(() => {
      this.drain(target).catch((err: unknown) => this.o.log.error({ err, target: redactUrl(target) }, 'webhook delivery stopped on an error; what is pending is tried again on the next transition or start'));
    }, delayMs);
    timer.unref();
    this.timers.set(target, timer);
  }

  private async drain(target: string): Promise<void> {
    this.busy.add(target);
    try {
      for (;;) {
        if (this.stopped) return;
        const row = this.o.db
          .prepare("SELECT id, body, attempts, next_attempt_at AS nextAttemptAt FROM webhook_deliveries WHERE target = ? AND status = 'pending' ORDER BY id LIMIT 1")
          .get(target) as { id: number; body: string; attempts: number; nextAttemptAt: number } | undefined;
        if (!row) return;
        const wait = row.nextAttemptAt - this.now();
        if (wait > 0) {
          this.busy.delete(target);
          return this.schedule(target, wait);
        }
        const error = await this.post(target, row.body);
        // stopped meanwhile: the database may be closed; the delivery stays pending (at least once: receivers dedupe by transition id)
        if (this.stopped) return;
        this.settle(target, row, error);
      }
    } finally {
      this.busy.delete(target);
    }
  }

  private settle(target: string, row: { id: number; attempts: number }, error: string | null): void {
    const attempts = row.attempts + 1;
    if (error === null) {
      this.o.db.prepare("UPDATE webhook_deliveries SET status = 'delivered', attempts = ?, delivered_at = ?, last_error = NULL WHERE id = ?").run(attempts, this.now(), row.id);
      return;
    }
    const { minMs, maxMs } = this.o.backoff ?? { minMs: 1000, maxMs: 300_000 };
    const failed = attempts >= (this.o.maxAttempts ?? 12);
    const next = this.now() + Math.min(maxMs, minMs * 2 ** (attempts - 1));
    this.o.db
      .prepare('UPDATE webhook_deliveries SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?')
      .run(failed ? 'failed' : 'pending', attempts, error, next, row.id);
    (failed ? this.o.log.error.bind(this.o.log) : this.o.log.warn.bind(this.o.log))({ target: redactUrl(target), deliveryId: row.id, attempts, error }, failed ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
  }

  /** null when the target took it (2xx), else why not. */
  private async post(target: string, body: string): Promise<string | null> {
    const ts = String(this.now());
    try {
      const init = {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gridpatrol-timestamp': ts, 'x-gridpatrol-signature': signature(this.o.secret, ts, body) },
        body,
      };
      return await fetchWithin(target, init, this.o.timeoutMs ?? 5000, async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        return res.ok ? null : `HTTP ${res.status}`;
      }, this.stopping.signal);
    } catch (err) {
      return (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message;
    }
  }
}

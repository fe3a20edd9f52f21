import { recordDeviceId, type StoreRecord } from '../core/records.js';
import { topics, type DeviceChannel, type DeviceKind } from '../core/topics.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { DeadLetters } from '../storage/dead-letters.js';
import type { TelemetryStore, WriteResult } from '../storage/telemetry-store.js';
import type { Spool, SpoolBatch } from './spool.js';

export interface SpoolWriterOptions {
  spool: Spool;
  store: TelemetryStore;
  deadLetters: DeadLetters;
  /** records per store write */
  batchSize: number;
  /** longest wait before a partial batch is written, counted from when its oldest record was spooled, ms */
  flushIntervalMs: number;
  log: Logger;
  metrics: Metrics;
  /** delay between retries of one batch, ms: doubles from minMs up to maxMs, with jitter (default 200 … 30 000) */
  backoff?: { minMs: number; maxMs: number };
  /** uniform in [0, 1), for the jitter */
  random?: () => number;
  /** while backing off from a store that does not answer, ping it this often and retry as soon as it does, ms (default 1000) */
  probeIntervalMs?: number;
}

type Settled = Exclude<WriteResult, { status: 'retry' }>;

const DEFAULT_BACKOFF = { minMs: 200, maxMs: 30_000 };
const TOPIC_OF: Record<Exclude<StoreRecord['type'], 'alert_transition'>, [DeviceKind, DeviceChannel]> = {
  telemetry: ['drone', 'telemetry'],
  event: ['drone', 'events'],
  reading: ['sensor', 'readings'],
};

/** The topic a dead letter names: where the record came from (an alert transition: where it goes out). */
function topicOf(r: StoreRecord): string {
  if (r.type === 'alert_transition') return topics.alerts(r.gridId, r.severity);
  const [kind, channel] = TOPIC_OF[r.type];
  return topics.device(kind, recordDeviceId(r), channel);
}

/**
 * Drains the spool into the store: one write at a time, a batch is committed only when every
 * record in it is in the store or is a dead letter. Retries (network, 429, 5xx) repeat the same
 * batch forever; a rejected batch is halved until the poison records are alone. Re-writing
 * after a crash or while bisecting is safe because store writes are idempotent by key.
 */
export class SpoolWriter {
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  /** the batch in hand; kept across failures so nothing is skipped */
  private current: SpoolBatch | undefined;
  private outage: { since: number; attempts: number; reason: string } | undefined;
  private deadLettered = 0;

  constructor(private readonly o: SpoolWriterOptions) {
    this.log = o.log.child({ component: 'spool-writer' });
  }

  /** Starts the loop; a writer runs once (start after stop does nothing). */
  start(): void {
    this.running ??= this.run();
  }

  /** Lets the store write in flight finish (and commits it if accepted), then stops. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  /** Resolves when every record appended so far is committed; rejects if the writer stops first. */
  whenDrained(): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.reject(new Error('spool writer is stopped'));
    return new Promise((resolve, reject) => {
      const onStop = (): void => reject(new Error('spool writer stopped before the spool was drained'));
      signal.addEventListener('abort', onStop, { once: true });
      this.o.spool
        .whenCommitted()
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onStop));
    });
  }

  /**
   * Set while the store keeps answering "retry" (down, 5xx, timeouts): since when (epoch ms) and
   * its last answer. A store that answers its ping can still refuse every write; readiness asks here.
   */
  get storeFailure(): { since: number; reason: string } | undefined {
    return this.outage && { since: this.outage.since, reason: this.outage.reason };
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stopped; ) {
      try {
        this.current ??= (await this.nextBatch()) ?? undefined;
        if (!this.current) continue;
        if (!(await this.deliver(this.current.records))) return;
        this.o.spool.commit(this.current.end);
        this.current = undefined;
        failures = 0;
        this.reportDeadLetters();
      } catch (err) {
        // the spool could not be read or a dead letter not saved: the batch stays in hand
        this.log.error({ err }, 'spool writer: batch failed, retrying it');
        await sleep(this.delay(failures++), this.stopping.signal);
      }
    }
  }

  /** Waits for a full batch, or for the oldest unread record to be flushIntervalMs old. */
  private async nextBatch(): Promise<SpoolBatch | null> {
    const { spool, batchSize, flushIntervalMs } = this.o;
    for (;;) {
      if (this.stopped) return null;
      if (spool.isClosed) {
        this.log.warn('spool closed under the writer; stopping');
        this.stopping.abort();
        return null;
      }
      const { records, since } = spool.backlog();
      if (records >= batchSize) break;
      const waitMs = records === 0 ? undefined : since + flushIntervalMs - Date.now();
      if (waitMs !== undefined && waitMs <= 0) break;
      await spool.waitForAppend(waitMs, this.stopping.signal);
    }
    return spool.read(batchSize);
  }

  /** True when every record is stored or dead-lettered; false when stopped before that. */
  private async deliver(batch: readonly StoreRecord[]): Promise<boolean> {
    if (batch.length === 0) return true;
    const res = await this.writeUntilSettled(batch);
    if (!res) return false;
    if (res.status === 'accepted') return true;
    if (batch.length === 1) {
      this.deadLetter(batch[0]!, res.reason);
      return true;
    }
    const half = Math.ceil(batch.length / 2);
    return (await this.deliver(batch.slice(0, half))) && (await this.deliver(batch.slice(half)));
  }

  /** Accepted or rejected; null when stopped while the store kept asking for a retry. */
  private async writeUntilSettled(batch: readonly StoreRecord[]): Promise<Settled | null> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.writeOnce(batch);
      if (res.status !== 'retry') {
        this.endOutage();
        return res;
      }
      this.beginOutage(res.reason);
      if (this.stopped) return null;
      await this.backOff(this.delay(attempt, res.retryAfterMs));
      if (this.stopped) return null;
    }
  }

  private async writeOnce(batch: readonly StoreRecord[]): Promise<WriteResult> {
    const started = performance.now();
    let res: WriteResult;
    try {
      res = await this.o.store.write(batch);
    } catch (err) {
      // adapters should answer, not throw; retrying keeps the records rather than guessing
      res = { status: 'retry', reason: err instanceof Error ? err.message : String(err) };
    }
    const m = this.o.metrics;
    m.storeWriteSeconds.observe((performance.now() - started) / 1000);
    m.storeWrites.inc({ result: res.status });
    if (res.status === 'accepted') m.storeWrittenRecords.inc(batch.length);
    return res;
  }

  /**
   * Waits out a retry delay, but not longer than the store takes to come back: after a long
   * outage the delay has grown to maxMs, and records would wait that long for nothing. Only a
   * store that did not answer its ping at the start of the wait ends it early; one that answers
   * pings but fails writes (5xx) is waited out in full, so it is not hammered.
   */
  private async backOff(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    const until = Date.now() + ms;
    const wasDown = !(await this.o.store.ping().catch(() => false));
    while (!signal.aborted && Date.now() < until) {
      await sleep(Math.min(this.o.probeIntervalMs ?? 1000, until - Date.now()), signal);
      if (wasDown && !signal.aborted && Date.now() < until && (await this.o.store.ping().catch(() => false))) return;
    }
  }

  /** Equal jitter: at least half the step so retries still back off, spread so writers do not retry in step. */
  private delay(attempt: number, retryAfterMs = 0): number {
    const { minMs, maxMs } = this.o.backoff ?? DEFAULT_BACKOFF;
    const step = Math.min(maxMs, minMs * 2 ** attempt);
    return Math.max(retryAfterMs, step / 2 + ((this.o.random ?? Math.random)() * step) / 2);
  }

  private beginOutage(reason: string): void {
    if (!this.outage) {
      this.outage = { since: Date.now(), attempts: 0, reason };
      this.log.warn({ reason, pendingRecords: this.o.spool.stats().pendingRecords }, 'store unavailable; records wait in the spool');
    }
    this.outage.attempts++;
    this.outage.reason = reason;
  }

  private endOutage(): void {
    if (!this.outage) return;
    const { since, attempts } = this.outage;
    this.outage = undefined;
    this.log.info({ outageMs: Date.now() - since, attempts, waitingRecords: this.o.spool.stats().pendingRecords }, 'store available again; draining the spool');
  }

  private deadLetter(r: StoreRecord, reason: string): void {
    const deviceId = recordDeviceId(r);
    this.o.deadLetters.add([
      { deviceId, topic: topicOf(r), stage: 'store', code: 'store_rejected', reason, payload: JSON.stringify(r), receivedAt: Date.now() },
    ]);
    this.o.metrics.deadLetters.inc({ stage: 'store' });
    this.o.metrics.recordsRefused.inc({ stage: 'store', reason: 'store_rejected' });
    this.deadLettered++;
  }

  private reportDeadLetters(): void {
    if (this.deadLettered === 0) return;
    this.log.warn({ deadLetters: this.deadLettered }, 'store rejected records; they are dead letters');
    this.deadLettered = 0;
  }
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

import { rm } from 'node:fs/promises';
import type { StoreRecord } from '../core/records.js';
import { GridPatrolError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { SegmentAppender } from './spool/appender.js';
import { segmentPath, writeCheckpoint, type Checkpoint } from './spool/files.js';
import { recover } from './spool/recover.js';
import { SegmentReader, type SpoolBatch, type SpoolPosition } from './spool/reader.js';

export type { SpoolBatch, SpoolPosition };

/** GP_ERR_SPOOL_FULL (lib/errors.ts): nothing was written; the caller refuses the publish. */
export class SpoolFullError extends GridPatrolError {
  constructor(
    readonly pendingBytes: number,
    readonly maxBytes: number,
  ) {
    super('GP_ERR_SPOOL_FULL', `${pendingBytes} of ${maxBytes} bytes are waiting for the store`, { pendingBytes, maxBytes });
    this.name = 'SpoolFullError';
  }
}

/** Appending after close: a shutdown-ordering bug, never seen by a client, so not in the catalog. */
export class SpoolClosedError extends Error {
  constructor() {
    super('spool is closed');
    this.name = 'SpoolClosedError';
  }
}

export interface SpoolOptions {
  dir: string;
  /** disk budget for records not yet in the store, bytes; at the budget appends are refused */
  maxBytes: number;
  /** fdatasync every group commit: survives power loss, not only a killed process */
  fsync: boolean;
  log: Logger;
  metrics: Metrics;
  /** a segment rolls when the next write would take it past this many bytes (default 64 MiB) */
  segmentBytes?: number;
  /** the checkpoint is saved at most this often, ms (default 1000); what a crash loses of it is replayed, idempotently */
  checkpointIntervalMs?: number;
  /** bytes the reader takes from disk at once (default 1 MiB) */
  readChunkBytes?: number;
}

export interface SpoolStats {
  /** bytes on disk not yet committed (in the store) */
  pendingBytes: number;
  pendingRecords: number;
  segments: number;
  /** at the budget: appends are refused */
  full: boolean;
  /** the last append could not be written (disk full, read-only): why, e.g. "ENOSPC: no space left on device"; appends are refused until one succeeds */
  writeError: string | undefined;
}

/** errno codes counted by name in gridpatrol_spool_write_errors_total; any other is `other` */
const WRITE_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EPERM', 'EACCES', 'EIO', 'EFBIG', 'EMFILE', 'ENFILE']);

/**
 * The one buffer between "received" and "in the store": append-only segment files on disk.
 * `append` resolves once the records are written (and fdatasync'd with `fsync`), so a QoS 1
 * PUBACK sent after it survives kill -9. The writer reads, writes to the store, then commits;
 * a restart replays everything after the last saved checkpoint.
 */
export class Spool {
  private appender!: SegmentAppender;
  private readonly reader: SegmentReader;
  /** records on disk since the replay start: the `index` space of SpoolPosition */
  private written: number;
  private committed: SpoolPosition;
  private persisted: Checkpoint;
  private pendingBytes: number;
  /** when the oldest record not yet read was written, epoch ms; 0 for records from an earlier run */
  private unreadSince = 0;
  private full = false;
  /** set while appends fail to reach the disk; cleared by the next append that does */
  private writeError: { reason: string; since: number; failures: number } | undefined;
  private closed = false;
  private cpTimer: NodeJS.Timeout | undefined;
  private cpChain: Promise<void> = Promise.resolve();
  private lastCheckpointAt = 0;
  private readonly appendWaiters = new Set<() => void>();
  private drainWaiters: Array<{ index: number; resolve: () => void; reject: (err: Error) => void }> = [];

  private constructor(
    private readonly o: SpoolOptions,
    private readonly log: Logger,
    private readonly sizes: Map<number, number>,
    start: SpoolPosition,
    records: number,
  ) {
    this.written = records;
    this.committed = start;
    this.persisted = { segment: start.segment, offset: start.offset };
    this.pendingBytes = this.bytesAfter(start);
    this.reader = new SegmentReader(o.dir, sizes, start, (at, text) => this.corrupt(at, text), o.readChunkBytes);
  }

  static async open(o: SpoolOptions): Promise<Spool> {
    const log = o.log.child({ component: 'spool' });
    const { sizes, start, records, headId } = await recover(o.dir, log);
    const spool = new Spool(o, log, sizes, start, records);
    spool.appender = await SegmentAppender.open({
      dir: o.dir,
      sizes: spool.sizes,
      headId,
      segmentBytes: o.segmentBytes ?? 64 * 1024 * 1024,
      fsync: o.fsync,
      onWritten: (bytes, n) => spool.onWritten(bytes, n),
    });
    spool.updateGauges();
    o.metrics.spoolWritable.set(1);
    log.info({ segments: spool.sizes.size, pendingRecords: records, pendingBytes: spool.pendingBytes }, 'spool opened');
    return spool;
  }

  /**
   * Resolves once the records are on disk. Rejects with SpoolFullError at the disk budget
   * (nothing is written: the caller refuses the publish) and with the I/O error if the write fails.
   */
  append(records: readonly StoreRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new SpoolClosedError());
    if (records.length === 0) return Promise.resolve();
    if (this.overBudget()) {
      this.o.metrics.spoolRefused.inc();
      this.setFull(true);
      return Promise.reject(new SpoolFullError(this.pendingBytes + this.appender.queuedBytes, this.o.maxBytes));
    }
    let text = '';
    for (const r of records) text += JSON.stringify(r) + '\n';
    return this.appender.enqueue(text, Buffer.byteLength(text), records.length).catch((err: unknown) => {
      this.onWriteFailed(err);
      throw err;
    });
  }

  /** The next records after the read cursor, from disk; null when all written records were read. Never call concurrently. */
  read(maxRecords: number): Promise<SpoolBatch | null> {
    return this.reader.read(maxRecords);
  }

  /** Everything up to `pos` is in the store. The checkpoint is saved soon after (see checkpointIntervalMs). */
  commit(pos: SpoolPosition): void {
    if (this.closed || pos.index <= this.committed.index) return;
    if (pos.index > this.reader.index) throw new Error('spool: commit past the read cursor');
    this.committed = pos;
    this.pendingBytes = this.bytesAfter(pos);
    this.updateGauges();
    this.drainWaiters = this.drainWaiters.filter((w) => (w.index <= pos.index ? (w.resolve(), false) : true));
    this.cpTimer ??= setTimeout(() => void this.flushCheckpoint(), Math.max(0, this.lastCheckpointAt + (this.o.checkpointIntervalMs ?? 1000) - Date.now()));
    this.cpTimer.unref();
  }

  /** Saves the checkpoint now and deletes the segments it covers. */
  flushCheckpoint(): Promise<void> {
    clearTimeout(this.cpTimer);
    this.cpTimer = undefined;
    this.cpChain = this.cpChain
      .then(() => this.persist())
      .catch((err: unknown) => this.log.warn({ err }, 'spool: checkpoint not saved; a restart will re-write more records (idempotent)'));
    return this.cpChain;
  }

  stats(): SpoolStats {
    return {
      pendingBytes: this.pendingBytes, pendingRecords: this.written - this.committed.index, segments: this.sizes.size,
      full: this.overBudget(), writeError: this.writeError?.reason,
    };
  }

  /** Records on disk not yet read, and when the oldest of them was written (epoch ms, 0: before this run). */
  backlog(): { records: number; since: number } {
    return { records: this.written - this.reader.index, since: this.unreadSince };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves at the next completed write, after `timeoutMs`, on abort or on close, whichever is first. */
  waitForAppend(timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.appendWaiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      this.appendWaiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Resolves when every record appended before this call (written or still queued) is committed. */
  whenCommitted(): Promise<void> {
    const index = this.written + this.appender.queuedRecords;
    if (index <= this.committed.index) return Promise.resolve();
    if (this.closed) return Promise.reject(new SpoolClosedError());
    return new Promise((resolve, reject) => this.drainWaiters.push({ index, resolve, reject }));
  }

  /** Finishes queued appends and saves the checkpoint. Stop the writer first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.appender.close();
    await this.flushCheckpoint();
    await this.reader.close();
    for (const wake of [...this.appendWaiters]) wake();
    for (const w of this.drainWaiters) w.reject(new SpoolClosedError());
    this.drainWaiters = [];
  }

  private onWritten(bytes: number, records: number): void {
    if (this.writeError) {
      const { since, failures } = this.writeError;
      this.writeError = undefined;
      this.o.metrics.spoolWritable.set(1);
      this.log.info({ failedForMs: Date.now() - since, failures }, 'spool writes again: publishes are acknowledged again');
    }
    if (this.reader.index >= this.written) this.unreadSince = Date.now();
    this.written += records;
    this.pendingBytes += bytes;
    this.updateGauges();
    for (const wake of [...this.appendWaiters]) wake();
  }

  /**
   * An append that did not reach the disk was refused (the publisher gets no PUBACK). Counted
   * each time; logged once per episode, as ERROR: a person must free space or fix the folder.
   */
  private onWriteFailed(err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    const code = typeof e?.code === 'string' && WRITE_ERROR_CODES.has(e.code) ? e.code : 'other';
    this.o.metrics.spoolWriteErrors.inc({ code });
    if (this.writeError) {
      this.writeError.failures++;
      return;
    }
    const reason = `${typeof e?.code === 'string' ? `${e.code}: ` : ''}${e instanceof Error ? e.message : String(err)}`.slice(0, 300);
    this.writeError = { reason, since: Date.now(), failures: 1 };
    this.o.metrics.spoolWritable.set(0);
    this.log.error({ err, dir: this.o.dir }, 'spool cannot write to disk: publishes are refused (no PUBACK) until it can');
  }

  private async persist(): Promise<void> {
    const cp = this.checkpointOf(this.committed);
    if (cp.segment === this.persisted.segment && cp.offset === this.persisted.offset) return;
    await writeCheckpoint(this.o.dir, cp, this.o.fsync);
    this.persisted = cp;
    this.lastCheckpointAt = Date.now();
    for (const id of [...this.sizes.keys()]) {
      if (id >= cp.segment) break;
      await rm(segmentPath(this.o.dir, id), { force: true });
      this.sizes.delete(id);
    }
  }

  /** The end of a finished segment is the start of the next: lets that segment be deleted now. */
  private checkpointOf(pos: SpoolPosition): Checkpoint {
    if (pos.segment !== this.appender.head && pos.offset === this.sizes.get(pos.segment)) {
      for (const id of this.sizes.keys()) if (id > pos.segment) return { segment: id, offset: 0 };
    }
    return { segment: pos.segment, offset: pos.offset };
  }

  private bytesAfter(pos: SpoolPosition): number {
    let bytes = -pos.offset;
    for (const [id, size] of this.sizes) if (id >= pos.segment) bytes += size;
    return bytes;
  }

  private overBudget(): boolean {
    return this.pendingBytes + (this.appender?.queuedBytes ?? 0) >= this.o.maxBytes;
  }

  private updateGauges(): void {
    this.o.metrics.spoolBytes.set(this.pendingBytes);
    this.o.metrics.spoolRecords.set(this.written - this.committed.index);
    this.setFull(this.overBudget());
  }

  private setFull(full: boolean): void {
    if (full === this.full) return;
    this.full = full;
    this.o.metrics.spoolFull.set(full ? 1 : 0);
    const fields = { pendingBytes: this.pendingBytes, maxBytes: this.o.maxBytes };
    if (full) this.log.warn(fields, 'spool is full: publishes are refused until the store catches up');
    else this.log.info(fields, 'spool has room again');
  }

  private corrupt(at: SpoolPosition, text: string): void {
    this.log.error({ segment: at.segment, offset: at.offset, text }, 'spool: skipped a line that is not JSON (disk corruption?); that record is lost');
  }
}

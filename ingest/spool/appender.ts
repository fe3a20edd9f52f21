import { open, type FileHandle } from 'node:fs/promises';
import { segmentPath, syncDir } from './files.js';

interface Pending {
  text: string;
  bytes: number;
  records: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface AppenderOptions {
  dir: string;
  /** segment id → completed bytes; the appender adds segments and grows the newest */
  sizes: Map<number, number>;
  headId: number;
  segmentBytes: number;
  fsync: boolean;
  /** called after a group is on disk, before its appends resolve */
  onWritten: (bytes: number, records: number) => void;
}

/**
 * Group commit: every append queued while the previous write runs, or within the same turn of
 * the event loop, goes to disk in one write (and one fdatasync). One promise per append call.
 */
export class SegmentAppender {
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;
  /** a failed write left bytes past this size that could not be cut yet: cut them before the next write */
  private cutTo: number | undefined;
  queuedBytes = 0;
  queuedRecords = 0;

  private constructor(
    private readonly o: AppenderOptions,
    private fh: FileHandle,
    private headId: number,
  ) {}

  static async open(o: AppenderOptions): Promise<SegmentAppender> {
    const fh = await open(segmentPath(o.dir, o.headId), 'a');
    if (!o.sizes.has(o.headId)) o.sizes.set(o.headId, 0);
    return new SegmentAppender(o, fh, o.headId);
  }

  get head(): number {
    return this.headId;
  }

  /** Resolves once `text` (whole lines) is written; rejects if the write failed. */
  enqueue(text: string, bytes: number, records: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ text, bytes, records, resolve, reject });
      this.queuedBytes += bytes;
      this.queuedRecords += records;
      // setImmediate, not a microtask: gathers the appends of every socket read in this I/O phase
      this.running ??= new Promise<void>((done) => setImmediate(done)).then(() => this.drain());
    });
  }

  /** Resolves when everything queued so far is written (or failed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    await this.idle();
    await this.fh.close();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      await this.writeGroup(group);
    }
    this.running = undefined;
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    let text = '';
    let bytes = 0;
    let records = 0;
    for (const p of group) {
      text += p.text;
      bytes += p.bytes;
      records += p.records;
    }
    try {
      await this.write(Buffer.from(text, 'utf8'));
    } catch (err) {
      for (const p of group) p.reject(err);
      return;
    } finally {
      this.queuedBytes -= bytes;
      this.queuedRecords -= records;
    }
    this.o.onWritten(bytes, records);
    for (const p of group) p.resolve();
  }

  private async write(buf: Buffer): Promise<void> {
    let size = this.o.sizes.get(this.headId) ?? 0;
    if (this.cutTo !== undefined) {
      await this.fh.truncate(this.cutTo); // still failing (read-only): this write is refused too
      this.cutTo = undefined;
    }
    if (size > 0 && size + buf.length > this.o.segmentBytes) size = await this.roll();
    try {
      for (let off = 0; off < buf.length; ) off += (await this.fh.write(buf, off, buf.length - off, null)).bytesWritten;
      if (this.o.fsync) await this.fh.datasync();
    } catch (err) {
      await this.undo(size);
      throw err;
    }
    this.o.sizes.set(this.headId, size + buf.length);
  }

  /**
   * A failed write (ENOSPC, EIO) may have left part of a group behind; the next group must not
   * be glued to it, so the file is cut back. If even that fails (the file or the file system
   * turned read-only), every later write first tries the cut again and is refused until it works:
   * the spool takes appends again once the disk does.
   */
  private async undo(size: number): Promise<void> {
    try {
      await this.fh.truncate(size);
    } catch {
      this.cutTo = size;
    }
  }

  private async roll(): Promise<number> {
    const id = this.headId + 1;
    const fh = await open(segmentPath(this.o.dir, id), 'a');
    if (this.o.fsync) await syncDir(this.o.dir);
    const old = this.fh;
    this.fh = fh;
    this.headId = id;
    this.o.sizes.set(id, 0);
    await old.close();
    return 0;
  }
}

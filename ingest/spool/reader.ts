import { open, type FileHandle } from 'node:fs/promises';
import type { StoreRecord } from '../../core/records.js';
import { segmentPath } from './files.js';

/**
 * A place in the spool: just past a record. `segment` and `offset` are what the checkpoint
 * stores; `index` counts records since the spool was opened and is only meaningful in this run.
 */
export interface SpoolPosition {
  readonly segment: number;
  readonly offset: number;
  readonly index: number;
}

export interface SpoolBatch {
  records: StoreRecord[];
  /** pass to `commit` once every record up to here is in the store */
  end: SpoolPosition;
}

const NEWLINE = 0x0a;

/**
 * Tails the segments from disk, so memory stays at one chunk however much is spooled. It reads
 * only bytes whose write has completed (`sizes`, kept by the spool), so it never sees half a
 * group commit. Never called concurrently (one writer drains the spool).
 */
export class SegmentReader {
  private fh: FileHandle | undefined;
  private buf = Buffer.alloc(0);
  /** next unparsed byte in `buf`; it sits at `offset` in `segment` */
  private pos = 0;
  private segment: number;
  private offset: number;
  index: number;

  constructor(
    private readonly dir: string,
    /** segment id → completed bytes, ids ascending (insertion order) */
    private readonly sizes: ReadonlyMap<number, number>,
    start: SpoolPosition,
    /** a line that is not JSON: logged by the spool, skipped here */
    private readonly onCorrupt: (at: SpoolPosition, text: string) => void,
    private readonly chunkBytes = 1 << 20,
  ) {
    this.segment = start.segment;
    this.offset = start.offset;
    this.index = start.index;
  }

  /** The next records after the cursor; null when there is nothing new on disk. */
  async read(maxRecords: number): Promise<SpoolBatch | null> {
    const before = { segment: this.segment, offset: this.offset, index: this.index, buf: this.buf, pos: this.pos };
    try {
      return await this.readLines(maxRecords);
    } catch (err) {
      // all or nothing: records consumed but never returned would be committed past, unwritten
      if (this.segment !== before.segment) await this.close();
      Object.assign(this, before);
      throw err;
    }
  }

  private async readLines(maxRecords: number): Promise<SpoolBatch | null> {
    const records: StoreRecord[] = [];
    const startIndex = this.index;
    while (records.length < maxRecords) {
      const line = this.nextLine();
      if (line === undefined) {
        if (await this.fill()) continue;
        break;
      }
      try {
        records.push(JSON.parse(line.toString('utf8')) as StoreRecord);
      } catch {
        this.onCorrupt(this.position(), line.toString('utf8', 0, 200));
      }
    }
    // corrupt lines move the cursor too; they must be committed past, or they would stall the spool
    return this.index === startIndex ? null : { records, end: this.position() };
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }

  private position(): SpoolPosition {
    return { segment: this.segment, offset: this.offset, index: this.index };
  }

  private nextLine(): Buffer | undefined {
    const nl = this.buf.indexOf(NEWLINE, this.pos);
    if (nl < 0) return undefined;
    const line = this.buf.subarray(this.pos, nl);
    this.offset += nl + 1 - this.pos;
    this.pos = nl + 1;
    this.index++;
    return line;
  }

  /** Reads the next chunk, or moves to the next segment; false when everything written is read. */
  private async fill(): Promise<boolean> {
    const size = this.sizes.get(this.segment) ?? 0;
    const readUpTo = this.offset + (this.buf.length - this.pos);
    if (readUpTo < size) {
      this.fh ??= await open(segmentPath(this.dir, this.segment), 'r');
      const chunk = Buffer.allocUnsafe(Math.min(this.chunkBytes, size - readUpTo));
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, readUpTo);
      if (bytesRead === 0) throw new Error(`spool segment ${this.segment} is shorter than the ${size} bytes written to it`);
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk.subarray(0, bytesRead)]);
      this.pos = 0;
      return true;
    }
    const next = this.nextSegment();
    if (next === undefined) return false;
    if (this.pos < this.buf.length) this.onCorrupt(this.position(), this.buf.toString('utf8', this.pos, this.pos + 200));
    await this.close();
    this.segment = next;
    this.offset = 0;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    return true;
  }

  private nextSegment(): number | undefined {
    for (const id of this.sizes.keys()) if (id > this.segment) return id;
    return undefined;
  }
}

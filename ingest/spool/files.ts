import { open, readdir, rename, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The spool's on-disk format. A folder of append-only segments `seg-<12 digits>.ndjson`, one
 * JSON StoreRecord per line, ids increasing forever (never reused, so a checkpoint can never
 * point into a newer file by mistake), and `checkpoint.json`: `{"segment":N,"offset":B}`,
 * the byte offset in segment N just past the last record known to be in the store.
 */
const SEGMENT_RE = /^seg-(\d{12})\.ndjson$/;
export const CHECKPOINT_FILE = 'checkpoint.json';
export const CHECKPOINT_TMP = 'checkpoint.json.tmp';
const NEWLINE = 0x0a;
const SCAN_BYTES = 1 << 20;

export interface Checkpoint {
  segment: number;
  offset: number;
}

export function segmentPath(dir: string, id: number): string {
  return join(dir, `seg-${String(id).padStart(12, '0')}.ndjson`);
}

/** Segments in the folder with their sizes, oldest first. */
export async function listSegments(dir: string): Promise<Array<{ id: number; size: number }>> {
  const ids = (await readdir(dir)).flatMap((name) => {
    const m = SEGMENT_RE.exec(name);
    return m ? [Number(m[1])] : [];
  });
  ids.sort((a, b) => a - b);
  return Promise.all(ids.map(async (id) => ({ id, size: (await stat(segmentPath(dir, id))).size })));
}

/** null when there is none; throws when it exists but cannot be understood. */
export async function readCheckpoint(dir: string): Promise<Checkpoint | null> {
  let text: string;
  try {
    const fh = await open(join(dir, CHECKPOINT_FILE), 'r');
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const cp = JSON.parse(text) as Partial<Checkpoint>;
  if (!Number.isSafeInteger(cp.segment) || !Number.isSafeInteger(cp.offset) || cp.offset! < 0) {
    throw new Error(`not a checkpoint: ${text.slice(0, 100)}`);
  }
  return { segment: cp.segment!, offset: cp.offset! };
}

/** Temp file + rename: a reader sees the old checkpoint or the new one, never half of one. */
export async function writeCheckpoint(dir: string, cp: Checkpoint, fsync: boolean): Promise<void> {
  const tmp = join(dir, CHECKPOINT_TMP);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(cp));
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, CHECKPOINT_FILE));
  if (fsync) await syncDir(dir);
}

/** Makes a created, renamed or deleted name in the folder survive power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Cuts the end of the newest segment back to its last good line and returns the new size.
 * Bytes after the last newline are a write that kill -9 interrupted; a complete last line
 * that does not parse is what a power loss without fsync can leave. Neither was ever
 * acknowledged: an append resolves only after its whole write returned.
 */
export async function repairTail(path: string): Promise<{ size: number; cutBytes: number }> {
  const fh = await open(path, 'r+');
  try {
    const size = (await fh.stat()).size;
    let end = (await lastNewline(fh, size)) + 1;
    while (end > 0) {
      const start = (await lastNewline(fh, end - 1)) + 1;
      if (parses(await readRange(fh, start, end - 1))) break;
      end = start;
    }
    if (end < size) await fh.truncate(end);
    return { size: end, cutBytes: size - end };
  } finally {
    await fh.close();
  }
}

/** Newlines in [from, end of file): the records there, since every record ends with one. */
export async function countLines(path: string, from: number): Promise<number> {
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(SCAN_BYTES);
  let lines = 0;
  try {
    for (let pos = from; ; ) {
      const { bytesRead } = await fh.read(buf, 0, SCAN_BYTES, pos);
      if (bytesRead === 0) return lines;
      const view = buf.subarray(0, bytesRead);
      for (let i = view.indexOf(NEWLINE); i >= 0; i = view.indexOf(NEWLINE, i + 1)) lines++;
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** Position of the last newline before `end`, or -1. */
async function lastNewline(fh: FileHandle, end: number): Promise<number> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (let hi = end; hi > 0; ) {
    const lo = Math.max(0, hi - buf.length);
    const { bytesRead } = await fh.read(buf, 0, hi - lo, lo);
    const i = buf.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (i >= 0) return lo + i;
    hi = lo;
  }
  return -1;
}

async function readRange(fh: FileHandle, start: number, end: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(end - start);
  const { bytesRead } = await fh.read(buf, 0, buf.length, start);
  return buf.subarray(0, bytesRead);
}

function parses(line: Buffer): boolean {
  try {
    const v: unknown = JSON.parse(line.toString('utf8'));
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
}

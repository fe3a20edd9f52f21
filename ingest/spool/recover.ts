import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { CHECKPOINT_TMP, countLines, listSegments, readCheckpoint, repairTail, segmentPath, type Checkpoint } from './files.js';
import type { SpoolPosition } from './reader.js';

export interface Recovered {
  /** segment id → bytes, ascending */
  sizes: Map<number, number>;
  /** where replay starts: the saved checkpoint, or the oldest segment */
  start: SpoolPosition;
  /** records after `start` */
  records: number;
  /** the segment appends go to */
  headId: number;
}

/**
 * Brings the folder back to a state a kill -9 or power loss may have interrupted: drops a
 * half-written tail, deletes segments an earlier checkpoint already covered, and counts what
 * is left to replay.
 */
export async function recover(dir: string, log: Logger): Promise<Recovered> {
  await mkdir(dir, { recursive: true });
  await rm(join(dir, CHECKPOINT_TMP), { force: true });
  const cp = await loadCheckpoint(dir, log);
  const segs = await listSegments(dir);
  // left behind by a crash between saving a checkpoint and deleting what it covers
  for (const s of segs.filter((s) => cp && s.id < cp.segment)) await rm(segmentPath(dir, s.id), { force: true });
  const live = segs.filter((s) => !cp || s.id >= cp.segment);
  const last = live.at(-1);
  if (last) {
    const { size, cutBytes } = await repairTail(segmentPath(dir, last.id));
    if (cutBytes > 0) log.warn({ segment: last.id, cutBytes }, 'spool: cut an unfinished write off the newest segment (it was never acknowledged)');
    last.size = size;
  }
  // ids only grow, also past a checkpoint whose segment is gone
  const headId = last?.id ?? (cp?.segment ?? 0) + 1;
  const first = live[0];
  const offset = first && cp && first.id === cp.segment ? Math.min(cp.offset, first.size) : 0;
  const start: SpoolPosition = { segment: first?.id ?? headId, offset, index: 0 };
  let records = 0;
  for (const s of live) records += await countLines(segmentPath(dir, s.id), s.id === start.segment ? offset : 0);
  return { sizes: new Map(live.map((s) => [s.id, s.size])), start, records, headId };
}

async function loadCheckpoint(dir: string, log: Logger): Promise<Checkpoint | null> {
  try {
    return await readCheckpoint(dir);
  } catch (err) {
    log.warn({ err }, 'spool: unreadable checkpoint; replaying every segment (idempotent)');
    return null;
  }
}

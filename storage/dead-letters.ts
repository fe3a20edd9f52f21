import type { MetadataDb } from './metadata-db.js';

/** Where a refusal happened: an ingest stage, the broker's limits, or the store itself. */
export type DeadLetterStage = 'decode' | 'validate' | 'normalize' | 'enrich' | 'store';

export interface DeadLetterInput {
  deviceId: string;
  topic: string;
  stage: DeadLetterStage;
  /** a short fixed code for metrics, e.g. `not_json`, `schema`, `too_large`, `ts_future` */
  code: string;
  /** words a person can act on: what is wrong and what is allowed */
  reason: string;
  /** the raw payload, cut to `maxPayloadChars` */
  payload: string;
  /** receive time, epoch ms */
  receivedAt: number;
}

export interface DeadLetter extends DeadLetterInput {
  id: number;
  /** true when the stored payload was cut */
  truncated: boolean;
}

export interface DeadLetterQuery {
  deviceId?: string;
  stage?: DeadLetterStage;
  from?: number;
  to?: number;
  /** return letters with id below this (the cursor) */
  before?: number;
  limit: number;
}

const MAX_PAYLOAD_CHARS = 4096;

/**
 * Dead letters kept in the metadata database, newest first. Bounded: the newest `maxRows` are
 * kept; every `maxRows / 10` letters (at most every 1,000) the older ones are deleted, so the
 * table holds at most `maxRows` + 10 %. How many were rotated out is kept in the database
 * (`rotatedTotal`, surviving restarts) and reported to `onRotated`, so nothing disappears unseen.
 */
export class DeadLetters {
  private readonly insert;
  private readonly trim;
  private readonly countRotated;
  private readonly trimEvery: number;
  private added = 0;
  private rotated: number;

  constructor(
    private readonly db: MetadataDb,
    private readonly maxRows = 100_000,
    private readonly onRotated: (rows: number) => void = () => {},
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      device_id TEXT NOT NULL, topic TEXT NOT NULL, stage TEXT NOT NULL, code TEXT NOT NULL,
      reason TEXT NOT NULL, payload TEXT NOT NULL, truncated INTEGER NOT NULL, received_at INTEGER NOT NULL)`);
    db.exec('CREATE INDEX IF NOT EXISTS dead_letters_device ON dead_letters(device_id, id)');
    this.insert = db.prepare(
      `INSERT INTO dead_letters (device_id, topic, stage, code, reason, payload, truncated, received_at)
       VALUES (@deviceId, @topic, @stage, @code, @reason, @payload, @truncated, @receivedAt)`,
    );
    this.trim = db.prepare('DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?');
    db.exec('CREATE TABLE IF NOT EXISTS dead_letters_rotated (one INTEGER PRIMARY KEY CHECK (one = 1), total INTEGER NOT NULL)');
    db.exec('INSERT OR IGNORE INTO dead_letters_rotated (one, total) VALUES (1, 0)');
    this.countRotated = db.prepare('UPDATE dead_letters_rotated SET total = total + ? WHERE one = 1');
    this.rotated = (db.prepare('SELECT total FROM dead_letters_rotated WHERE one = 1').get() as { total: number }).total;
    this.trimEvery = Math.max(1, Math.min(1000, Math.floor(maxRows / 10)));
  }

  /** Letters deleted by rotation since this database was created. */
  get rotatedTotal(): number {
    return this.rotated;
  }

  add(letters: readonly DeadLetterInput[]): void {
    const tx = this.db.transaction((rows: readonly DeadLetterInput[]) => {
      for (const l of rows) {
        const truncated = l.payload.length > MAX_PAYLOAD_CHARS;
        this.insert.run({ ...l, payload: truncated ? l.payload.slice(0, MAX_PAYLOAD_CHARS) : l.payload, truncated: truncated ? 1 : 0 });
      }
    });
    tx(letters);
    this.added += letters.length;
    if (this.added >= this.trimEvery) {
      this.added = 0;
      const rows = this.db.transaction(() => {
        const n = this.trim.run(this.maxRows).changes;
        if (n > 0) this.countRotated.run(n);
        return n;
      })();
      if (rows > 0) {
        this.rotated += rows;
        this.onRotated(rows);
      }
    }
  }

  list(q: DeadLetterQuery): DeadLetter[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    if (q.deviceId !== undefined) (where.push('device_id = @deviceId'), (params.deviceId = q.deviceId));
    if (q.stage !== undefined) (where.push('stage = @stage'), (params.stage = q.stage));
    if (q.from !== undefined) (where.push('received_at >= @from'), (params.from = q.from));
    if (q.to !== undefined) (where.push('received_at <= @to'), (params.to = q.to));
    if (q.before !== undefined) (where.push('id < @before'), (params.before = q.before));
    const sql = `SELECT id, device_id AS deviceId, topic, stage, code, reason, payload, truncated, received_at AS receivedAt
      FROM dead_letters ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Array<Omit<DeadLetter, 'truncated'> & { truncated: number }>).map((r) => ({ ...r, truncated: r.truncated === 1 }));
  }
}

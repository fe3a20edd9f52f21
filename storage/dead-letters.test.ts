import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeadLetters, type DeadLetterInput } from './dead-letters.js';
import { openMetadataDb } from './metadata-db.js';

const letter = (i: number): DeadLetterInput => ({ deviceId: 'd1', topic: 't', stage: 'decode', code: 'not_json', reason: `bad ${i}`, payload: '{', receivedAt: i });

describe('DeadLetters rotation', () => {
  it('keeps the newest maxRows (+10 %), counts what it rotated out, and keeps that count across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-dl-'));
    try {
      let db = openMetadataDb(join(dir, 'meta.db'));
      const reported: number[] = [];
      let dl = new DeadLetters(db, 100, (n) => reported.push(n));
      for (let i = 0; i < 1000; i++) dl.add([letter(i)]);
      const kept = dl.list({ limit: 10_000 });
      expect(kept.length).toBeGreaterThanOrEqual(100);
      expect(kept.length).toBeLessThanOrEqual(110);
      expect(kept[0]!.reason).toBe('bad 999');
      expect(dl.rotatedTotal + kept.length).toBe(1000);
      expect(reported.reduce((a, b) => a + b, 0)).toBe(dl.rotatedTotal);
      const rotated = dl.rotatedTotal;
      db.close();
      db = openMetadataDb(join(dir, 'meta.db'));
      dl = new DeadLetters(db, 100);
      expect(dl.rotatedTotal).toBe(rotated);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

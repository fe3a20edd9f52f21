import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A ULID-like id with a prefix (`al_`, `si_`): 10 characters of millisecond time, then 16 of
 * randomness (80 bits), Crockford base32 in lower case. Ids made later sort later, which keeps
 * them readable in logs; nothing relies on it for order (the tables order by time, then id).
 */
export function newId(prefix: string, nowMs: number): string {
  let time = '';
  for (let t = Math.max(0, Math.floor(nowMs)), i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  const bytes = randomBytes(10);
  let random = '';
  // 80 bits = 16 groups of 5: read the bytes as one big-endian bit string
  for (let bit = 0; bit < 80; bit += 5) {
    const byte = bit >> 3;
    const word = ((bytes[byte] ?? 0) << 8) | (bytes[byte + 1] ?? 0);
    random += CROCKFORD[(word >> (11 - (bit & 7))) & 31];
  }
  return `${prefix}_${time}${random}`;
}

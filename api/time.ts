import { parseDurationMs } from '../core/time.js';
import { GridPatrolError } from '../lib/errors.js';

/** A query time (ISO 8601 or epoch ms) as epoch ms. */
export function queryTimeMs(t: string | number | undefined, fallback: number): number {
  if (t === undefined) return fallback;
  return typeof t === 'number' ? t : Date.parse(t);
}

/** `from`/`to` with defaults, checked for order and span. */
export function timeRange(q: { from?: string | number; to?: string | number }, now: number, defaultSpanMs: number, maxSpanMs = 366 * 24 * 3600_000) {
  const to = queryTimeMs(q.to, now);
  const from = queryTimeMs(q.from, to - defaultSpanMs);
  if (from > to) throw new GridPatrolError('GP_ERR_QUERY_RANGE', `from (${new Date(from).toISOString()}) is after to (${new Date(to).toISOString()})`);
  if (to - from > maxSpanMs) throw new GridPatrolError('GP_ERR_QUERY_RANGE', `the range is longer than ${Math.round(maxSpanMs / 86_400_000)} days; ask for a shorter one`);
  return { from, to };
}

/** "5m" → 300000 */
export function durationMs(s: string): number {
  const ms = parseDurationMs(s);
  if (ms === null) throw new GridPatrolError('GP_ERR_API_VALIDATION', `"${s}" is not a duration such as 30s, 5m, 1h`);
  return ms;
}

export const iso = (ms: number | undefined | null) => (ms === undefined || ms === null ? null : new Date(ms).toISOString());

/** A store read; a store that does not answer becomes a 503 the caller can act on (retry later). */
export async function readStore<T>(kind: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new GridPatrolError('GP_ERR_STORE_UNAVAILABLE', `the ${kind} store did not answer (${(err as Error).message}); try again shortly`);
  }
}

/** Reads GridPatrol's /metrics (Prometheus text) the way a scraper would. */
export async function scrape(httpPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  return res.text();
}

/** The sum of a metric's samples whose labels include all of `labels` (0 when there are none). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Scale of the reliability tests: `npm test` runs them small, `npm run test:faults` at the size. */
export const FAULTS = process.env.GRIDPATROL_FAULTS === '1';

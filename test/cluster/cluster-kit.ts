import { expect } from 'vitest';
import { eventually, type Http } from '../helpers/gridpatrol.js';
import type { Replay } from '../helpers/scenario-replay.js';

export { CLUSTER_RULES, CLUSTER_SCENARIO } from './scenario.js';

/** Every alert with its whole audit trail, as a sorted list of lines: what two runs must agree on. */
export async function alertSummary(h: Http): Promise<string[]> {
  const alerts: Array<{ id: string; ruleId: string; entityId: string; state: string }> = [];
  for (let cursor: string | null = ''; cursor !== null;) {
    const r = await h('GET', `/api/v1/alerts?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(r.status).toBe(200);
    alerts.push(...r.json.items);
    cursor = r.json.next;
  }
  const lines: string[] = [];
  for (const a of alerts) {
    const hist = await h('GET', `/api/v1/alerts/${a.id}/history`);
    const kinds = (hist.json.items as Array<{ kind: string }>).map((t) => t.kind).join(',');
    lines.push(`${a.ruleId} ${a.entityId} ${a.state} [${kinds}]`);
  }
  return lines.sort();
}

/** Points per device in one InfluxDB database: telemetry by drone, readings by sensor, and how many distinct seqs. */
export async function storedPerDevice(influxUrl: string, db: string): Promise<Map<string, { points: number; seqs: number }>> {
  const out = new Map<string, { points: number; seqs: number }>();
  for (const [m, tag] of [['drone_telemetry', 'drone_id'], ['sensor_reading', 'sensor_id']] as const) {
    // distinct seqs, then points (asked second, so that writes landing meanwhile cannot make points < seqs):
    // a seq stored twice (under two times) shows as points > seqs
    for (const [field, expr] of [['seqs', 'COUNT(DISTINCT(seq))'], ['points', 'COUNT(seq)']] as const) {
      const res = await fetch(`${influxUrl}/query?db=${db}&q=${encodeURIComponent(`SELECT ${expr} FROM ${m} GROUP BY ${tag}`)}`);
      const body = (await res.json()) as { results: Array<{ error?: string; series?: Array<{ tags: Record<string, string>; values: Array<[unknown, number]> }> }> };
      const r = body.results[0]!;
      if (r.error && !/database not found/.test(r.error)) throw new Error(r.error);
      for (const s of r.series ?? []) {
        const id = s.tags[tag]!;
        const row = out.get(id) ?? { points: 0, seqs: 0 };
        row[field] = Number(s.values[0]![1]);
        out.set(id, row);
      }
    }
  }
  return out;
}

/** Waits until every expected record is in the database; then what is stored per device. */
export async function waitForStored(influxUrl: string, db: string, r: Replay, timeoutMs = 60_000) {
  return eventually(async () => {
    const stored = await storedPerDevice(influxUrl, db);
    for (const [id, seqs] of r.expected) if ((stored.get(id)?.seqs ?? 0) < seqs.size || (stored.get(id)?.points ?? 0) < seqs.size) return false;
    return stored;
  }, timeoutMs, 250);
}

/** What the replay must leave in the store, per device, in the shape storedPerDevice answers. */
export function expectedPerDevice(r: Replay): Map<string, { points: number; seqs: number }> {
  return new Map([...r.expected].map(([id, s]) => [id, { points: s.size, seqs: s.size }]));
}

import { eventually } from './gridpatrol.js';
import type { StoreProbe } from './stores.js';

/** The seq of every point stored for a drone (one row per point: the store keeps one per key). */
export async function storedSeqs(probe: StoreProbe, droneId: string): Promise<number[]> {
  if (probe.name === 'sqlite') return (await probe.rows('drone_telemetry', `drone_id = '${droneId}'`)).map((r) => Number(r.seq));
  // only the seq column: a full-size run stores over a million points
  const res = await fetch(`${probe.influxd!.url}/query?db=gridpatrol&q=${encodeURIComponent(`SELECT seq FROM drone_telemetry WHERE drone_id = '${droneId}'`)}`);
  const body = (await res.json()) as { results: Array<{ error?: string; series?: Array<{ values: Array<[unknown, number]> }> }> };
  const r = body.results[0]!;
  if (r.error) throw new Error(r.error);
  return (r.series ?? []).flatMap((s) => s.values.map((v) => Number(v[1])));
}

export interface Landed {
  points: number;
  distinct: number;
  /** acknowledged but not stored */
  missing: number[];
  /** stored but never handed to the client (seq at or past `sentBelow`): must not exist */
  foreign: number[];
  /** stored, sent, but without a PUBACK seen (in flight at a kill or a refusal: MQTT redelivers those) */
  unacked: number;
}

/** Waits until every acknowledged seq of the drone is stored, then says what landed. */
export async function waitForLanded(probe: StoreProbe, droneId: string, acked: ReadonlySet<number>, sentBelow: number, timeoutMs = 120_000): Promise<Landed> {
  const seqs = await eventually(async () => {
    const s = await storedSeqs(probe, droneId);
    const have = new Set(s);
    for (const a of acked) if (!have.has(a)) return false;
    return s;
  }, timeoutMs, 500).catch(async () => storedSeqs(probe, droneId));
  const have = new Set(seqs);
  return {
    points: seqs.length,
    distinct: have.size,
    missing: [...acked].filter((a) => !have.has(a)),
    foreign: seqs.filter((s) => s >= sentBelow),
    unacked: [...have].filter((s) => !acked.has(s)).length,
  };
}

import mqtt from 'mqtt';
import { loadGrids } from '../../lib/grids.js';
import { parseScenario } from '../../simulators/scenario/load.js';
import type { Emission } from '../../simulators/world/types.js';
import { World } from '../../simulators/world/world.js';
import { registerDevice, type Http } from './gridpatrol.js';

export type Publish = Extract<Emission, { type: 'publish' }>;

export interface Replay {
  devices: Array<{ id: string; kind: 'drone' | 'sensor'; gridId: string }>;
  /** every publish of the run, in world order */
  publishes: Publish[];
  /** the records the store must hold: per device id, the distinct seqs of its valid telemetry or readings */
  expected: Map<string, Set<number>>;
}

/**
 * A simulator scenario flown offline, as fast as it goes (simulators/world): the same YAML and
 * start give byte-identical publishes, so two GridPatrol deployments can be fed the same stream.
 * `startMs` should be a little in the past, so that every device time is plausible.
 */
export function scenarioReplay(yaml: string, startMs: number): Replay {
  const grids = loadGrids();
  const s = parseScenario(yaml, 'replay.yaml', { grids });
  const world = new World({ spec: s.spec, grids, startMs });
  const all: Emission[] = [...world.start()];
  while (!world.done) all.push(...world.step());
  all.push(...world.finish());
  const publishes = all.filter((e): e is Publish => e.type === 'publish');
  const expected = new Map<string, Set<number>>();
  for (const p of publishes) {
    if (!p.valid || (p.channel !== 'telemetry' && p.channel !== 'readings')) continue;
    const items = JSON.parse(p.payload) as { seq?: number } | Array<{ seq?: number }>;
    const set = expected.get(p.device) ?? new Set<number>();
    for (const item of Array.isArray(items) ? items : [items]) if (item.seq !== undefined) set.add(item.seq);
    expected.set(p.device, set);
  }
  const devices = [
    ...s.spec.drones.map((d) => ({ id: d.id, kind: 'drone' as const, gridId: d.cellId })),
    ...s.spec.sensors.map((d) => ({ id: d.id, kind: 'sensor' as const, gridId: d.cellId })),
  ];
  return { devices, publishes, expected };
}

/** Registers every device of the replay through the API; their MQTT passwords by id. */
export async function registerReplayDevices(h: Http, r: Replay): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const d of r.devices) out.set(d.id, await registerDevice(h, d.id, d.kind, d.gridId));
  return out;
}

/**
 * Publishes the replay at QoS 1, each device over its own connection in world order (devices in
 * parallel). `onProgress(n)` is called after every acknowledged publish (n: how many so far), so
 * a test can act mid-run. Resolves when every publish was acknowledged by the broker.
 */
export async function publishReplay(url: string, r: Replay, o: { passwords?: Map<string, string>; onProgress?: (acked: number) => void | Promise<void> } = {}): Promise<number> {
  const byDevice = new Map<string, Publish[]>();
  for (const p of r.publishes) byDevice.set(p.device, [...(byDevice.get(p.device) ?? []), p]);
  let acked = 0;
  await Promise.all([...byDevice].map(async ([id, list]) => {
    const client = mqtt.connect(url, { clientId: `replay-${id}`, username: id, password: o.passwords?.get(id) ?? 'anonymous', reconnectPeriod: 0, connectTimeout: 10_000 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    try {
      // a window of publishes in flight, in order: MQTT keeps one connection's messages in order
      const WINDOW = 20;
      let next = 0;
      const lane = async () => {
        while (next < list.length) {
          const p = list[next++]!;
          await client.publishAsync(p.topic, p.payload, { qos: 1, retain: p.retain });
          acked++;
          await o.onProgress?.(acked);
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, lane));
    } finally {
      await client.endAsync();
    }
  }));
  return acked;
}

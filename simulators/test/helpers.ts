import type { DroneTelemetry } from '../../core/telemetry.js';
import { loadGrids } from '../../lib/grids.js';
import { parseScenario, type LoadedScenario } from '../scenario/load.js';
import type { Emission } from '../world/types.js';
import { World } from '../world/world.js';

export const grids = loadGrids();
/** a fixed simulated start: 08:00 in the county */
export const START = Date.parse('2026-06-01T08:00:00+08:00');

export function scenario(yaml: string, o: Parameters<typeof parseScenario>[2] = {}): LoadedScenario {
  return parseScenario(yaml, 'test.yaml', { grids, ...o });
}

export function world(s: LoadedScenario, stepMs = 100): World {
  return new World({ spec: s.spec, grids, startMs: s.startMs ?? START, stepMs });
}

export type Publish = Extract<Emission, { type: 'publish' }>;

/** every emission of a whole run, start to finish */
export function runAll(w: World, each?: (e: Emission[], w: World) => void): Emission[] {
  const out = [...w.start()];
  while (!w.done) {
    const es = w.step();
    each?.(es, w);
    out.push(...es);
  }
  out.push(...w.finish());
  return out;
}

export function telemetryOf(es: readonly Emission[], device?: string): DroneTelemetry[] {
  return es
    .filter((e): e is Publish => e.type === 'publish' && e.channel === 'telemetry' && e.valid && (!device || e.device === device))
    .flatMap((e) => {
      const p = JSON.parse(e.payload) as DroneTelemetry | DroneTelemetry[];
      return Array.isArray(p) ? p : [p];
    });
}

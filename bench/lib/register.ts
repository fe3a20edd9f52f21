import type { LoadDevice } from '../../simulators/load.js';
import { registerDevice, type Http } from '../../test/helpers/gridpatrol.js';

/** Registers `n` drones `<prefix>-001`, `<prefix>-002`, … over the API, 8 requests at a time; their ids and passwords. */
export async function registerDrones(h: Http, prefix: string, n: number): Promise<LoadDevice[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
  const out: LoadDevice[] = [];
  for (let i = 0; i < ids.length; i += 8) {
    const chunk = ids.slice(i, i + 8);
    const passwords = await Promise.all(chunk.map((id) => registerDevice(h, id, 'drone')));
    chunk.forEach((id, k) => out.push({ id, password: passwords[k]! }));
  }
  return out;
}

import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

type Generator = ReturnType<typeof xoroshiro128plus>;

/** FNV-1a: a stable 32-bit hash of a name, to derive one entity's seed from the run's seed. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** murmur3's finaliser: nearby seeds (1, 2, 3 …) become unrelated 32-bit states */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

/** xoroshiro128+ seeded from 32 bits starts weak: its first outputs are dropped */
const WARM_UP = 16;

/**
 * Every random draw of the simulators goes through one of these (pure-rand's xoroshiro128+), so
 * a seed fixes every message. Each entity (a drone, a sensor, the wind, the fault injector) owns
 * a stream derived from the run's seed and its name: adding a sensor does not change how a drone
 * flies.
 */
export class Rng {
  private spare: number | undefined;

  private constructor(private readonly g: Generator) {}

  static seeded(seed: number): Rng {
    const g = xoroshiro128plus(mix32(seed | 0));
    for (let i = 0; i < WARM_UP; i++) g.next();
    return new Rng(g);
  }

  static forEntity(seed: number, name: string): Rng {
    return Rng.seeded(hash32(`${seed}/${name}`));
  }

  /** uniform in [0, 1) */
  float(): number {
    return uniformFloat64(this.g);
  }

  /** uniform in [min, max) */
  range(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** uniform integer in [min, max], both included */
  int(min: number, max: number): number {
    return uniformInt(this.g, min, max);
  }

  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** normal distribution (Box-Muller; the second value of each pair is kept for the next call) */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + sd * z;
    }
    const u = 1 - this.float(); // (0, 1]: log(0) is -Infinity
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }
}

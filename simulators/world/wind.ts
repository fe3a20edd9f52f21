import { fromBearing, scale, type Vec } from '../lib/geo.js';
import type { Rng } from '../lib/rng.js';

export interface WindSettings {
  /** mean speed, m/s */
  speedMs: number;
  /** where it blows from, degrees (meteorological: 270 is a west wind) */
  fromDeg: number;
  /** standard deviation of the gusts around the mean, m/s */
  gustMs: number;
}

const GUST_TIME_CONSTANT_S = 8;

/** One wind over the county: a mean vector plus gusts (an Ornstein-Uhlenbeck process per axis). */
export class Wind {
  private readonly mean: Vec;
  private gust: Vec = { x: 0, y: 0 };

  constructor(
    readonly settings: WindSettings,
    private readonly rng: Rng,
  ) {
    this.mean = scale(fromBearing(settings.fromDeg + 180), settings.speedMs);
  }

  step(dtS: number): void {
    const a = Math.exp(-dtS / GUST_TIME_CONSTANT_S);
    const sd = this.settings.gustMs * Math.sqrt(1 - a * a);
    this.gust = { x: this.gust.x * a + this.rng.normal(0, sd), y: this.gust.y * a + this.rng.normal(0, sd) };
  }

  /** the air's velocity over the ground, m/s */
  get velocity(): Vec {
    return { x: this.mean.x + this.gust.x, y: this.mean.y + this.gust.y };
  }
}

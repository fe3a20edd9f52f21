import type { SensorReading } from '../../core/telemetry.js';
import type { Vec } from '../lib/geo.js';
import type { Rng } from '../lib/rng.js';
import type { Incident, SensorMetric } from './incidents.js';

/** County local time is UTC+8 (Henan): the daily cycles follow the sun there. */
const LOCAL_UTC_OFFSET_H = 8;

interface MetricModel {
  unit: string;
  /** baseline drawn once per sensor, uniform in [min, max] */
  base: [number, number];
  /** daily swing (half peak-to-peak) and the local hour of its peak */
  daily: number;
  peakHour: number;
  /** measurement noise, standard deviation */
  noise: number;
  decimals: number;
  min: number;
  max: number;
}

export const METRICS: Record<SensorMetric, MetricModel> = {
  smoke: { unit: '%/m', base: [0.02, 0.06], daily: 0.01, peakHour: 19, noise: 0.004, decimals: 3, min: 0, max: 100 },
  gas: { unit: 'ppm', base: [0.5, 2], daily: 0.4, peakHour: 8, noise: 0.1, decimals: 2, min: 0, max: 10_000 },
  water_level: { unit: 'm', base: [0.8, 2.2], daily: 0.03, peakHour: 4, noise: 0.004, decimals: 3, min: 0, max: 50 },
  temperature: { unit: '°C', base: [14, 18], daily: 6, peakHour: 15, noise: 0.15, decimals: 1, min: -50, max: 80 },
  humidity: { unit: '%', base: [55, 75], daily: -15, peakHour: 15, noise: 1, decimals: 1, min: 0, max: 100 },
  pm25: { unit: 'µg/m³', base: [20, 45], daily: 10, peakHour: 8, noise: 2, decimals: 1, min: 0, max: 5000 },
  noise: { unit: 'dB', base: [38, 46], daily: 8, peakHour: 14, noise: 1.2, decimals: 1, min: 20, max: 140 },
};

/** floods recede at this fraction of their rise rate once they end */
const RECEDE_FACTOR = 0.5;
/** m/h at which a flooded sensor's water falls back without a rise rate to go by */
const RECEDE_MIN_M_PER_H = 0.1;

export interface SensorSettings {
  id: string;
  metric: SensorMetric;
  position: Vec;
  intervalMs: number;
}

/**
 * A fixed sensor: a baseline drawn once, a daily cycle, noise, and what nearby incidents do to
 * it. Always draws the same number of random values per reading, so incidents elsewhere in a
 * scenario do not shift its noise.
 */
export class SensorSim {
  readonly baseline: number;
  seq: number;
  /** metres of flood water above the baseline */
  private flood = 0;
  private floodRecedeMPerS = 0;
  private lastValue: number | null = null;
  /** epoch ms until which it publishes nothing (sensorSilent) */
  silentUntil = -Infinity;
  /** epoch ms until which it repeats its last value (sensorStuck) */
  stuckUntil = -Infinity;

  constructor(
    readonly s: SensorSettings,
    private readonly rng: Rng,
    seqStart: number,
  ) {
    const m = METRICS[s.metric];
    this.baseline = rng.range(m.base[0], m.base[1]);
    this.seq = seqStart;
  }

  get id(): string {
    return this.s.id;
  }

  /** integrates what changes with time (flood water); called every step */
  step(t: number, dtS: number, incidents: readonly Incident[]): void {
    if (this.s.metric !== 'water_level') return;
    let rise = 0;
    for (const inc of incidents) rise += inc.floodRiseMPerS(this.s.position, t);
    if (rise > 0) {
      this.flood += rise * dtS;
      this.floodRecedeMPerS = Math.max(this.floodRecedeMPerS, rise * RECEDE_FACTOR);
    } else if (this.flood > 0) {
      this.flood = Math.max(0, this.flood - Math.max(this.floodRecedeMPerS, RECEDE_MIN_M_PER_H / 3600) * dtS);
    }
  }

  /** the true value at `t`, before noise */
  trueValue(t: number, incidents: readonly Incident[], windVel: Vec): number {
    const m = METRICS[this.s.metric];
    const hour = (((t / 3_600_000 + LOCAL_UTC_OFFSET_H) % 24) + 24) % 24;
    let v = this.baseline + m.daily * Math.cos((2 * Math.PI * (hour - m.peakHour)) / 24);
    for (const inc of incidents) v += inc.effect(this.s.metric, this.s.position, t, windVel);
    if (this.s.metric === 'water_level') v += this.flood;
    return v;
  }

  /** the reading due at `t` (consumes a seq), or null while silent */
  read(t: number, incidents: readonly Incident[], windVel: Vec): SensorReading | null {
    const m = METRICS[this.s.metric];
    const noise = this.rng.normal(0, m.noise);
    if (t < this.silentUntil) return null;
    let value: number;
    if (t < this.stuckUntil && this.lastValue !== null) value = this.lastValue;
    else {
      const f = 10 ** m.decimals;
      value = Math.round(Math.min(m.max, Math.max(m.min, this.trueValue(t, incidents, windVel) + noise)) * f) / f;
    }
    this.lastValue = value;
    return { ts: t, seq: this.seq++, metric: this.s.metric, value, unit: m.unit };
  }
}

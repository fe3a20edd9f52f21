import type { DetectionKind } from '../../core/telemetry.js';
import { dist, type Vec } from '../lib/geo.js';

export type SensorMetric = 'smoke' | 'gas' | 'water_level' | 'temperature' | 'humidity' | 'pm25' | 'noise';

/** Per kind: what a camera sees of it (radius, m), how far it reaches sensors (m), how fast it grows (s). */
export const INCIDENT_DEFAULTS: Record<DetectionKind, { sizeM: number; radiusM: number; rampS: number }> = {
  fire: { sizeM: 30, radiusM: 800, rampS: 180 },
  smoke: { sizeM: 60, radiusM: 600, rampS: 120 },
  flood: { sizeM: 250, radiusM: 600, rampS: 60 },
  crowd: { sizeM: 40, radiusM: 300, rampS: 120 },
  intrusion: { sizeM: 10, radiusM: 100, rampS: 10 },
  accident: { sizeM: 20, radiusM: 300, rampS: 5 },
  dumping: { sizeM: 15, radiusM: 200, rampS: 30 },
  other: { sizeM: 20, radiusM: 200, rampS: 30 },
};

/**
 * What an incident at full intensity adds to a reading right at it (per metric), falling off
 * with distance as exp(-(d/r)^2), r a fraction of the incident's radius. Water is not here: a
 * flood raises water level at a rate (see `floodRiseMPerS`), it does not add a fixed amount.
 */
const EFFECTS: Partial<Record<DetectionKind, Partial<Record<SensorMetric, { peak: number; reach: number }>>>> = {
  fire: { smoke: { peak: 12, reach: 1 }, temperature: { peak: 30, reach: 0.5 }, pm25: { peak: 600, reach: 1 }, gas: { peak: 40, reach: 0.7 }, humidity: { peak: -20, reach: 0.5 } },
  smoke: { smoke: { peak: 6, reach: 1 }, pm25: { peak: 300, reach: 1 }, gas: { peak: 10, reach: 0.6 } },
  crowd: { noise: { peak: 22, reach: 1 } },
  accident: { noise: { peak: 15, reach: 1 }, gas: { peak: 8, reach: 0.5 } },
  dumping: { gas: { peak: 6, reach: 1 }, pm25: { peak: 40, reach: 0.6 } },
  intrusion: { noise: { peak: 6, reach: 1 } },
};

export interface IncidentSpec {
  id: string;
  kind: DetectionKind;
  position: Vec;
  startMs: number;
  endMs: number | null;
  sizeM: number;
  radiusM: number;
  rampS: number;
  intensity: number;
  /** floods: how fast the water rises at the centre while it lasts, m/h */
  riseMPerH: number;
}

/** An incident in the world: grows over its ramp, fades the same way after it ends. */
export class Incident {
  constructor(readonly spec: IncidentSpec) {}

  get id(): string {
    return this.spec.id;
  }

  /** 0 … `intensity` at epoch ms `t` */
  intensityAt(t: number): number {
    const s = this.spec;
    if (t < s.startMs) return 0;
    const rampMs = Math.max(1, s.rampS * 1000);
    const up = Math.min(1, (t - s.startMs) / rampMs);
    const down = s.endMs === null || t <= s.endMs ? 1 : Math.max(0, 1 - (t - s.endMs) / rampMs);
    return s.intensity * Math.min(up, down);
  }

  /** visible to a camera: started and not yet over */
  visibleAt(t: number): boolean {
    return t >= this.spec.startMs && (this.spec.endMs === null || t < this.spec.endMs);
  }

  /** where its plume is centred: carried downwind by up to half its radius */
  private plumeCentre(windVel: Vec): Vec {
    const shift = Math.min(this.spec.radiusM / 2, Math.hypot(windVel.x, windVel.y) * 30);
    const speed = Math.hypot(windVel.x, windVel.y);
    return speed > 0 ? { x: this.spec.position.x + (windVel.x / speed) * shift, y: this.spec.position.y + (windVel.y / speed) * shift } : this.spec.position;
  }

  /** what it adds to a reading of `metric` at `p` and time `t` */
  effect(metric: SensorMetric, p: Vec, t: number, windVel: Vec): number {
    const e = EFFECTS[this.spec.kind]?.[metric];
    if (!e) return 0;
    const i = this.intensityAt(t);
    if (i === 0) return 0;
    const r = this.spec.radiusM * e.reach;
    const d = dist(p, this.plumeCentre(windVel));
    return e.peak * i * Math.exp(-((d / r) ** 2));
  }

  /** a flood's rise of the water at `p`, metres per second (0 for other kinds and once it is over) */
  floodRiseMPerS(p: Vec, t: number): number {
    if (this.spec.kind !== 'flood' || !this.visibleAt(t)) return 0;
    const d = dist(p, this.spec.position);
    return (this.spec.riseMPerH / 3600) * this.spec.intensity * Math.exp(-((d / this.spec.radiusM) ** 2));
  }
}

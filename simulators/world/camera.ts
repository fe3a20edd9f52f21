import type { DetectionKind } from '../../core/telemetry.js';
import { fromBearing, sub, type Vec } from '../lib/geo.js';

export interface CameraSettings {
  /** across-track field of view, degrees */
  hfovDeg: number;
  /** along-track field of view, degrees */
  vfovDeg: number;
}

/** The ground rectangle a nadir camera sees: centred under the drone, turned with its heading. */
export interface Footprint {
  centre: Vec;
  headingDeg: number;
  /** half the width across track, metres */
  halfWidthM: number;
  /** half the length along track, metres */
  halfLengthM: number;
}

/** Lowest altitude at which the camera is of use (taking off, landing: nothing is reported). */
export const MIN_DETECTION_ALT_M = 20;

/** How sure a detector is of each kind at best: fire is unmistakable, dumping is not. */
const BEST_CONFIDENCE: Record<DetectionKind, number> = {
  fire: 0.97, smoke: 0.92, flood: 0.94, crowd: 0.88, intrusion: 0.85, accident: 0.9, dumping: 0.82, other: 0.7,
};

export function footprint(centre: Vec, altitudeM: number, headingDeg: number, cam: CameraSettings): Footprint {
  const rad = Math.PI / 180;
  return {
    centre, headingDeg,
    halfWidthM: Math.max(0, altitudeM) * Math.tan((cam.hfovDeg / 2) * rad),
    halfLengthM: Math.max(0, altitudeM) * Math.tan((cam.vfovDeg / 2) * rad),
  };
}

/** where a ground point lies in the footprint's frame: metres along and across the track */
function inFrame(f: Footprint, p: Vec): { along: number; across: number } {
  const d = sub(p, f.centre);
  const fwd = fromBearing(f.headingDeg);
  return { along: d.x * fwd.x + d.y * fwd.y, across: d.x * fwd.y - d.y * fwd.x };
}

/** True when any part of an incident (a disc of `radiusM`) is in the picture. */
export function sees(f: Footprint, p: Vec, radiusM: number): boolean {
  if (f.halfWidthM <= 0) return false;
  const { along, across } = inFrame(f, p);
  return Math.abs(along) <= f.halfLengthM + radiusM && Math.abs(across) <= f.halfWidthM + radiusM;
}

/**
 * Confidence of a detection: the best for the kind near the centre of the picture, down to about
 * half of it at the corners (smaller, slanted, vignetted), and a little lower from higher up.
 * `noise` is a draw added by the caller's random stream. Null when the incident is not in view.
 */
export function detectionConfidence(f: Footprint, p: Vec, radiusM: number, altitudeM: number, kind: DetectionKind, noise: number): number | null {
  if (altitudeM < MIN_DETECTION_ALT_M || !sees(f, p, radiusM)) return null;
  const { along, across } = inFrame(f, p);
  const reach = Math.hypot(f.halfLengthM + radiusM, f.halfWidthM + radiusM);
  const off = Math.min(1, Math.hypot(along, across) / reach);
  const position = 1 - 0.5 * off * off;
  const height = 1 - 0.15 * Math.min(1, Math.max(0, (altitudeM - 50) / 150));
  const c = BEST_CONFIDENCE[kind] * position * height + noise;
  return Math.round(Math.min(0.99, Math.max(0.05, c)) * 100) / 100;
}

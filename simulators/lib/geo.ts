import type { GridFeature } from '../../core/grids.js';

/** A point or a vector on the local plane: metres east (x) and north (y) of the frame's origin. */
export interface Vec {
  x: number;
  y: number;
}

export type Polygon = readonly Vec[];

export interface LatLon {
  lat: number;
  lon: number;
}

/** metres per degree of latitude (and of longitude at the equator) */
const METRES_PER_DEG = 111_320;
const RAD = Math.PI / 180;

/**
 * An equirectangular projection around one origin: an affine map of (lon, lat), so straight
 * lines and point-in-polygon answers are the same on the plane as in degrees (what GridPatrol's
 * grid index decides), and distances are right to a fraction of a percent across a county.
 */
export class LocalFrame {
  private readonly kx: number;

  constructor(readonly origin: LatLon) {
    this.kx = METRES_PER_DEG * Math.cos(origin.lat * RAD);
  }

  toLocal(p: LatLon): Vec {
    return { x: (p.lon - this.origin.lon) * this.kx, y: (p.lat - this.origin.lat) * METRES_PER_DEG };
  }

  toLatLon(v: Vec): LatLon {
    return { lat: this.origin.lat + v.y / METRES_PER_DEG, lon: this.origin.lon + v.x / this.kx };
  }

  /** the outer ring of a (Multi)Polygon feature (the first polygon's), without the closing point */
  ring(feature: GridFeature): Vec[] {
    const g = feature.geometry;
    const outer = g.type === 'Polygon' ? g.coordinates[0]! : g.coordinates[0]![0]!;
    const pts = outer.map(([lon, lat]) => this.toLocal({ lat: lat!, lon: lon! }));
    const first = pts[0]!;
    const last = pts[pts.length - 1]!;
    if (pts.length > 1 && first.x === last.x && first.y === last.y) pts.pop();
    return pts;
  }
}

export const vec = (x: number, y: number): Vec => ({ x, y });
export const add = (a: Vec, b: Vec): Vec => ({ x: a.x + b.x, y: a.y + b.y });
export const sub = (a: Vec, b: Vec): Vec => ({ x: a.x - b.x, y: a.y - b.y });
export const scale = (a: Vec, k: number): Vec => ({ x: a.x * k, y: a.y * k });
export const len = (a: Vec): number => Math.hypot(a.x, a.y);
export const dist = (a: Vec, b: Vec): number => Math.hypot(a.x - b.x, a.y - b.y);

export function unit(a: Vec): Vec {
  const l = len(a);
  return l > 0 ? { x: a.x / l, y: a.y / l } : { x: 0, y: 0 };
}

/** compass bearing of a vector, degrees clockwise from north, in [0, 360) */
export function bearingDeg(v: Vec): number {
  const b = Math.atan2(v.x, v.y) / RAD;
  return b < 0 ? b + 360 : b;
}

/** the unit vector of a compass bearing */
export function fromBearing(deg: number): Vec {
  return { x: Math.sin(deg * RAD), y: Math.cos(deg * RAD) };
}

/** the signed smallest turn from `from` to `to`, degrees in (-180, 180] */
export function turnDeg(from: number, to: number): number {
  let d = (to - from) % 360;
  if (d > 180) d -= 360;
  if (d <= -180) d += 360;
  return d;
}

export function pointInPolygon(p: Vec, poly: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i]!;
    const b = poly[j]!;
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

export function distToSegment(p: Vec, a: Vec, b: Vec): number {
  const ab = sub(b, a);
  const l2 = ab.x * ab.x + ab.y * ab.y;
  const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * ab.x + (p.y - a.y) * ab.y) / l2));
  return dist(p, { x: a.x + t * ab.x, y: a.y + t * ab.y });
}

/** distance from a point to a polygon's boundary */
export function distToBoundary(p: Vec, poly: Polygon): number {
  let best = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) best = Math.min(best, distToSegment(p, poly[j]!, poly[i]!));
  return best;
}

export interface Box {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export function bbox(poly: Polygon): Box {
  const b = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  for (const p of poly) {
    b.minX = Math.min(b.minX, p.x);
    b.maxX = Math.max(b.maxX, p.x);
    b.minY = Math.min(b.minY, p.y);
    b.maxY = Math.max(b.maxY, p.y);
  }
  return b;
}

/** area-weighted centroid */
export function centroid(poly: Polygon): Vec {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const p = poly[j]!;
    const q = poly[i]!;
    const cross = p.x * q.y - q.x * p.y;
    a += cross;
    cx += (p.x + q.x) * cross;
    cy += (p.y + q.y) * cross;
  }
  if (a === 0) return poly[0] ?? { x: 0, y: 0 };
  return { x: cx / (3 * a), y: cy / (3 * a) };
}

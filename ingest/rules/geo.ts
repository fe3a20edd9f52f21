import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import type { LatLon } from '../../core/geo.js';
import type { GridFeature } from '../../core/grids.js';

const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;

export function insideGeometry(p: LatLon, geometry: GridFeature['geometry']): boolean {
  return booleanPointInPolygon([p.lon, p.lat], geometry);
}

/**
 * Metres from the point to the nearest edge of the geometry (outer rings and holes). An
 * equirectangular projection around the point is exact enough at the scale of a grid cell
 * (a few km: error well under a metre) and much cheaper than geodesics per edge.
 */
export function distanceToEdgesM(p: LatLon, geometry: GridFeature['geometry']): number {
  const kx = Math.cos(p.lat * RAD) * EARTH_RADIUS_M * RAD;
  const ky = EARTH_RADIUS_M * RAD;
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let best = Infinity;
  for (const rings of polygons)
    for (const ring of rings)
      for (let i = 1; i < ring.length; i++) {
        const a = ring[i - 1]!, b = ring[i]!;
        const d = distanceToSegment((a[0]! - p.lon) * kx, (a[1]! - p.lat) * ky, (b[0]! - p.lon) * kx, (b[1]! - p.lat) * ky);
        if (d < best) best = d;
      }
  return best;
}

/** Distance from the origin to the segment (ax, ay)–(bx, by). */
function distanceToSegment(ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
  return Math.hypot(ax + t * dx, ay + t * dy);
}

import { bbox, centroid, dist, distToBoundary, pointInPolygon, sub, unit, type Box, type Polygon, type Vec } from '../lib/geo.js';

/**
 * Where one drone may fly: its cell (kept `cellMarginM` away from the edges, so GPS noise, wind
 * gusts and turns never carry it across) and the county's no-fly zones (kept `noFlyMarginM`
 * away). Plans a coverage pattern and routes around no-fly zones. Plane coordinates, metres.
 */
export class Airspace {
  private readonly detourCorners: Vec[];
  /** each zone's box grown by the margin: a segment that misses all of them is clear */
  private readonly zoneBoxes: Box[];

  constructor(
    readonly cell: Polygon,
    readonly noFly: readonly Polygon[],
    readonly cellMarginM: number,
    readonly noFlyMarginM = 80,
  ) {
    // corners of each zone's box, pushed out past the margin: the waypoints of a detour
    this.zoneBoxes = noFly.map((z) => {
      const b = bbox(z);
      return { minX: b.minX - noFlyMarginM, minY: b.minY - noFlyMarginM, maxX: b.maxX + noFlyMarginM, maxY: b.maxY + noFlyMarginM };
    });
    const pad = noFlyMarginM + 25;
    this.detourCorners = noFly.flatMap((z) => {
      const b = bbox(z);
      return [
        { x: b.minX - pad, y: b.minY - pad },
        { x: b.maxX + pad, y: b.minY - pad },
        { x: b.maxX + pad, y: b.maxY + pad },
        { x: b.minX - pad, y: b.maxY + pad },
      ];
    });
  }

  clearOfNoFly(p: Vec): boolean {
    for (const z of this.noFly) if (pointInPolygon(p, z) || distToBoundary(p, z) < this.noFlyMarginM) return false;
    return true;
  }

  /** inside the cell by at least the margin, and clear of every no-fly zone */
  allowed(p: Vec): boolean {
    return pointInPolygon(p, this.cell) && distToBoundary(p, this.cell) >= this.cellMarginM && this.clearOfNoFly(p);
  }

  /** every point of the segment, sampled every `stepM`, passes the test */
  segmentPasses(a: Vec, b: Vec, test: (p: Vec) => boolean, stepM = 10): boolean {
    const n = Math.max(1, Math.ceil(dist(a, b) / stepM));
    for (let i = 1; i <= n; i++) {
      const t = i / n;
      if (!test({ x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t })) return false;
    }
    return true;
  }

  /**
   * Waypoints from `from` to `to` (the last one is `to`): straight when that passes, else via
   * one or two corners around the no-fly zones. `withinCell` also keeps the route inside the
   * cell. When either end breaks the rule itself (a drone sent into a zone), it flies straight.
   */
  route(from: Vec, to: Vec, withinCell: boolean): Vec[] {
    if (!withinCell && this.missesZones(from, to)) return [to];
    const test = withinCell ? (p: Vec) => this.allowed(p) : (p: Vec) => this.clearOfNoFly(p);
    if (!test(from) || !test(to) || this.segmentPasses(from, to, test)) return [to];
    const corners = this.detourCorners.filter(test);
    let best: Vec[] | null = null;
    let bestLen = Infinity;
    for (const c of corners) {
      const l = dist(from, c) + dist(c, to);
      if (l < bestLen && this.segmentPasses(from, c, test) && this.segmentPasses(c, to, test)) {
        best = [c, to];
        bestLen = l;
      }
    }
    if (best) return best;
    for (const c of corners)
      for (const d of corners) {
        if (c === d) continue;
        const l = dist(from, c) + dist(c, d) + dist(d, to);
        if (l < bestLen && this.segmentPasses(from, c, test) && this.segmentPasses(c, d, test) && this.segmentPasses(d, to, test)) {
          best = [c, d, to];
          bestLen = l;
        }
      }
    return best ?? [to];
  }

  private missesZones(a: Vec, b: Vec): boolean {
    const minX = Math.min(a.x, b.x);
    const maxX = Math.max(a.x, b.x);
    const minY = Math.min(a.y, b.y);
    const maxY = Math.max(a.y, b.y);
    return this.zoneBoxes.every((z) => maxX < z.minX || minX > z.maxX || maxY < z.minY || minY > z.maxY);
  }

  /** the length of a route, metres */
  routeLength(from: Vec, waypoints: readonly Vec[]): number {
    let l = 0;
    let p = from;
    for (const w of waypoints) {
      l += dist(p, w);
      p = w;
    }
    return l;
  }

  /**
   * A lawnmower (boustrophedon) pattern: east-west legs `spacingM` apart, alternating direction,
   * each leg the allowed stretch of its line (a line cut by a no-fly zone gives two legs), joined
   * by routes that stay allowed. Returns the waypoints in flying order.
   */
  lawnmower(spacingM: number): Vec[] {
    const b = bbox(this.cell);
    const stepM = 5;
    const lines: Array<Array<[Vec, Vec]>> = [];
    for (let y = b.minY + this.cellMarginM + spacingM / 2; y <= b.maxY - this.cellMarginM; y += spacingM) {
      const runs: Array<[Vec, Vec]> = [];
      let start: Vec | null = null;
      let last: Vec | null = null;
      for (let x = b.minX; x <= b.maxX + stepM; x += stepM) {
        const p = { x, y };
        if (x <= b.maxX && this.allowed(p)) {
          start ??= p;
          last = p;
        } else if (start && last) {
          if (dist(start, last) >= 30) runs.push([start, last]);
          start = last = null;
        }
      }
      if (runs.length) lines.push(runs);
    }
    const legs: Array<[Vec, Vec]> = [];
    lines.forEach((runs, i) => {
      if (i % 2 === 0) legs.push(...runs);
      else legs.push(...runs.reverse().map(([s, e]) => [e, s] as [Vec, Vec]));
    });
    const out: Vec[] = [];
    for (const [s, e] of legs) {
      const prev = out[out.length - 1];
      if (prev) out.push(...this.route(prev, s, true));
      else out.push(s);
      out.push(e);
    }
    return out;
  }

  /** the allowed point nearest the cell's centroid: where a drone's dock is unless a scenario says */
  defaultHome(): Vec {
    const c = centroid(this.cell);
    if (this.allowed(c)) return c;
    let best: Vec | null = null;
    for (let r = 50; r < 5000 && !best; r += 50)
      for (let a = 0; a < 360; a += 15) {
        const p = { x: c.x + r * Math.sin((a * Math.PI) / 180), y: c.y + r * Math.cos((a * Math.PI) / 180) };
        if (this.allowed(p)) {
          best = p;
          break;
        }
      }
    return best ?? c;
  }

  /**
   * A point `beyondM` outside the cell: from `from`, away from the cell's centroid, past the
   * boundary. Where a drifting drone ends up.
   */
  pointOutside(from: Vec, beyondM: number): Vec {
    const dir = unit(sub(from, centroid(this.cell)));
    const d = dir.x === 0 && dir.y === 0 ? { x: 1, y: 0 } : dir;
    let p = from;
    for (let s = 0; s < 50_000 && pointInPolygon(p, this.cell); s += 10) p = { x: from.x + d.x * s, y: from.y + d.y * s };
    return { x: p.x + d.x * beyondM, y: p.y + d.y * beyondM };
  }
}

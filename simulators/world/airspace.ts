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
  private readonly plans = new Map<number, Vec[]>();

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
    return this.clearBy(p, this.noFlyMarginM);
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

  /** clear of every no-fly zone by `marginM` */
  private clearBy(p: Vec, marginM: number): boolean {
    for (const z of this.noFly) if (pointInPolygon(p, z) || distToBoundary(p, z) < marginM) return false;
    return true;
  }

  /**
   * Waypoints from `from` to `to` (the last one is `to`): straight when that passes, else via
   * one or two corners of the no-fly zones in the way. `withinCell` also keeps the route inside
   * the cell. Routes are checked against half the no-fly margin, so that a drone on the edge of
   * the margin (the end of a leg) finds its way on. When either end breaks the rule itself (a
   * drone sent into a zone), or no detour is found, it flies straight.
   */
  route(from: Vec, to: Vec, withinCell: boolean): Vec[] {
    if (!withinCell && this.missesZones(from, to, 0)) return [to];
    const half = this.noFlyMarginM / 2;
    const test = withinCell
      ? (p: Vec) => pointInPolygon(p, this.cell) && distToBoundary(p, this.cell) >= this.cellMarginM && this.clearBy(p, half)
      : (p: Vec) => this.clearBy(p, half);
    const passes = (a: Vec, b: Vec) => (!withinCell && this.missesZones(a, b, 0)) || this.segmentPasses(a, b, test);
    if (!test(from) || !test(to) || passes(from, to)) return [to];
    // corners of the zones near the way: a detour goes round those, not round the county
    const reach = dist(from, to) / 2 + 1000;
    const corners = this.detourCorners.filter((c, i) => !this.missesZones(from, to, reach, i >> 2) && test(c));
    let best: Vec[] | null = null;
    let bestLen = Infinity;
    for (const c of corners) {
      const l = dist(from, c) + dist(c, to);
      if (l < bestLen && passes(from, c) && passes(c, to)) {
        best = [c, to];
        bestLen = l;
      }
    }
    if (!best)
      for (const c of corners)
        for (const d of corners) {
          if (c === d) continue;
          const l = dist(from, c) + dist(c, d) + dist(d, to);
          if (l < bestLen && passes(from, c) && passes(c, d) && passes(d, to)) {
            best = [c, d, to];
            bestLen = l;
          }
        }
    return best && bestLen < 3 * dist(from, to) + 2000 ? best : [to];
  }

  /** the box of segment a–b, grown by `padM`, misses every zone's box (or zone `only`'s) */
  private missesZones(a: Vec, b: Vec, padM: number, only?: number): boolean {
    const minX = Math.min(a.x, b.x) - padM;
    const maxX = Math.max(a.x, b.x) + padM;
    const minY = Math.min(a.y, b.y) - padM;
    const maxY = Math.max(a.y, b.y) + padM;
    const boxes = only === undefined ? this.zoneBoxes : [this.zoneBoxes[only]!];
    return boxes.every((z) => maxX < z.minX || minX > z.maxX || maxY < z.minY || minY > z.maxY);
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
   * A lawnmower (boustrophedon) pattern: east-west legs at most `spacingM` apart, alternating direction,
   * each leg the allowed stretch of its line (a line cut by a no-fly zone gives two legs), joined
   * by routes that stay allowed. Returns the waypoints in flying order.
   */
  lawnmower(spacingM: number): Vec[] {
    const known = this.plans.get(spacingM);
    if (known) return known;
    const plan = this.planLawnmower(spacingM);
    this.plans.set(spacingM, plan);
    return plan;
  }

  private planLawnmower(spacingM: number): Vec[] {
    const b = bbox(this.cell);
    const lines: Array<Array<[Vec, Vec]>> = [];
    // legs from one margin to the other, evenly spread, no further apart than the spacing
    const first = b.minY + this.cellMarginM;
    const span = Math.max(0, b.maxY - this.cellMarginM - first);
    const n = Math.max(1, Math.ceil(span / spacingM) + 1);
    for (let k = 0; k < n; k++) {
      const runs = this.allowedRuns(n === 1 ? first + span / 2 : first + (k * span) / (n - 1), b.minX, b.maxX);
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

  /**
   * The allowed stretches of the line at `y`: a scan every SCAN_M finds them, bisection puts
   * their ends to within a metre (stretches shorter than the scan step can be missed: no leg).
   */
  private allowedRuns(y: number, minX: number, maxX: number): Array<[Vec, Vec]> {
    const SCAN_M = 40;
    const edge = (inside: number, outside: number): number => {
      for (let i = 0; i < 8 && Math.abs(outside - inside) > 1; i++) {
        const mid = (inside + outside) / 2;
        if (this.allowed({ x: mid, y })) inside = mid;
        else outside = mid;
      }
      return inside;
    };
    const runs: Array<[Vec, Vec]> = [];
    let start: number | null = null;
    let prev = minX - SCAN_M;
    for (let x = minX; x <= maxX + SCAN_M; x += SCAN_M) {
      const ok = x <= maxX && this.allowed({ x, y });
      if (ok && start === null) start = edge(x, prev);
      if (!ok && start !== null) {
        const end = edge(prev, x);
        if (end - start >= 30) runs.push([{ x: start, y }, { x: end, y }]);
        start = null;
      }
      prev = x;
    }
    return runs;
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

import L from 'leaflet';
import type { TrackPoint } from '../types.js';
import { modeColor } from './colors.js';

/**
 * A selected drone's stored track over a window, and the playback position on it: the part
 * flown up to the slider's time is drawn solid, a marker stands where the drone was.
 */
export class TrackLayer {
  private readonly all = L.polyline([], { color: '#111827', weight: 2, opacity: 0.45, dashArray: '4 4', interactive: false });
  private readonly flown = L.polyline([], { color: '#111827', weight: 3, opacity: 0.85, interactive: false });
  private readonly ghost = L.circleMarker([0, 0], { radius: 7, weight: 2, color: '#111827', fillColor: '#fde047', fillOpacity: 1, interactive: false });
  private points: TrackPoint[] = [];
  private times: number[] = [];

  constructor(private readonly map: L.Map) {}

  show(points: TrackPoint[]): void {
    this.points = points;
    this.times = points.map((p) => Date.parse(p.ts));
    this.all.setLatLngs(points.map((p) => [p.lat, p.lon]));
    this.flown.setLatLngs([]);
    for (const l of [this.all, this.flown]) l.addTo(this.map);
    this.ghost.remove();
    if (points.length > 1) this.map.fitBounds(this.all.getBounds(), { padding: [40, 40], maxZoom: 16 });
  }

  /** Moves the playback marker to time `t` (epoch ms), interpolating between stored points. */
  at(t: number): TrackPoint | null {
    const n = this.times.length;
    if (n === 0) return null;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.times[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    const a = this.points[lo]!;
    const b = this.points[Math.min(lo + 1, n - 1)]!;
    const ta = this.times[lo]!;
    const tb = this.times[Math.min(lo + 1, n - 1)]!;
    const f = tb > ta ? Math.min(1, Math.max(0, (t - ta) / (tb - ta))) : 0;
    const lat = a.lat + (b.lat - a.lat) * f;
    const lon = a.lon + (b.lon - a.lon) * f;
    this.ghost.setLatLng([lat, lon]).setStyle({ fillColor: '#fde047', color: modeColor(a.mode) }).addTo(this.map);
    this.flown.setLatLngs([...this.points.slice(0, lo + 1).map((p) => [p.lat, p.lon] as [number, number]), [lat, lon]]);
    return a;
  }

  clear(): void {
    for (const l of [this.all, this.flown, this.ghost]) l.remove();
    this.points = [];
    this.times = [];
  }
}

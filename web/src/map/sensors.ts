import L from 'leaflet';
import { h } from '../dom.js';
import { clock } from '../format.js';
import type { Fleet, Sensor } from '../live/fleet.js';
import type { Alert } from '../types.js';
import { SENSOR_COLOR, type SensorState } from './colors.js';

/** Sensors never heard from are many and say little: small and pale; an alarm stands out. */
function look(state: SensorState): L.CircleMarkerOptions {
  return { fillColor: SENSOR_COLOR[state], radius: state === 'alarm' ? 7 : state === 'unknown' ? 3.5 : 4.5, fillOpacity: state === 'unknown' ? 0.55 : 0.95, opacity: state === 'unknown' ? 0.5 : 1 };
}

interface Shown {
  marker: L.CircleMarker;
  state: SensorState;
}

/**
 * Sensors as small circles on one canvas (1,000 of them cost one redraw a frame, not 1,000 DOM
 * nodes), coloured by state: alarm (an unresolved alert on it), online, offline, never heard.
 * A sensor registered without a position stands near its cell's centre.
 */
export class SensorLayer {
  private readonly shown = new Map<string, Shown>();
  private readonly renderer = L.canvas({ padding: 0.3, tolerance: 4 });
  private alarms: ReadonlyMap<string, Alert[]> = new Map();
  private selected: string | null = null;

  constructor(
    private readonly map: L.Map,
    private readonly fleet: Fleet,
    private readonly cellCentre: (id: string) => L.LatLng | null,
    private readonly onSelect: (id: string) => void,
  ) {}

  setAlarms(byEntity: ReadonlyMap<string, Alert[]>): void {
    this.alarms = byEntity;
  }

  update(ids: Iterable<string>): void {
    for (const id of ids) {
      const s = this.fleet.sensors.get(id);
      if (!s) continue;
      let shown = this.shown.get(id);
      const state = this.state(s);
      if (!shown) {
        const at = this.position(s);
        if (!at) continue;
        const marker = L.circleMarker(at, { renderer: this.renderer, ...look(state), weight: 1, color: '#1f2937', bubblingMouseEvents: false });
        marker.bindTooltip(() => this.tooltip(this.fleet.sensors.get(id) ?? s), { direction: 'top' });
        marker.on('click', () => this.onSelect(id));
        marker.addTo(this.map);
        this.shown.set(id, (shown = { marker, state }));
        continue;
      }
      if (shown.state !== state) {
        shown.state = state;
        shown.marker.setStyle(look(state));
        if (state === 'alarm') shown.marker.bringToFront();
      }
      if (shown.marker.isTooltipOpen()) shown.marker.setTooltipContent(this.tooltip(s));
    }
  }

  /** Rings the selected sensor and brings it into view. */
  select(id: string | null): void {
    const prev = this.selected ? this.shown.get(this.selected) : undefined;
    prev?.marker.setStyle({ color: '#1f2937', weight: 1 });
    this.selected = id;
    const s = id ? this.shown.get(id) : undefined;
    if (!s) return;
    s.marker.setStyle({ color: '#facc15', weight: 4 }).bringToFront();
    const at = s.marker.getLatLng();
    if (!this.map.getBounds().pad(-0.1).contains(at)) this.map.setView(at, Math.max(this.map.getZoom(), 14));
  }

  counts(): Record<SensorState, number> {
    const c: Record<SensorState, number> = { alarm: 0, online: 0, offline: 0, unknown: 0 };
    for (const s of this.shown.values()) c[s.state]++;
    return c;
  }

  get size(): number {
    return this.shown.size;
  }

  private state(s: Sensor): SensorState {
    if (this.alarms.has(s.id)) return 'alarm';
    return s.online === true ? 'online' : s.online === false ? 'offline' : 'unknown';
  }

  private position(s: Sensor): L.LatLngExpression | null {
    if (s.lat !== null && s.lon !== null) return [s.lat, s.lon];
    const c = s.gridId ? this.cellCentre(s.gridId) : null;
    if (!c) return null;
    // spread unplaced sensors of one cell around its centre, the same way on every load
    let hash = 0;
    for (const ch of s.id) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
    const angle = (hash % 360) * (Math.PI / 180);
    const r = 0.002 + ((hash >>> 8) % 100) / 20000;
    return [c.lat + r * Math.sin(angle), c.lng + r * Math.cos(angle)];
  }

  private tooltip(s: Sensor): HTMLElement {
    const alerts = this.alarms.get(s.id) ?? [];
    return h('div', { class: 'gp-tip' },
      h('b', {}, s.id), s.name ? ` · ${s.name}` : '', ` · ${s.gridId ?? 'no cell'} · ${s.online === null ? 'never heard' : s.online ? 'online' : 'offline'}`,
      ...[...s.readings.entries()].map(([m, r]) => h('div', {}, `${m}: ${r.value}${r.unit ? ` ${r.unit}` : ''} at ${clock(r.ts)}`)),
      ...alerts.map((a) => h('div', { class: `gp-tip-alert sev-${a.severity}` }, `${a.severity}: ${a.ruleId} (${a.state})`)));
  }
}

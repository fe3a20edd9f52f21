import L from 'leaflet';
import { h } from '../dom.js';
import { num } from '../format.js';
import type { Drone, Fleet } from '../live/fleet.js';
import { modeColor } from './colors.js';

/** How often trails are redrawn, ms. */
const TRAIL_EVERY_MS = 1000;

const ARROW = '<svg viewBox="-10 -10 20 20" aria-hidden="true"><path d="M0,-9 L7,8 L0,4 L-7,8 Z"/></svg>';

interface Shown {
  marker: L.Marker;
  trail: L.Polyline;
  arrow: HTMLElement | null;
  mode: string;
  heading: number;
  online: boolean | null;
}

/**
 * Drones as arrows along their heading with a short trail, coloured by mode. Markers are DOM
 * elements (200 transforms a frame is cheap, and each can be hovered and clicked); trails share
 * one canvas. `update` is called once per animation frame with the drones that changed.
 */
export class DroneLayer {
  private readonly shown = new Map<string, Shown>();
  private readonly renderer = L.canvas({ padding: 0.3 });
  private readonly group = L.layerGroup();
  private selected: string | null = null;
  private readonly trailsDue = new Set<string>();
  private trailTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly map: L.Map, private readonly fleet: Fleet, private readonly onSelect: (id: string) => void) {
    this.group.addTo(map);
  }

  update(ids: Iterable<string>): void {
    for (const id of ids) {
      const d = this.fleet.drones.get(id);
      if (!d?.t) continue;
      let s = this.shown.get(id);
      if (!s) s = this.add(d);
      const t = d.t;
      s.marker.setLatLng([t.lat, t.lon]);
      this.trailsDue.add(id);
      if (t.mode !== s.mode) {
        s.mode = t.mode;
        s.trail.setStyle({ color: modeColor(t.mode) });
        s.marker.getElement()?.setAttribute('data-mode', t.mode);
      }
      const heading = Number.isFinite(t.heading) ? t.heading : 0;
      if (heading !== s.heading && s.arrow) {
        s.heading = heading;
        s.arrow.style.transform = `rotate(${heading}deg)`;
      }
      if (d.online !== s.online) {
        s.online = d.online;
        s.marker.getElement()?.setAttribute('data-online', String(d.online));
      }
      if (s.marker.isTooltipOpen()) s.marker.setTooltipContent(this.tooltip(d));
    }
    this.trailTimer ??= setTimeout(() => this.drawTrails(), TRAIL_EVERY_MS);
  }

  /**
   * Trails share one canvas, and any change redraws it: they are redrawn together once a second,
   * not in every frame that moves a few drones (at 200 drones that is the page's largest cost).
   */
  private drawTrails(): void {
    this.trailTimer = undefined;
    for (const id of this.trailsDue) {
      const d = this.fleet.drones.get(id);
      const s = this.shown.get(id);
      if (d && s) s.trail.setLatLngs(d.trail);
    }
    this.trailsDue.clear();
  }

  select(id: string | null): void {
    const prev = this.selected && this.shown.get(this.selected);
    if (prev) {
      prev.marker.getElement()?.classList.remove('is-selected');
      prev.trail.setStyle({ weight: 2, opacity: 0.55 });
    }
    this.selected = id;
    const s = id && this.shown.get(id);
    if (s) {
      s.marker.getElement()?.classList.add('is-selected');
      s.trail.setStyle({ weight: 4, opacity: 0.9 });
    }
  }

  private add(d: Drone): Shown {
    const t = d.t!;
    const icon = L.divIcon({ className: 'gp-drone', html: `<div class="gp-arrow">${ARROW}</div>`, iconSize: [18, 18], iconAnchor: [9, 9] });
    const marker = L.marker([t.lat, t.lon], { icon, keyboard: false, riseOnHover: true, title: '' });
    const trail = L.polyline(d.trail, { renderer: this.renderer, color: modeColor(t.mode), weight: 2, opacity: 0.55, interactive: false });
    marker.bindTooltip(() => this.tooltip(this.fleet.drones.get(d.id) ?? d), { direction: 'top', offset: [0, -10] });
    marker.on('click', () => this.onSelect(d.id));
    this.group.addLayer(trail);
    this.group.addLayer(marker);
    const el = marker.getElement()!;
    el.setAttribute('data-id', d.id);
    el.setAttribute('data-mode', t.mode);
    el.setAttribute('data-online', String(d.online));
    const arrow = el.querySelector<HTMLElement>('.gp-arrow');
    const heading = Number.isFinite(t.heading) ? t.heading : 0;
    if (arrow) arrow.style.transform = `rotate(${heading}deg)`;
    const s: Shown = { marker, trail, arrow, mode: t.mode, heading, online: d.online };
    this.shown.set(d.id, s);
    if (this.selected === d.id) this.select(d.id);
    return s;
  }

  private tooltip(d: Drone): HTMLElement {
    const t = d.t;
    return h('div', { class: 'gp-tip' },
      h('b', {}, d.id), ` · ${t?.mode ?? '—'}${d.online === false ? ' · offline' : ''}`, h('br'),
      `battery ${num(t?.battery, 0, '%')} · link ${num(t?.rssi, 0, 'dBm')}`, h('br'),
      `alt ${num(t?.alt, 0, 'm')} · ${num(t?.speed, 1, 'm/s')} · hdg ${num(t?.heading, 0, '°')}`);
  }

  /** For the map's "where is it" and the test. */
  has(id: string): boolean {
    return this.shown.has(id);
  }

  get size(): number {
    return this.shown.size;
  }

  panTo(id: string): void {
    const t = this.fleet.drones.get(id)?.t;
    if (t) this.map.panTo([t.lat, t.lon]);
  }
}

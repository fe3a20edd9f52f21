import type uPlot from 'uplot';
import type { Api } from '../api.js';
import { h, fill } from '../dom.js';
import { dateTime, num } from '../format.js';
import type { Fleet } from '../live/fleet.js';
import type { TrackLayer } from '../map/track.js';
import type { List, TrackPoint } from '../types.js';
import { fitWidth, timeChart } from './charts.js';

const WINDOWS: Array<[string, number]> = [['15 min', 15 * 60_000], ['1 h', 3_600_000], ['6 h', 6 * 3_600_000], ['24 h', 24 * 3_600_000]];
/** A playback runs through the whole window in this long, ms. */
const PLAYBACK_MS = 30_000;

/**
 * One drone: its live state, its telemetry over a chosen window (battery, altitude, speed from
 * the stored track; link from what this page received live, since the track API carries no
 * rssi), its track on the map, and playback of the window on a time slider.
 */
export class DroneDetail {
  readonly el = h('div', { class: 'gp-drone-detail' });
  private readonly head = h('div');
  private readonly charts = h('div', { class: 'gp-charts' });
  private readonly slider = h('input', { type: 'range', min: 0, max: 1000, value: 1000, step: 1, 'aria-label': 'playback time' });
  private readonly playButton = h('button', { type: 'button' }, 'Play');
  private readonly when = h('span', { class: 'gp-time' });
  private readonly windowSelect = h('select', { 'aria-label': 'window' }, ...WINDOWS.map(([label, ms]) => h('option', { value: ms }, label)));
  private plots: uPlot[] = [];
  private range = { from: 0, to: 0 };
  private cursorT: number | null = null;
  private player: ReturnType<typeof setInterval> | undefined;
  private id: string | null = null;
  private readonly unfit: () => void;

  constructor(private readonly api: Api, private readonly fleet: Fleet, private readonly track: TrackLayer) {
    this.windowSelect.value = String(3_600_000);
    const reload = h('button', { type: 'button' }, 'Reload');
    reload.addEventListener('click', () => void this.load());
    this.windowSelect.addEventListener('change', () => void this.load());
    this.slider.addEventListener('input', () => this.seek(Number(this.slider.value)));
    this.playButton.addEventListener('click', () => this.togglePlay());
    this.el.append(this.head,
      h('div', { class: 'gp-toolbar' }, h('label', {}, 'Window ', this.windowSelect), reload),
      this.charts,
      h('div', { class: 'gp-playback' }, this.playButton, this.slider, this.when));
    this.unfit = fitWidth(this.charts, () => this.plots);
  }

  get current(): string | null {
    return this.id;
  }

  show(id: string): void {
    this.id = id;
    this.updateHead();
    void this.load();
  }

  close(): void {
    this.stop();
    this.id = null;
    this.track.clear();
    for (const p of this.plots) p.destroy();
    this.plots = [];
  }

  destroy(): void {
    this.close();
    this.unfit();
  }

  /** Live state line (called when the drone's telemetry changes). */
  updateHead(): void {
    const d = this.id ? this.fleet.drones.get(this.id) : undefined;
    if (!d) return;
    const t = d.t;
    fill(this.head,
      h('h3', {}, `Drone ${d.id}`, d.name ? ` · ${d.name}` : ''),
      h('p', { class: 'gp-live-line' },
        h('span', { class: 'gp-mode', 'data-mode': t?.mode ?? '' }, t?.mode ?? '—'),
        ` ${d.online === false ? 'offline' : d.online ? 'online' : 'never reported'} · battery ${num(t?.battery, 0, '%')} · link ${num(t?.rssi, 0, 'dBm')} · alt ${num(t?.alt, 0, 'm')} · ${num(t?.speed, 1, 'm/s')}`,
        t ? ` · ${dateTime(t.ts)}` : '', d.gridId ? ` · cell ${d.gridId}` : ''));
  }

  private async load(): Promise<void> {
    const id = this.id;
    if (!id) return;
    this.stop();
    const to = Date.now();
    const from = to - Number(this.windowSelect.value);
    this.range = { from, to };
    fill(this.charts, h('p', { class: 'gp-muted' }, 'Loading the track…'));
    let points: TrackPoint[];
    try {
      points = (await this.api.get<List<TrackPoint>>(`/api/v1/drones/${encodeURIComponent(id)}/track`, { from, to, limit: 1000 })).items;
    } catch (err) {
      fill(this.charts, h('p', { class: 'gp-error' }, `track: ${(err as Error).message}`));
      return;
    }
    if (this.id !== id) return;
    for (const p of this.plots) p.destroy();
    this.plots = [];
    this.charts.replaceChildren();
    this.track.show(points);
    if (points.length === 0) {
      fill(this.charts, h('p', { class: 'gp-muted' }, 'No stored positions in this window.'));
      return;
    }
    const x = points.map((p) => Date.parse(p.ts));
    const col = (k: 'battery' | 'alt' | 'speed' | 'rssi') => points.map((p) => p[k]);
    const marker = () => this.cursorT;
    const chart = (title: string, unit: string, color: string, xs: number[], ys: number[]) => {
      const box = h('div', { class: 'gp-chart' });
      this.charts.append(box);
      this.plots.push(timeChart(box, { title, unit, series: [{ label: title, color }], syncKey: `drone-${id}`, marker, height: 120 }, [xs, ys]));
    };
    chart('Battery', '%', '#16a34a', x, col('battery'));
    chart('Altitude', 'm', '#2563eb', x, col('alt'));
    chart('Speed', 'm/s', '#7c3aed', x, col('speed'));
    chart('Link', 'dBm', '#d97706', x, col('rssi'));
    this.range = { from: Math.max(from, x[0]!), to: Math.min(to, x.at(-1)!) };
    this.slider.value = '1000';
    this.seek(1000);
  }

  private seek(v: number): void {
    const { from, to } = this.range;
    if (to <= from) return;
    const t = from + ((to - from) * v) / 1000;
    this.cursorT = t;
    const p = this.track.at(t);
    this.when.textContent = `${dateTime(t)}${p ? ` · ${p.mode} · ${num(p.battery, 0, '%')} · ${num(p.alt, 0, 'm')}` : ''}`;
    for (const c of this.plots) c.redraw(false);
  }

  private togglePlay(): void {
    if (this.player) return this.stop();
    if (Number(this.slider.value) >= 1000) this.slider.value = '0';
    this.playButton.textContent = 'Pause';
    const step = 1000 / (PLAYBACK_MS / 100);
    this.player = setInterval(() => {
      const v = Math.min(1000, Number(this.slider.value) + step);
      this.slider.value = String(v);
      this.seek(v);
      if (v >= 1000) this.stop();
    }, 100);
  }

  private stop(): void {
    clearInterval(this.player);
    this.player = undefined;
    this.playButton.textContent = 'Play';
  }
}

import type uPlot from 'uplot';
import type { Api } from '../api.js';
import { h, fill } from '../dom.js';
import { dateTime } from '../format.js';
import type { Fleet } from '../live/fleet.js';
import { SEVERITY_COLOR } from '../map/colors.js';
import type { List, ReadingWindow, Severity } from '../types.js';
import { fitWidth, timeChart, type Line } from './charts.js';

const WINDOWS: Array<[string, number, string]> = [['1 h', 3_600_000, '1m'], ['6 h', 6 * 3_600_000, '5m'], ['24 h', 24 * 3_600_000, '15m'], ['7 d', 7 * 24 * 3_600_000, '1h']];

/** The fields of a threshold rule the chart draws (GET /api/v1/rules returns the rules as parsed). */
interface ThresholdRule {
  id: string;
  kind: string;
  severity: Severity;
  enabled?: boolean;
  field?: string;
  op?: 'above' | 'below';
  value?: number;
  clear?: number;
  appliesTo?: { kind?: string; metrics?: string[]; devices?: string[]; cells?: string[] };
}

/**
 * One sensor: its latest readings and each metric over a chosen window (mean, with min and max
 * faint), the threshold rules that watch it drawn across (solid: fires, dashed: clears).
 * Rules are for officers; an operator sees the readings without them.
 */
export class SensorDetail {
  readonly el = h('div', { class: 'gp-sensor-detail' });
  private readonly head = h('div');
  private readonly charts = h('div', { class: 'gp-charts' });
  private readonly windowSelect = h('select', { 'aria-label': 'window' }, ...WINDOWS.map(([label, ms]) => h('option', { value: ms }, label)));
  private plots: uPlot[] = [];
  private id: string | null = null;

  constructor(private readonly api: Api, private readonly fleet: Fleet, private readonly rules: () => ThresholdRule[] | null) {
    this.windowSelect.value = String(6 * 3_600_000);
    this.windowSelect.addEventListener('change', () => void this.load());
    const reload = h('button', { type: 'button' }, 'Reload');
    reload.addEventListener('click', () => void this.load());
    this.el.append(this.head, h('div', { class: 'gp-toolbar' }, h('label', {}, 'Window ', this.windowSelect), reload), this.charts);
    fitWidth(this.charts, () => this.plots);
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
    this.id = null;
    for (const p of this.plots) p.destroy();
    this.plots = [];
  }

  updateHead(): void {
    const s = this.id ? this.fleet.sensors.get(this.id) : undefined;
    if (!s) return;
    fill(this.head,
      h('h3', {}, `Sensor ${s.id}`, s.name ? ` · ${s.name}` : ''),
      h('p', { class: 'gp-live-line' }, `${s.online === null ? 'never heard' : s.online ? 'online' : 'offline'} · cell ${s.gridId ?? '—'}`,
        ...[...s.readings.entries()].map(([m, r]) => ` · ${m} ${r.value}${r.unit ? ` ${r.unit}` : ''} (${dateTime(r.ts)})`)));
  }

  private async load(): Promise<void> {
    const id = this.id;
    if (!id) return;
    const [, ms, every] = WINDOWS.find(([, w]) => w === Number(this.windowSelect.value)) ?? WINDOWS[1]!;
    const to = Date.now();
    fill(this.charts, h('p', { class: 'gp-muted' }, 'Loading readings…'));
    let windows: ReadingWindow[];
    try {
      windows = (await this.api.get<List<ReadingWindow>>(`/api/v1/sensors/${encodeURIComponent(id)}/readings`, { from: to - ms, to, every })).items;
    } catch (err) {
      fill(this.charts, h('p', { class: 'gp-error' }, `readings: ${(err as Error).message}`));
      return;
    }
    if (this.id !== id) return;
    for (const p of this.plots) p.destroy();
    this.plots = [];
    this.charts.replaceChildren();
    const byMetric = new Map<string, ReadingWindow[]>();
    for (const w of windows) byMetric.set(w.metric, [...(byMetric.get(w.metric) ?? []), w]);
    if (byMetric.size === 0) this.charts.append(h('p', { class: 'gp-muted' }, 'No readings in this window.'));
    const rules = this.rules();
    if (rules === null) this.charts.append(h('p', { class: 'gp-muted' }, 'Rule thresholds are shown to officers.'));
    for (const [metric, ws] of byMetric) {
      const box = h('div', { class: 'gp-chart' });
      this.charts.append(box);
      const unit = this.fleet.sensors.get(id)?.readings.get(metric)?.unit ?? '';
      const lines = thresholds(rules ?? [], id, this.fleet.sensors.get(id)?.gridId ?? null, metric);
      this.plots.push(timeChart(box, {
        title: `${metric} (${every} windows)`, unit,
        series: [{ label: 'mean', color: '#0f766e' }, { label: 'min', color: '#64748b', faint: true }, { label: 'max', color: '#64748b', faint: true }],
        lines, height: 160,
      }, [ws.map((w) => Date.parse(w.ts)), ws.map((w) => w.mean), ws.map((w) => w.min), ws.map((w) => w.max)]));
    }
  }
}

/** The threshold rules that watch this sensor's metric, as lines: the firing level and the clearing level. */
export function thresholds(rules: ThresholdRule[], sensorId: string, gridId: string | null, metric: string): Line[] {
  const lines: Line[] = [];
  for (const r of rules) {
    const on = r.appliesTo ?? {};
    if (r.kind !== 'threshold' || r.enabled === false || r.field !== 'value' || r.value === undefined) continue;
    if ((on.kind && on.kind !== 'sensor') || (on.metrics && !on.metrics.includes(metric)) || (on.devices && !on.devices.includes(sensorId))) continue;
    if (on.cells && (!gridId || !on.cells.includes(gridId))) continue;
    const color = SEVERITY_COLOR[r.severity] ?? '#dc2626';
    lines.push({ value: r.value, color, label: `${r.id}: ${r.op} ${r.value}` });
    if (r.clear !== undefined && r.clear !== r.value) lines.push({ value: r.clear, color, dash: [5, 4], label: `clears ${r.clear}` });
  }
  return lines;
}

export type { ThresholdRule };

import type { Api } from '../api.js';
import { h, fill } from '../dom.js';
import { dateTime, seconds } from '../format.js';
import { SEVERITY_COLOR } from '../map/colors.js';
import type { Severity, SlaRow } from '../types.js';
import { drawBars } from './bars.js';

const RANGES: Array<[string, number]> = [['24 h', 86_400_000], ['7 days', 7 * 86_400_000], ['30 days', 30 * 86_400_000]];

export type Deadlines = Partial<Record<Severity, { response: number; disposal: number }>>;

/**
 * The response report (GET /api/v1/reports/sla): per cell and severity, how many alerts, the
 * median and p90 time to acknowledge and to resolve, and how many missed their deadlines; as a
 * table and as bars against the severity's deadlines from the rules in force.
 */
export class ResponseReport {
  readonly el = h('div', { class: 'gp-report' });
  private readonly body = h('div');
  private readonly rangeSelect = h('select', { 'aria-label': 'range' }, ...RANGES.map(([l, ms]) => h('option', { value: ms }, l)));

  constructor(private readonly api: Api, private readonly deadlines: () => Deadlines) {
    this.rangeSelect.value = String(7 * 86_400_000);
    this.rangeSelect.addEventListener('change', () => void this.load());
    const reload = h('button', { type: 'button' }, 'Reload');
    reload.addEventListener('click', () => void this.load());
    this.el.append(h('div', { class: 'gp-toolbar' }, h('label', {}, 'Alerts opened in the last ', this.rangeSelect), reload), this.body);
  }

  async load(): Promise<void> {
    const to = Date.now();
    const from = to - Number(this.rangeSelect.value);
    fill(this.body, h('p', { class: 'gp-muted' }, 'Loading…'));
    let rows: SlaRow[];
    try {
      rows = (await this.api.get<{ items: SlaRow[] }>('/api/v1/reports/sla', { from, to })).items;
    } catch (err) {
      fill(this.body, h('p', { class: 'gp-error' }, `report: ${(err as Error).message}`));
      return;
    }
    if (rows.length === 0) return fill(this.body, h('p', { class: 'gp-muted' }, `No alerts opened between ${dateTime(from)} and ${dateTime(to)}.`));
    const dl = this.deadlines();
    const width = Math.max(280, this.el.clientWidth - 8);
    const ack = h('canvas', { 'aria-label': 'time to acknowledge per cell' });
    const res = h('canvas', { 'aria-label': 'time to resolve per cell' });
    const label = (r: SlaRow) => `${r.gridId} ${r.severity}`;
    drawBars(ack, rows.map((r) => ({ label: label(r), median: r.ackMedianS, p90: r.ackP90S, limit: dl[r.severity] ? dl[r.severity]!.response / 1000 : null, color: SEVERITY_COLOR[r.severity] })), { unitS: 60, unit: 'min', width });
    drawBars(res, rows.map((r) => ({ label: label(r), median: r.resolveMedianS, p90: r.resolveP90S, limit: dl[r.severity] ? dl[r.severity]!.disposal / 1000 : null, color: SEVERITY_COLOR[r.severity] })), { unitS: 3600, unit: 'h', width });
    const late = (missed: number, of: number) => h('td', { class: missed > 0 ? 'gp-overdue' : '' }, `${missed}/${of}`);
    fill(this.body,
      h('h4', {}, 'Time to acknowledge'), h('p', { class: 'gp-muted' }, 'dark: median · light: p90 · tick: response deadline'), ack,
      h('h4', {}, 'Time to resolve'), h('p', { class: 'gp-muted' }, 'dark: median · light: p90 · tick: disposal deadline'), res,
      h('div', { class: 'gp-scroll' }, h('table', { class: 'gp-table' },
        h('thead', {}, h('tr', {}, ...['Cell', 'Severity', 'Alerts', 'Ack p50', 'Ack p90', 'Resolve p50', 'Resolve p90', 'Ack late', 'Res. late'].map((t) => h('th', {}, t)))),
        h('tbody', {}, ...rows.map((r) => h('tr', {},
          h('td', {}, r.gridId), h('td', {}, h('span', { class: `gp-sev sev-${r.severity}` }, r.severity)), h('td', {}, r.count),
          h('td', {}, seconds(r.ackMedianS)), h('td', {}, seconds(r.ackP90S)), h('td', {}, seconds(r.resolveMedianS)), h('td', {}, seconds(r.resolveP90S)),
          late(r.responseMissed, r.count), late(r.disposalMissed, r.count)))))));
  }
}

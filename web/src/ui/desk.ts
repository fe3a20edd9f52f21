import { h, fill } from '../dom.js';
import { countdown, clock, duration } from '../format.js';
import { frame } from '../frame.js';
import { deskOrder, type AlertStore } from '../live/alerts.js';
import type { Alert, GridFeature } from '../types.js';

export interface DeskActions {
  select(id: string): void;
  ack(id: string): Promise<void>;
  /** opens the alert with its note field: resolving needs a note */
  resolve(id: string): void;
}

type StateFilter = 'active' | 'open' | 'acknowledged' | 'resolved';

/** Rows drawn at most; the filters narrow the rest. */
const MAX_ROWS = 200;
/** How long a new alert's row stays highlighted, ms. */
const NEW_FOR_MS = 15_000;

/**
 * The alert desk: unresolved alerts (or resolved ones, by filter), most severe and newest first,
 * each with its cell, officer, time waiting and deadline countdowns, and acknowledge / resolve
 * buttons. Redrawn at most once a frame; the countdowns tick every second without a redraw.
 */
export class AlertDesk {
  readonly el: HTMLElement;
  private readonly list = h('ul', { class: 'gp-alerts', 'aria-label': 'alerts' });
  private readonly summary = h('div', { class: 'gp-desk-summary' });
  private readonly filter = { cell: '', severity: '', state: 'active' as StateFilter };
  private readonly fresh = new Map<string, number>();
  private readonly busy = new Set<string>();
  private selected: string | null = null;

  constructor(private readonly store: AlertStore, cells: GridFeature[], private readonly actions: DeskActions) {
    const select = (name: keyof AlertDesk['filter'], label: string, options: Array<[string, string]>) => {
      const s = h('select', { name, 'aria-label': label }, ...options.map(([v, t]) => h('option', { value: v }, t)));
      s.value = this.filter[name];
      s.addEventListener('change', () => {
        (this.filter as Record<string, string>)[name] = s.value;
        this.render();
      });
      return h('label', {}, `${label} `, s);
    };
    this.el = h('div', { class: 'gp-desk' },
      h('div', { class: 'gp-filters' },
        select('state', 'State', [['active', 'open + acknowledged'], ['open', 'open'], ['acknowledged', 'acknowledged'], ['resolved', 'resolved (recent)']]),
        select('severity', 'Severity', [['', 'all'], ['critical', 'critical'], ['warning', 'warning'], ['info', 'info']]),
        select('cell', 'Cell', [['', 'all'], ...cells.map((c): [string, string] => [c.properties.id, c.properties.id])]),
      ),
      this.summary,
      this.list,
    );
    this.list.addEventListener('click', (e) => this.click(e));
    setInterval(() => this.tick(), 1000);
  }

  markNew(opened: readonly Alert[]): void {
    const until = Date.now() + NEW_FOR_MS;
    for (const a of opened) this.fresh.set(a.id, until);
  }

  select(id: string | null): void {
    this.selected = id;
    for (const li of Array.from(this.list.children)) li.classList.toggle('is-selected', (li as HTMLElement).dataset.alertId === id);
  }

  /** Filters by cell (a click on a cell of the map). */
  showCell(id: string): void {
    this.filter.cell = id;
    const s = this.el.querySelector<HTMLSelectElement>('select[name=cell]');
    if (s) s.value = id;
    this.render();
  }

  render(): void {
    frame.schedule('desk', () => this.draw());
  }

  private draw(): void {
    const now = Date.now();
    for (const [id, until] of this.fresh) if (until < now) this.fresh.delete(id);
    const f = this.filter;
    const all = [...this.store.alerts.values()];
    const shown = all
      .filter((a) => (f.state === 'active' ? a.state !== 'resolved' : a.state === f.state))
      .filter((a) => !f.severity || a.severity === f.severity)
      .filter((a) => !f.cell || a.gridId === f.cell)
      .sort(f.state === 'resolved' ? (a, b) => Date.parse(b.resolvedAt ?? '') - Date.parse(a.resolvedAt ?? '') : deskOrder);
    const open = all.filter((a) => a.state === 'open').length;
    const acked = all.filter((a) => a.state === 'acknowledged').length;
    const overdue = all.filter((a) => a.state !== 'resolved' && Date.parse(a.state === 'open' ? a.responseDueAt : a.disposalDueAt) < now).length;
    fill(this.summary, `${open} open · ${acked} acknowledged`, overdue ? h('span', { class: 'gp-overdue' }, ` · ${overdue} past a deadline`) : '', shown.length > MAX_ROWS ? ` · showing ${MAX_ROWS} of ${shown.length}` : '');
    const rows = shown.slice(0, MAX_ROWS).map((a) => this.row(a, now));
    if (rows.length === 0) rows.push(h('li', { class: 'gp-empty' }, f.state === 'resolved' ? 'No resolved alerts loaded.' : 'No alerts waiting. All clear.'));
    this.list.replaceChildren(...rows);
  }

  private row(a: Alert, now: number): HTMLElement {
    const cls = ['gp-alert', `sev-${a.severity}`, `state-${a.state}`, this.fresh.has(a.id) && 'is-new', a.id === this.selected && 'is-selected', a.silenced && 'is-silenced'].filter(Boolean).join(' ');
    const due = (label: string, at: string) => {
      const c = countdown(Date.parse(at), now);
      return h('span', { class: c.overdue ? 'gp-due overdue' : 'gp-due', 'data-due': Date.parse(at), 'data-label': label }, `${label} ${c.text}`);
    };
    const meta: Array<Node | string> = [
      h('span', { class: 'gp-cell' }, a.gridId), ` ${a.officer?.name ?? 'no officer'} · `,
    ];
    if (a.state === 'resolved') meta.push(`resolved by ${a.resolvedBy ?? '—'} at ${clock(a.resolvedAt ?? a.openedAt)}`);
    else {
      meta.push('waiting ', h('span', { 'data-since': Date.parse(a.openedAt) }, duration(now - Date.parse(a.openedAt))), ' · ');
      if (a.state === 'open') meta.push(due('ack', a.responseDueAt), ' · ');
      else meta.push(`ack'd by ${a.acknowledgedBy ?? '—'} · `);
      meta.push(due('resolve', a.disposalDueAt));
    }
    const busy = this.busy.has(a.id);
    return h('li', { class: cls, 'data-alert-id': a.id, 'data-state': a.state, tabindex: 0 },
      h('div', { class: 'gp-alert-head' },
        h('span', { class: `gp-sev sev-${a.severity}` }, a.severity),
        h('b', {}, a.ruleId), ` · ${a.entityId}`,
        h('span', { class: `gp-state state-${a.state}` }, a.state),
      ),
      h('div', { class: 'gp-alert-desc' }, a.description),
      h('div', { class: 'gp-alert-meta' }, ...meta),
      a.state === 'resolved' ? null : h('div', { class: 'gp-alert-actions' },
        a.state === 'open' ? h('button', { type: 'button', 'data-action': 'ack', disabled: busy }, 'Acknowledge') : null,
        h('button', { type: 'button', 'data-action': 'resolve', disabled: busy }, 'Resolve…'),
      ),
    );
  }

  private click(e: Event): void {
    const target = e.target as HTMLElement;
    const li = target.closest<HTMLElement>('li[data-alert-id]');
    if (!li) return;
    const id = li.dataset.alertId!;
    const action = target.closest<HTMLElement>('button[data-action]')?.dataset.action;
    if (action === 'ack') {
      this.busy.add(id);
      this.render();
      void this.actions.ack(id).finally(() => {
        this.busy.delete(id);
        this.render();
      });
    } else if (action === 'resolve') this.actions.resolve(id);
    else this.actions.select(id);
  }

  private tick(): void {
    if (!this.el.isConnected || this.el.offsetParent === null) return;
    const now = Date.now();
    for (const el of Array.from(this.list.querySelectorAll<HTMLElement>('[data-since]'))) el.textContent = duration(now - Number(el.dataset.since));
    for (const el of Array.from(this.list.querySelectorAll<HTMLElement>('[data-due]'))) {
      const c = countdown(Number(el.dataset.due), now);
      el.textContent = `${el.dataset.label} ${c.text}`;
      el.classList.toggle('overdue', c.overdue);
    }
  }
}

import { h, fill } from '../dom.js';
import { num } from '../format.js';
import { frame } from '../frame.js';
import type { Fleet } from '../live/fleet.js';

/** Rows drawn at most; the search box narrows the rest. */
const MAX_ROWS = 200;

interface ListSpec<T> {
  title: string;
  items: () => Iterable<T>;
  id: (x: T) => string;
  text: (x: T) => string;
  cells: (x: T) => Array<string | Node>;
  headers: string[];
  select: (id: string) => void;
}

/**
 * A searchable table of devices. Redrawn at most once a frame and only while visible; a live
 * update rewrites only the rows of the devices that changed.
 */
class DeviceTable<T> {
  readonly el: HTMLElement;
  private readonly search = h('input', { type: 'search', placeholder: 'Search id, cell, mode…', 'aria-label': 'search' });
  private readonly tbody = h('tbody');
  private readonly note = h('p', { class: 'gp-muted' });
  private readonly rows = new Map<string, HTMLTableRowElement>();
  private known = new Set<string>();

  constructor(private readonly spec: ListSpec<T>) {
    this.search.addEventListener('input', () => this.render());
    this.tbody.addEventListener('click', (e) => {
      const id = (e.target as HTMLElement).closest<HTMLElement>('tr[data-id]')?.dataset.id;
      if (id) spec.select(id);
    });
    this.el = h('div', { class: 'gp-list' }, this.search, this.note,
      h('table', { class: 'gp-table' }, h('thead', {}, h('tr', {}, ...spec.headers.map((t) => h('th', {}, t)))), this.tbody));
  }

  render(): void {
    frame.schedule(`list-${this.spec.title}`, () => this.draw());
  }

  update(ids: ReadonlySet<string>): void {
    if (this.el.offsetParent === null) return;
    for (const id of ids) if (!this.known.has(id)) return this.render(); // a device new since the last draw
    for (const x of this.spec.items()) {
      const id = this.spec.id(x);
      const row = ids.has(id) ? this.rows.get(id) : undefined;
      if (row) fill(row, ...this.spec.cells(x).map((c) => h('td', {}, c)));
    }
  }

  private draw(): void {
    const q = this.search.value.trim().toLowerCase();
    const all = [...this.spec.items()];
    this.known = new Set(all.map((x) => this.spec.id(x)));
    const match = all.filter((x) => !q || this.spec.text(x).toLowerCase().includes(q));
    this.rows.clear();
    const rows = match.slice(0, MAX_ROWS).map((x) => {
      const id = this.spec.id(x);
      const tr = h('tr', { 'data-id': id }, ...this.spec.cells(x).map((c) => h('td', {}, c)));
      this.rows.set(id, tr);
      return tr;
    });
    this.tbody.replaceChildren(...rows);
    this.note.textContent = `${all.length} ${this.spec.title}${match.length !== all.length ? `, ${match.length} match` : ''}${match.length > MAX_ROWS ? `, first ${MAX_ROWS} shown` : ''}`;
  }
}

export function droneTable(fleet: Fleet, select: (id: string) => void): DeviceTable<ReturnType<Fleet['drones']['get']> & object> {
  return new DeviceTable({
    title: 'drones',
    items: () => [...fleet.drones.values()].sort((a, b) => a.id.localeCompare(b.id)),
    id: (d) => d.id,
    text: (d) => `${d.id} ${d.name ?? ''} ${d.gridId ?? ''} ${d.t?.mode ?? ''}`,
    headers: ['Drone', 'Mode', 'Battery', 'Link', 'Alt', 'Cell'],
    cells: (d) => [d.id, h('span', { class: 'gp-mode', 'data-mode': d.t?.mode ?? '' }, d.online === false ? 'offline' : d.t?.mode ?? '—'), num(d.t?.battery, 0, '%'), num(d.t?.rssi, 0, 'dBm'), num(d.t?.alt, 0, 'm'), d.gridId ?? '—'],
    select,
  });
}

export function sensorTable(fleet: Fleet, select: (id: string) => void): DeviceTable<ReturnType<Fleet['sensors']['get']> & object> {
  return new DeviceTable({
    title: 'sensors',
    items: () => [...fleet.sensors.values()].sort((a, b) => a.id.localeCompare(b.id)),
    id: (s) => s.id,
    text: (s) => `${s.id} ${s.name ?? ''} ${s.gridId ?? ''} ${[...s.readings.keys()].join(' ')}`,
    headers: ['Sensor', 'State', 'Latest', 'Cell'],
    cells: (s) => [s.id, s.online === null ? 'never heard' : s.online ? 'online' : 'offline', [...s.readings.entries()].map(([m, r]) => `${m} ${+r.value.toFixed(2)}`).join(', ') || '—', s.gridId ?? '—'],
    select,
  });
}

export type { DeviceTable };

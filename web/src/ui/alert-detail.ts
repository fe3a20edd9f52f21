import { ApiError, type Api } from '../api.js';
import { h, fill } from '../dom.js';
import { countdown, dateTime, duration } from '../format.js';
import type { AlertStore } from '../live/alerts.js';
import type { Alert, AlertTransition, List } from '../types.js';

export interface AlertDetailHooks {
  /** pan the map to the alert's position (or its cell) */
  locate(a: Alert): void;
  /** open the drone or sensor the alert is about */
  openEntity(kind: 'drone' | 'sensor', id: string): void;
}

/**
 * One alert: what, where, who, deadlines, values, evidence (detections, dispatch, arrival) and
 * its audit trail, with acknowledge and resolve (note required) for officers. The note field is
 * built once per alert, so live updates never wipe what someone is typing.
 */
export class AlertDetail {
  readonly el = h('div', { class: 'gp-alert-detail' });
  private readonly head = h('div');
  private readonly facts = h('dl', { class: 'gp-facts' });
  private readonly evidence = h('div');
  private readonly history = h('div');
  private readonly note = h('textarea', { name: 'note', rows: 2, maxlength: 2000, placeholder: 'Note (required to resolve): what was done' });
  private readonly ackButton = h('button', { type: 'button', 'data-action': 'ack' }, 'Acknowledge');
  private readonly resolveButton = h('button', { type: 'button', 'data-action': 'resolve', class: 'primary' }, 'Resolve');
  private readonly message = h('p', { class: 'gp-action-message', role: 'status' });
  private id: string | null = null;
  private historyFor: string | null = null;

  constructor(private readonly api: Api, private readonly store: AlertStore, private readonly canAct: boolean, private readonly hooks: AlertDetailHooks) {
    const actions = canAct
      ? h('div', { class: 'gp-actions' }, this.note, h('div', { class: 'gp-buttons' }, this.ackButton, this.resolveButton), this.message)
      : null;
    this.el.append(this.head, this.facts, ...(actions ? [actions] : []), h('h4', {}, 'Evidence'), this.evidence, h('h4', {}, 'History'), this.history);
    this.ackButton.addEventListener('click', () => void this.act('ack'));
    this.resolveButton.addEventListener('click', () => void this.act('resolve'));
    this.note.addEventListener('input', () => this.buttons());
  }

  show(id: string, focusNote = false): void {
    if (id !== this.id) {
      this.note.value = '';
      this.message.textContent = '';
    }
    this.id = id;
    this.refresh();
    if (focusNote && this.canAct) {
      this.note.focus();
      if (!this.note.value) this.message.textContent = 'Write what was done, then Resolve.';
    }
  }

  get current(): string | null {
    return this.id;
  }

  /** Redraws from the store and reloads the history (an SSE event for this alert, or after an action). */
  refresh(): void {
    const a = this.id ? this.store.alerts.get(this.id) : undefined;
    if (!a) return;
    const now = Date.now();
    fill(this.head,
      h('h3', {}, h('span', { class: `gp-sev sev-${a.severity}` }, a.severity), ` ${a.ruleId} `, h('span', { class: `gp-state state-${a.state}`, 'data-testid': 'alert-state' }, a.state)),
      h('p', {}, a.description));
    const due = (at: string, done: string | null) => {
      if (done) return `done ${dateTime(done)}${Date.parse(done) > Date.parse(at) ? ' (late)' : ''}`;
      const c = countdown(Date.parse(at), now);
      return h('span', { class: c.overdue ? 'gp-due overdue' : 'gp-due' }, `${c.text} (${dateTime(at)})`);
    };
    const entity = h('button', { type: 'button', class: 'link' }, `${a.entityKind} ${a.entityId}`);
    entity.addEventListener('click', () => this.hooks.openEntity(a.entityKind, a.entityId));
    const where = h('button', { type: 'button', class: 'link' }, 'show on map');
    where.addEventListener('click', () => this.hooks.locate(a));
    const rows: Array<[string, Node | string]> = [
      ['About', entity],
      ['Cell', h('span', {}, `${a.gridId} · `, where)],
      ['Officer', a.officer ? `${a.officer.name}${a.officer.phone ? ` · ${a.officer.phone}` : ''}` : '—'],
      ['Opened', `${dateTime(a.openedAt)} · ${a.state === 'resolved' ? 'was' : 'waiting'} ${duration((a.resolvedAt ? Date.parse(a.resolvedAt) : now) - Date.parse(a.openedAt))}`],
      ['Acknowledge', due(a.responseDueAt, a.acknowledgedAt ?? a.resolvedAt)],
      ['Resolve', due(a.disposalDueAt, a.resolvedAt)],
      ['Seen', `${a.count}× · last ${dateTime(a.lastSeenAt)}${a.escalationLevel ? ` · escalated ${a.escalationLevel}×` : ''}${a.silenced ? ' · silenced' : ''}`],
      ['Values', Object.entries(a.values).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(3) : String(v)}`).join(', ') || '—'],
    ];
    if (a.acknowledgedBy) rows.push(['Acknowledged by', `${a.acknowledgedBy} · ${dateTime(a.acknowledgedAt!)}`]);
    if (a.resolvedBy) rows.push(['Resolved by', `${a.resolvedBy} · ${dateTime(a.resolvedAt!)}`]);
    fill(this.facts, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    fill(this.evidence, a.evidence.length === 0 ? h('p', { class: 'gp-muted' }, a.state === 'resolved' ? 'None.' : 'None yet.') : h('ul', { class: 'gp-evidence' }, ...a.evidence.map((e) => h('li', {},
      h('span', { class: 'gp-time' }, dateTime(e.at)), ' ', h('b', {}, e.kind), ` ${e.summary}`, evidenceLink(e.data)))));
    this.buttons();
    void this.loadHistory(a.id);
  }

  private buttons(): void {
    const a = this.id ? this.store.alerts.get(this.id) : undefined;
    this.ackButton.hidden = !a || a.state !== 'open';
    this.resolveButton.hidden = !a || a.state === 'resolved';
    this.note.hidden = !a || a.state === 'resolved';
    this.resolveButton.disabled = this.note.value.trim() === '';
    this.resolveButton.title = this.resolveButton.disabled ? 'write a note first: how the alert was disposed of' : '';
  }

  private async loadHistory(id: string): Promise<void> {
    this.historyFor = id;
    try {
      const items = (await this.api.get<List<AlertTransition>>(`/api/v1/alerts/${encodeURIComponent(id)}/history`)).items;
      if (this.historyFor !== id) return;
      fill(this.history, h('ol', { class: 'gp-history', 'data-alert-id': id }, ...items.map((t) => h('li', { 'data-kind': t.kind },
        h('span', { class: 'gp-time' }, dateTime(t.at)), ' ', h('b', {}, t.kind.replace('_', ' ')), ` by ${t.actor}`,
        t.from !== t.to ? ` (${t.from ?? '—'} → ${t.to})` : '', t.note ? h('div', { class: 'gp-note' }, t.note) : null))));
    } catch (err) {
      fill(this.history, h('p', { class: 'gp-error' }, `history: ${(err as Error).message}`));
    }
  }

  private async act(kind: 'ack' | 'resolve'): Promise<void> {
    const id = this.id;
    if (!id) return;
    const note = this.note.value.trim();
    if (kind === 'resolve' && !note) {
      this.message.textContent = 'A note is required to resolve: say how the alert was disposed of.';
      this.note.focus();
      return;
    }
    this.ackButton.disabled = this.resolveButton.disabled = true;
    this.message.textContent = kind === 'ack' ? 'Acknowledging…' : 'Resolving…';
    try {
      const a = await this.api.post<Alert>(`/api/v1/alerts/${encodeURIComponent(id)}/${kind}`, note ? { note } : {});
      this.store.put(a);
      this.message.textContent = kind === 'ack' ? 'Acknowledged.' : 'Resolved.';
      if (kind === 'resolve' || note) this.note.value = '';
    } catch (err) {
      this.message.textContent = err instanceof ApiError && err.status === 409 ? `Not possible now: ${err.message}` : `Failed: ${(err as Error).message}`;
    } finally {
      this.ackButton.disabled = false;
      if (this.id === id) this.refresh();
    }
  }

  /** The desk's Acknowledge button: without a note. */
  async ack(id: string): Promise<void> {
    try {
      this.store.put(await this.api.post<Alert>(`/api/v1/alerts/${encodeURIComponent(id)}/ack`, {}));
      if (this.id === id) this.refresh();
    } catch (err) {
      if (this.id === id) this.message.textContent = `Failed: ${(err as Error).message}`;
      else alert(`Acknowledge failed: ${(err as Error).message}`);
    }
  }
}

/** A detection's image as a link (the page's CSP loads no images from other hosts). */
function evidenceLink(data: Record<string, unknown> | undefined): Node | null {
  const url = data?.imageUrl ?? data?.image_url;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return null;
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, ' image');
}

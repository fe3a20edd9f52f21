import type { Api } from '../api.js';
import { frame } from '../frame.js';
import { SEVERITY_RANK, type Alert, type AlertEvent } from '../types.js';
import { readAlertStream, type StreamState } from './alert-stream.js';

/** Resolved alerts kept in the page (the desk's "resolved" filter), newest first. */
const RESOLVED_KEPT = 100;

export type AlertListener = (changed: ReadonlySet<string>, opened: readonly Alert[]) => void;

/**
 * The alerts the page knows: every unresolved one (open, acknowledged) and recently resolved ones,
 * current through the SSE stream. The snapshot is loaded only once the stream is open, and events
 * that arrive meanwhile are applied after it: an event is never older than the snapshot it lands on.
 */
export class AlertStore {
  readonly alerts = new Map<string, Alert>();
  private pending: AlertEvent[] | null = null;
  private changed = new Set<string>();
  private opened: Alert[] = [];
  private readonly listeners: AlertListener[] = [];
  private readonly openedListeners: Array<(a: Alert) => void> = [];
  private stream: { close(): void } | null = null;
  /** the last transition received: `${id} ${kind}` (for the status line) */
  lastTransition: string | null = null;

  onChange(fn: AlertListener): void {
    this.listeners.push(fn);
  }

  /**
   * Called at once for every alert that opens while the page watches, not at the next animation
   * frame: a background tab draws no frames, and its beep must not wait for someone to look.
   */
  onOpened(fn: (a: Alert) => void): void {
    this.openedListeners.push(fn);
  }

  start(api: Api, state: (s: StreamState, detail?: string) => void): void {
    this.stream = readAlertStream(api, {
      state,
      open: (snapshot) => {
        if (snapshot) void this.loadSnapshot(api, state);
      },
      event: (e) => {
        if (this.pending) this.pending.push(e);
        else this.applyEvent(e, true);
      },
    });
  }

  stop(): void {
    this.stream?.close();
  }

  /** Puts an alert the API returned (after ack or resolve) in place, if it is newer than what we hold. */
  put(a: Alert): void {
    const held = this.alerts.get(a.id);
    if (held && progress(held) > progress(a)) return;
    this.alerts.set(a.id, a);
    this.trimResolved();
    this.notify(a.id);
  }

  unresolved(): Alert[] {
    return [...this.alerts.values()].filter((a) => a.state !== 'resolved');
  }

  /** The most severe unresolved alert of each cell (open before acknowledged at equal severity). */
  worstByCell(): Map<string, Alert> {
    const worst = new Map<string, Alert>();
    for (const a of this.alerts.values()) {
      if (a.state === 'resolved' || a.silenced) continue;
      const w = worst.get(a.gridId);
      if (!w || rank(a) > rank(w)) worst.set(a.gridId, a);
    }
    return worst;
  }

  /** Unresolved alerts per entity (drone or sensor id). */
  byEntity(): Map<string, Alert[]> {
    const m = new Map<string, Alert[]>();
    for (const a of this.alerts.values()) {
      if (a.state === 'resolved') continue;
      const list = m.get(a.entityId);
      if (list) list.push(a);
      else m.set(a.entityId, [a]);
    }
    return m;
  }

  private async loadSnapshot(api: Api, state: (s: StreamState, detail?: string) => void): Promise<void> {
    this.pending = [];
    try {
      const [open, acked, resolved] = await Promise.all([
        api.all<Alert>('/api/v1/alerts', { state: 'open', limit: 1000 }, 5),
        api.all<Alert>('/api/v1/alerts', { state: 'acknowledged', limit: 1000 }, 5),
        api.get<{ items: Alert[] }>('/api/v1/alerts', { state: 'resolved', limit: 50 }),
      ]);
      for (const a of [...open, ...acked, ...resolved.items]) this.put(a);
    } catch (err) {
      state('down', `loading alerts: ${(err as Error).message}`);
    } finally {
      const held = this.pending ?? [];
      this.pending = null;
      for (const e of held) this.applyEvent(e, true);
    }
  }

  private applyEvent(e: AlertEvent, live: boolean): void {
    this.lastTransition = `${e.alert.id} ${e.transition.kind}`;
    this.alerts.set(e.alert.id, e.alert);
    if (live && e.transition.kind === 'open' && !e.alert.silenced) {
      this.opened.push(e.alert);
      for (const fn of this.openedListeners) fn(e.alert);
    }
    this.trimResolved();
    this.notify(e.alert.id);
  }

  private trimResolved(): void {
    const resolved = [...this.alerts.values()].filter((a) => a.state === 'resolved');
    if (resolved.length <= RESOLVED_KEPT) return;
    resolved.sort((a, b) => Date.parse(b.resolvedAt ?? b.openedAt) - Date.parse(a.resolvedAt ?? a.openedAt));
    for (const a of resolved.slice(RESOLVED_KEPT)) this.alerts.delete(a.id);
  }

  private notify(id: string): void {
    this.changed.add(id);
    frame.schedule('alerts', () => {
      const changed = this.changed;
      const opened = this.opened;
      this.changed = new Set();
      this.opened = [];
      for (const fn of this.listeners) fn(changed, opened);
    });
  }
}

/** How far along an alert is, so an older copy never replaces a newer one. */
function progress(a: Alert): number {
  const state = { open: 0, acknowledged: 1, resolved: 2 }[a.state];
  return state * 1e15 + Math.max(Date.parse(a.lastSeenAt), Date.parse(a.acknowledgedAt ?? a.openedAt), Date.parse(a.resolvedAt ?? a.openedAt)) + a.evidence.length;
}

function rank(a: Alert): number {
  return SEVERITY_RANK[a.severity] * 2 + (a.state === 'open' ? 1 : 0);
}

/** Newest and most severe first: severity, then open before acknowledged, then opening time. */
export function deskOrder(a: Alert, b: Alert): number {
  return SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || (a.state === 'open' ? 0 : 1) - (b.state === 'open' ? 0 : 1) || Date.parse(b.openedAt) - Date.parse(a.openedAt);
}

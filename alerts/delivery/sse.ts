import type { ServerResponse } from 'node:http';
import type { Alert, AlertTransition } from '../../core/alerts.js';

export interface AlertEvent {
  transition: AlertTransition;
  alert: Alert;
}

export interface SseClient {
  res: ServerResponse;
  /** the cells this client may see; undefined: all */
  grids?: readonly string[];
  /** highest event id written, so a replay and the live feed never repeat one */
  lastId: number;
  /**
   * false while the client catches up from SQLite (Last-Event-ID): broadcasts skip it, and the
   * events they carry are read from SQLite with the rest of the replay. Default true.
   */
  live?: boolean;
}

/** Bytes a client may leave unread before it is dropped: a consumer that does not read cannot grow our memory. */
const MAX_BUFFERED_BYTES = 1 << 20;

export function formatEvent(e: AlertEvent): string {
  return `id: ${e.transition.id}\nevent: alert\ndata: ${JSON.stringify(e)}\n\n`;
}

/**
 * Server-Sent Events fan-out of alert transitions. Writing never waits for a client: a client
 * whose socket buffer is over MAX_BUFFERED_BYTES is closed (it may reconnect with Last-Event-ID
 * and miss nothing, because the transitions are in SQLite).
 */
export class SseHub {
  private readonly clients = new Set<SseClient>();
  dropped = 0;

  add(client: SseClient): () => void {
    this.clients.add(client);
    return () => this.clients.delete(client);
  }

  get size(): number {
    return this.clients.size;
  }

  broadcast(e: AlertEvent): void {
    for (const c of this.clients) if (c.live !== false) this.send(c, e);
  }

  /**
   * Writes one event unless the client saw it, may not see its cell, or the alert is silenced
   * (silences suppress delivery, on a replay as live).
   */
  send(c: SseClient, e: AlertEvent): void {
    if (e.transition.id <= c.lastId) return;
    if (e.alert.silenced) return;
    if (c.grids && !c.grids.includes(e.alert.gridId)) return;
    if (c.res.writableLength > MAX_BUFFERED_BYTES || c.res.destroyed) return this.drop(c);
    c.res.write(formatEvent(e));
    c.lastId = e.transition.id;
  }

  /** Closes a client that does not read, and counts it (gridpatrol_sse_dropped_total). */
  drop(c: SseClient): void {
    this.dropped++;
    this.clients.delete(c);
    c.res.destroy();
  }

  /** Ends every stream, those still catching up too (an open stream keeps an HTTP server from closing). */
  closeAll(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}

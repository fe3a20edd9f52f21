import type { Api } from '../api.js';
import type { AlertEvent } from '../types.js';
import { SseParser } from './sse-parse.js';

export type StreamState = 'connecting' | 'live' | 'down';

export interface AlertStreamHandlers {
  /**
   * The stream is open and every transition from now on will arrive. `snapshot`: nothing was
   * received before, so the caller must load the current alerts (a reconnect with Last-Event-ID
   * replays what was missed instead).
   */
  open(snapshot: boolean): void;
  event(e: AlertEvent, id: number): void;
  state(s: StreamState, detail?: string): void;
}

/**
 * GET /api/v1/alerts/stream read with fetch and a stream parser (EventSource cannot send the
 * Authorization header). Reconnects after the server's `retry` delay with `Last-Event-ID`, so no
 * transition is missed; 401/403 stop it (the token is no longer good for alerts).
 */
export function readAlertStream(api: Api, on: AlertStreamHandlers): { close(): void } {
  const abort = new AbortController();
  let lastId: string | undefined;
  let retryMs = 2000;

  const loop = async () => {
    while (!abort.signal.aborted) {
      on.state('connecting');
      try {
        const res = await api.fetch('/api/v1/alerts/stream', { headers: lastId ? { 'last-event-id': lastId } : {}, signal: abort.signal });
        if (res.status === 401 || res.status === 403) return on.state('down', `the alert stream refused the token (${res.status})`);
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        on.state('live');
        on.open(lastId === undefined);
        const parser = new SseParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const m of parser.push(value)) {
            if (m.event !== 'alert') continue;
            lastId = m.id;
            on.event(JSON.parse(m.data) as AlertEvent, Number(m.id));
          }
          if (parser.retryMs) retryMs = parser.retryMs;
        }
        on.state('down', 'the alert stream ended; reconnecting');
      } catch (err) {
        if (abort.signal.aborted) return;
        on.state('down', `alert stream: ${(err as Error).message}; reconnecting`);
      }
      await new Promise((r) => setTimeout(r, retryMs));
    }
  };
  void loop();
  return { close: () => abort.abort() };
}

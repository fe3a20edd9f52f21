import type { Logger } from '../lib/logger.js';
import type { AlertMetrics } from './metrics.js';
import type { AlertEvent } from './store.js';

/** Called synchronously after each committed transition; must not block (queue, then return). */
export type TransitionListener = (e: AlertEvent) => void;

/**
 * Hands committed transitions to the listeners (delivery: SSE, MQTT, webhooks, dispatch), in
 * commit order. A listener that causes a transition itself (dispatch adding evidence on `open`)
 * is not re-entered: the new event is queued and every listener sees it after the current one.
 * A listener's exception is logged and counted; the transition stands and the others still run.
 */
export class TransitionEmitter {
  private readonly listeners = new Set<TransitionListener>();
  private readonly queue: AlertEvent[] = [];
  private emitting = false;

  constructor(
    private readonly log: Logger,
    private readonly metrics: AlertMetrics,
  ) {}

  add(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clear(): void {
    this.listeners.clear();
  }

  emit(events: readonly AlertEvent[]): void {
    this.queue.push(...events);
    if (this.emitting) return;
    this.emitting = true;
    try {
      for (let e = this.queue.shift(); e; e = this.queue.shift()) {
        for (const listener of [...this.listeners]) {
          try {
            listener(e);
          } catch (err) {
            this.metrics.listenerErrors.inc();
            this.log.error({ err, eventId: e.transition.id, alertId: e.alert.id }, 'alert transition listener failed; the transition stands');
          }
        }
      }
    } finally {
      this.emitting = false;
    }
  }
}

import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The alert lifecycle's metrics, registered in the process registry (lib/metrics.ts) on first
 * use and shared by later services on the same registry (a restart in a test). Labels come from
 * fixed sets: signal type and outcome, transition kind.
 */
export function alertMetrics(registry: Registry) {
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
  return {
    /** outcome: opened, repeated, inhibited (fire); resolved, kept, none (clear) */
    signals: counter('gridpatrol_alert_signals_total', 'rule signals handled, by type and what became of them', ['type', 'outcome']),
    transitions: counter('gridpatrol_alert_transitions_total', 'alert transitions committed, by kind', ['kind']),
    listenerErrors: counter('gridpatrol_alert_listener_errors_total', 'exceptions thrown by alert transition listeners (delivery)'),
    sinkFailures: counter('gridpatrol_alert_sink_failures_total', 'failed appends of alert transitions to the spool (retried)'),
    sinkBacklog: (registry.getSingleMetric('gridpatrol_alert_sink_backlog') as Gauge | undefined) ??
      new Gauge({ name: 'gridpatrol_alert_sink_backlog', help: 'alert transitions committed but not yet in the spool', registers: [registry] }),
  };
}

export type AlertMetrics = ReturnType<typeof alertMetrics>;

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric GridPatrol exports. One registry per process (tests build several). Label values
 * come from small fixed sets: stage, reason code, channel, result; never a device id.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gridpatrol_process_' });
  const r = [registry];
  const messagesIn = new Tally('channel');
  const recordsAccepted = new Tally('type');
  return {
    registry,
    messagesIn: messagesIn.counter({ name: 'gridpatrol_messages_in_total', help: 'MQTT messages received for ingest', registers: r }),
    recordsAccepted: recordsAccepted.counter({ name: 'gridpatrol_records_accepted_total', help: 'records accepted into the spool', registers: r }),
    /** per message and per record: counted here, handed to the two counters above when they are collected */
    tally: { messagesIn, recordsAccepted },
    recordsRefused: new Counter({ name: 'gridpatrol_records_refused_total', help: 'records refused (dead letters), by stage and reason code', labelNames: ['stage', 'reason'], registers: r }),
    duplicates: new Counter({ name: 'gridpatrol_duplicates_total', help: 'records dropped as repeats of an already received seq', registers: r }),
    seqGaps: new Counter({ name: 'gridpatrol_seq_gaps_total', help: 'sequence numbers skipped by devices (missing messages)', registers: r }),
    stageSeconds: new Histogram({ name: 'gridpatrol_pipeline_seconds', help: 'time to run the ingest stages for one message', buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05], registers: r }),
    spoolBytes: new Gauge({ name: 'gridpatrol_spool_bytes', help: 'bytes in the spool not yet written to the store', registers: r }),
    spoolRecords: new Gauge({ name: 'gridpatrol_spool_records', help: 'records in the spool not yet written to the store', registers: r }),
    spoolFull: new Gauge({ name: 'gridpatrol_spool_full', help: '1 while the spool is at its disk budget and publishes are refused', registers: r }),
    spoolWritable: new Gauge({ name: 'gridpatrol_spool_writable', help: '0 while spool appends fail to reach the disk (disk full, read-only) and publishes are refused', registers: r }),
    sqliteWritable: new Gauge({ name: 'gridpatrol_sqlite_writable', help: '0 while a SQLite database of the data folder cannot be written and is paused (its requests answer 503)', labelNames: ['db'], registers: r }),
    spoolWriteErrors: new Counter({ name: 'gridpatrol_spool_write_errors_total', help: 'spool appends that failed to reach the disk, by errno code', labelNames: ['code'], registers: r }),
    spoolRefused: new Counter({ name: 'gridpatrol_spool_refused_total', help: 'publishes refused because the spool was at its disk budget', registers: r }),
    storeWrites: new Counter({ name: 'gridpatrol_store_writes_total', help: 'store batch writes by result', labelNames: ['result'], registers: r }),
    storeWrittenRecords: new Counter({ name: 'gridpatrol_store_records_written_total', help: 'records written to the store', registers: r }),
    storeWriteSeconds: new Histogram({ name: 'gridpatrol_store_write_seconds', help: 'store batch write latency', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r }),
    mqttConnections: new Gauge({ name: 'gridpatrol_mqtt_connections', help: 'open MQTT connections', registers: r }),
    mqttRefused: new Counter({ name: 'gridpatrol_mqtt_refused_total', help: 'refused connects, publishes and subscribes', labelNames: ['action', 'reason'], registers: r }),
    mqttThrottled: new Counter({ name: 'gridpatrol_mqtt_throttled_total', help: 'publishes held back because their connection went over GRIDPATROL_MAX_MSGS_PER_SEC', registers: r }),
    mqttLimitDisconnects: new Counter({ name: 'gridpatrol_mqtt_limit_disconnects_total', help: 'connections closed for going over a limit', labelNames: ['limit'], registers: r }),
    httpSeconds: new Histogram({ name: 'gridpatrol_http_request_seconds', help: 'HTTP request latency by route', labelNames: ['method', 'route', 'status'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }),
    deadLetters: new Counter({ name: 'gridpatrol_dead_letters_total', help: 'dead letters recorded', labelNames: ['stage'], registers: r }),
    deadLettersRotated: new Counter({ name: 'gridpatrol_dead_letters_rotated_total', help: 'oldest dead letters deleted to keep GRIDPATROL_DEAD_LETTERS_MAX_ROWS (since the data folder was created)', registers: r }),
    mqttBadConnections: new Counter({ name: 'gridpatrol_mqtt_bad_connections_total', help: 'MQTT connections closed for what they sent or did not send: malformed packets, no CONNECT in time, oversize packets', labelNames: ['reason'], registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * A counter with one label, counted on the hot path as plain numbers and handed to prom-client
 * when it collects (a scrape, or `get()`): an increment costs a property add instead of
 * prom-client's label hashing and validation. Readers see exact values, as collection always
 * comes first.
 */
export class Tally {
  private pending: Record<string, number> = Object.create(null) as Record<string, number>;
  private dirty = false;
  private target: Counter<string> | undefined;

  constructor(private readonly label: string) {}

  add(value: string, n = 1): void {
    this.pending[value] = (this.pending[value] ?? 0) + n;
    this.dirty = true;
  }

  /** The prom-client counter this tally feeds; created once. */
  counter(config: { name: string; help: string; registers: Registry[] }): Counter<string> {
    this.target = new Counter({ ...config, labelNames: [this.label], collect: () => this.flush() });
    return this.target;
  }

  private flush(): void {
    if (!this.dirty || !this.target) return;
    const pending = this.pending;
    this.pending = Object.create(null) as Record<string, number>;
    this.dirty = false;
    for (const value in pending) this.target.inc({ [this.label]: value }, pending[value]!);
  }
}

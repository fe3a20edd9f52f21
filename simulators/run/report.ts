import type { LoadResult } from '../load.js';
import { formatDuration, table } from '../lib/table.js';
import type { RunSummary } from './summary.js';

/** The end-of-run summary of a scenario, for people. */
export function renderRunSummary(s: RunSummary): string {
  const out: string[] = [];
  const state = s.aborted ? 'stopped after' : 'ran';
  out.push(
    `${s.scenario} (seed ${s.seed}) ${state} ${formatDuration(s.simulatedMs)} simulated in ${formatDuration(s.wallMs)} (${s.speed}×); ` +
      `${s.devices.drones} drones, ${s.devices.sensors} sensors (${s.devices.registered} registered now, ${s.devices.fromCredentials} from the credentials file)`,
    '',
  );
  out.push(
    table(
      ['channel', 'messages', 'acked', 'failed', 'objects', 'objects acked'],
      (['telemetry', 'events', 'readings', 'status'] as const).map((c) => {
        const x = s.channels[c];
        return [c, x.sent, x.acked, x.failed, x.items, x.itemsAcked];
      }),
    ),
  );
  const faults = Object.entries(s.faults);
  if (faults.length) {
    out.push('');
    out.push(
      table(
        ['fault', 'sent', 'acked', 'refused', 'other', 'skipped', 'GridPatrol should show it as'],
        faults.map(([kind, f]) => [
          kind, f.sent, f.acked, f.refused, f.unexpected, f.skipped,
          kind === 'reconnect_storm' ? `${f.connections} connections accepted, nothing stored` : f.expected,
        ]),
      ),
    );
    out.push('(dead letters: GET /api/v1/dead-letters; refusals: gridpatrol_mqtt_refused_total; duplicates: gridpatrol_duplicates_total on /metrics)');
  }
  out.push('');
  const c = s.commands;
  out.push(`links lost ${s.links.lost}, restored ${s.links.restored}; commands received ${c.received} (followed ${c.accepted}, refused ${c.refused}, invalid ${c.invalid})`);
  out.push(s.errors.count ? `problems ${s.errors.count}: ${s.errors.samples.slice(0, 3).join('; ')}` : 'problems: none');
  return out.join('\n');
}

export interface LoadReport {
  drones: number;
  ratePerDrone: number;
  durationS: number;
  qos: 0 | 1;
  batch: number;
  workers: number;
  result: LoadResult;
}

/** The end-of-run summary of `sim load`: sent, acknowledged, failed, achieved rates, latency. */
export function renderLoadReport(r: LoadReport): string {
  const x = r.result;
  const perS = (n: number, ms: number) => (ms > 0 ? Math.round((n * 1000) / ms) : 0);
  const offered = Math.round(r.drones * r.ratePerDrone);
  const lines = [
    `load: ${r.drones} drones × ${r.ratePerDrone} msg/s = ${offered} msg/s offered for ${r.durationS} s, QoS ${r.qos}, ${r.batch} object(s) per message, ${r.workers} process(es)`,
    '',
    table(
      ['', 'messages', 'objects', 'msg/s'],
      [
        ['sent', x.sent, x.points, perS(x.sent, x.sendMs)],
        ['acked', r.qos === 1 ? x.acked : '-', r.qos === 1 ? x.pointsAcked : '-', r.qos === 1 ? perS(x.acked, x.elapsedMs) : '-'],
        ['failed', x.failed, '', ''],
      ],
    ),
  ];
  if (r.qos === 1) {
    const l = x.latency;
    lines.push('', table(['publish → PUBACK', 'p50', 'p90', 'p99', 'max', 'mean'], [[`${l.count} acks, ms`, l.p50Ms, l.p90Ms, l.p99Ms, l.maxMs, l.meanMs]]));
  } else lines.push('', 'QoS 0: no acknowledgements, so no latency');
  lines.push('', x.errors.count ? `problems ${x.errors.count}: ${x.errors.samples.join('; ')}` : 'problems: none');
  return lines.join('\n');
}

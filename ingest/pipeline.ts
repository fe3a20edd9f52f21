import type { Config } from '../core/config.js';
import type { GridIndex } from '../core/grids.js';
import type { StoreRecord, TelemetryRecord } from '../core/records.js';
import type { DetectionEvent, DroneTelemetry, SensorReading } from '../core/telemetry.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { DeadLetterInput, DeadLetters } from '../storage/dead-letters.js';
import type { LiveState } from '../storage/live-state.js';
import { CellCache } from './cell-cache.js';
import { decode } from './stages/decode.js';
import { Dedup } from './stages/dedup.js';
import { cellOfEvent, cellOfPosition, cellOfSensor } from './stages/enrich.js';
import { normalizeTime } from './stages/normalize.js';
import { isRefusal, type Envelope, type Refusal } from './stages/types.js';
import { validate } from './stages/validate.js';

/** Where accepted records go: the spool. `append` resolves once they are durable. */
export interface RecordSink {
  append(records: readonly StoreRecord[]): Promise<void>;
}

export interface IngestDeps {
  config: Pick<Config, 'limits' | 'time'>;
  grids: GridIndex;
  sensorCell: (sensorId: string) => string | undefined;
  sink: RecordSink;
  deadLetters: Pick<DeadLetters, 'add'>;
  live: LiveState;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
  /** told about what was accepted, after it is durable (rules, dispatch); must not throw or block */
  observer?: IngestObserver;
}

export interface IngestObserver {
  /** may return a promise (never rejecting) that the message's acknowledgement waits for: its alerts committed */
  records(records: readonly StoreRecord[]): Promise<void> | undefined;
  status(kind: Envelope['kind'], deviceId: string, online: boolean, at: number, isWill: boolean): void;
}

export interface Ingest {
  /** Runs the stages; resolves when the accepted records are durable and refusals are dead letters. Rejects only when the sink does (spool full). */
  accept(env: Envelope): Promise<void>;
}

/**
 * The runner: decode → validate → normalize → dedup → enrich for every item of a message, then
 * one durable append. The stages only decide; the runner counts, times and records refusals.
 */
export function buildIngest(deps: IngestDeps): Ingest {
  const now = deps.now ?? Date.now;
  const dedup = new Dedup();
  const { metrics } = deps;
  const log = deps.log.child({ component: 'ingest' });
  // a sensor's registered cell is asked for every reading: cached (see CellCache)
  const sensorCells = new CellCache(deps.sensorCell, now);
  const enrichDeps = { grids: deps.grids, sensorCell: (id: string) => sensorCells.get(id), droneCell: (id: string) => deps.live.droneCell(id) };

  function letter(env: Envelope, r: Refusal, payload: string): DeadLetterInput {
    metrics.recordsRefused.inc({ stage: r.stage, reason: r.code });
    metrics.deadLetters.inc({ stage: r.stage });
    return { deviceId: env.deviceId, topic: env.topic, stage: r.stage, code: r.code, reason: r.reason, payload, receivedAt: env.receivedAt };
  }

  function toRecord(env: Envelope, item: DroneTelemetry | DetectionEvent | SensorReading, ts: number): StoreRecord {
    if (env.channel === 'telemetry') return telemetryRecord(env.deviceId, cellOfPosition(enrichDeps, (item as DroneTelemetry).lat, (item as DroneTelemetry).lon), ts, item as DroneTelemetry);
    if (env.channel === 'events') {
      const { droneId: _id, ts: _ts, seq: _seq, ...e } = item as DetectionEvent;
      return { type: 'event', droneId: env.deviceId, gridId: cellOfEvent(enrichDeps, env.deviceId, e.lat, e.lon), ts, ...e };
    }
    const { sensorId: _id, ts: _ts, ...r } = item as SensorReading;
    return { type: 'reading', sensorId: env.deviceId, gridId: cellOfSensor(enrichDeps, env.deviceId), ts, ...r };
  }

  async function accept(env: Envelope): Promise<void> {
    metrics.tally.messagesIn.add(env.channel);
    const started = performance.now();
    const letters: DeadLetterInput[] = [];
    const records: StoreRecord[] = [];
    /** the seqs of `stream` this message marked as seen */
    const marked: number[] = [];
    const stream = `${env.deviceId}/${env.channel}`;
    let status: boolean | undefined;

    const items = decode(env, deps.config.limits.maxPayloadBytes);
    if (isRefusal(items)) letters.push(letter(env, items, env.payload.toString('utf8', 0, 8192)));
    else
      for (const item of items) {
        const v = validate(item, env.channel, env.deviceId);
        if (isRefusal(v)) {
          letters.push(letter(env, v, JSON.stringify(item)));
          continue;
        }
        if (v.channel === 'status') {
          status = v.value.state === 'online';
          continue;
        }
        const ts = normalizeTime(v.value.ts, now(), deps.config.time);
        if (isRefusal(ts)) {
          letters.push(letter(env, ts, JSON.stringify(item)));
          continue;
        }
        const seq = v.value.seq;
        if (seq !== undefined) {
          const { verdict, gaps } = dedup.check(stream, seq);
          if (gaps) metrics.seqGaps.inc(gaps);
          if (verdict === 'duplicate') {
            metrics.duplicates.inc();
            continue;
          }
          marked.push(seq);
        }
        records.push(toRecord(env, v.value, ts));
      }
    metrics.stageSeconds.observe((performance.now() - started) / 1000);

    if (letters.length) {
      deps.deadLetters.add(letters);
      log.debug({ deviceId: env.deviceId, topic: env.topic, refused: letters.length, reason: letters[0]!.reason }, 'payload refused');
    }
    if (records.length) {
      try {
        await deps.sink.append(records);
      } catch (err) {
        // not durable, so not seen: a redelivery of these seqs must be taken again
        for (const seq of marked) dedup.forget(stream, seq);
        throw err;
      }
      for (const r of records) metrics.tally.recordsAccepted.add(r.type);
      deps.live.apply(records, env.receivedAt);
      const observed = deps.observer?.records(records);
      if (observed) await observed;
    }
    if (status !== undefined) {
      deps.live.setStatus(env.kind, env.deviceId, status, env.receivedAt);
      deps.observer?.status(env.kind, env.deviceId, status, env.receivedAt, env.isWill ?? false);
    }
  }

  return { accept };
}

/**
 * The telemetry record of a validated object, field by field in the schema's order: the same
 * JSON as spreading the object, without the rest/spread copies (this runs for every sample).
 */
function telemetryRecord(droneId: string, gridId: string, ts: number, t: DroneTelemetry): TelemetryRecord {
  const r: TelemetryRecord = {
    type: 'telemetry', droneId, gridId, ts, seq: t.seq, lat: t.lat, lon: t.lon, alt: t.alt, speed: t.speed,
    heading: t.heading, battery: t.battery, mode: t.mode, rssi: t.rssi, sats: t.sats,
  };
  if (t.vs !== undefined) r.vs = t.vs;
  if (t.voltage !== undefined) r.voltage = t.voltage;
  if (t.patrolId !== undefined) r.patrolId = t.patrolId;
  return r;
}

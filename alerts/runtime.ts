import type { Config } from '../core/config.js';
import type { GridIndex } from '../core/grids.js';
import type { RuleSignal, RulesFile } from '../core/rules.js';
import type { DroneCommand } from '../core/telemetry.js';
import { topics } from '../core/topics.js';
import { RulesEngine } from '../ingest/rules/engine.js';
import { RuleStateStore } from '../ingest/rules/state-store.js';
import type { IngestObserver } from '../ingest/pipeline.js';
import type { RecordSink } from '../ingest/pipeline.js';
import { loadRulesFile, watchRulesFile } from '../lib/rules-file.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { DeviceRegistry } from '../storage/devices.js';
import type { LiveState } from '../storage/live-state.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import { SseHub } from './delivery/sse.js';
import { Webhooks } from './delivery/webhooks.js';
import { Dispatcher } from './dispatch.js';
import { AlertService, type AlertEvent } from './service.js';
import { isDiskFault, type WriteGuard } from '../storage/write-guard.js';

export interface AlertingDeps {
  config: Pick<Config, 'rulesFile' | 'webhooks' | 'dispatch'>;
  db: MetadataDb;
  /** while it says the data folder cannot be written, time-based rules and deadline checks wait: what they open could not be stored */
  dataGuard?: WriteGuard;
  grids: GridIndex;
  devices: DeviceRegistry;
  live: LiveState;
  sink: RecordSink;
  /** publishes on the embedded broker (alerts topics, drone commands) */
  publish(topic: string, payload: string): void;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
}

/** How often time-based rules (lost link, silent sensors, `for`) and deadlines are looked at. */
const TICK_MS = 1000;
const DEADLINE_CHECK_MS = 5000;
/** Rule signals kept while the data folder cannot be written, at most; retried this often. */
const MAX_WAITING_SIGNALS = 100_000;
const WAITING_RETRY_MS = 250;

/**
 * Rules → alerts → delivery, wired: ingest tells it what it accepted (IngestObserver), a timer
 * drives time-based rules and deadlines, and every transition goes to SSE, MQTT, webhooks and
 * the dispatcher. Consumers never block ingest: SSE drops clients that do not read, MQTT is the
 * broker's own fan-out, webhooks are queued in SQLite.
 */
export function buildAlerting(d: AlertingDeps) {
  const now = d.now ?? Date.now;
  const log = d.log.child({ component: 'alerting' });
  let rulesFile: RulesFile = loadRulesFile(d.config.rulesFile);
  const state = new RuleStateStore(d.db, { now, log });
  const engine = new RulesEngine({
    rules: rulesFile, grids: d.grids, state, now, log,
    assignedCell: (id) => d.devices.get(id)?.gridId,
    sensorCell: (id) => d.devices.get(id)?.gridId,
  });
  const service = new AlertService({ db: d.db, grids: d.grids, rules: () => rulesFile, sink: d.sink, now, log, metrics: d.metrics });
  const sse = new SseHub();
  const webhooks = d.config.webhooks.targets.length
    ? new Webhooks({ db: d.db, targets: d.config.webhooks.targets, secret: d.config.webhooks.secret!, timeoutMs: d.config.webhooks.timeoutMs, log, now })
    : null;
  const sendCommand = (droneId: string, cmd: DroneCommand) => d.publish(topics.droneCommands(droneId), JSON.stringify(cmd));
  const dispatcher = new Dispatcher({
    addEvidence: (id, ev) => service.addEvidence(id, ev), live: d.live, devices: d.devices, grids: d.grids,
    sendCommand, minBatteryPct: d.config.dispatch.minBatteryPct, now, log,
  });

  service.onTransition((e: AlertEvent) => {
    if (!e.alert.silenced) {
      sse.broadcast(e);
      d.publish(topics.alerts(e.alert.gridId, e.alert.severity), JSON.stringify(e.alert));
      webhooks?.enqueue(e);
    }
    dispatcher.onAlert(e.alert, e.transition.kind);
  });

  // The signals of every message taken in one turn of the event loop go to the alert service as
  // one batch (one transaction) at setImmediate; each message's accept waits for its batch, so a
  // PUBACK still means its alert is committed. Signals from anywhere else first drain the batch,
  // so the service takes every signal in the order the engine made it.
  let queued: RuleSignal[] = [];
  let batch: Promise<void> | undefined;
  // Signals the database could not take because the data folder could not be written: kept in
  // order and taken before any later one once it can (a `clear` comes only once, a lost-link
  // fire too). Bounded: past the cap the oldest are dropped, with an ERROR line.
  let waiting: RuleSignal[] = [];
  let retry: NodeJS.Timeout | undefined;
  const take = (signals: RuleSignal[]) => {
    if (signals.length === 0) return;
    if (waiting.length > 0) {
      keep(signals);
      return;
    }
    try {
      service.handleAll(signals);
    } catch (err) {
      if (isDiskFault(err)) keep(signals);
      else log.error({ err, signals: signals.length }, 'alert service failed to take rule signals');
    }
  };
  const keep = (signals: RuleSignal[]) => {
    waiting.push(...signals);
    if (waiting.length > MAX_WAITING_SIGNALS) {
      const dropped = waiting.splice(0, waiting.length - MAX_WAITING_SIGNALS);
      log.error({ dropped: dropped.length }, 'rule signals dropped: the data folder stayed unwritable too long');
    }
    retry ??= setInterval(() => {
      if (d.dataGuard?.problem()) return;
      const signals = waiting;
      waiting = [];
      clearInterval(retry);
      retry = undefined;
      take(signals);
      if (waiting.length === 0) log.info({ signals: signals.length }, 'rule signals kept while the data folder could not be written are taken');
    }, WAITING_RETRY_MS);
    retry.unref();
  };
  const drain = () => {
    const signals = queued;
    queued = [];
    batch = undefined;
    take(signals);
  };
  const handle = (signals: RuleSignal[]) => {
    drain();
    take(signals);
  };
  const defer = (signals: RuleSignal[]): Promise<void> | undefined => {
    if (signals.length === 0) return undefined;
    queued.push(...signals);
    return (batch ??= new Promise<void>((resolve) => setImmediate(() => {
      drain();
      resolve();
    })));
  };

  const observer: IngestObserver = {
    records(records) {
      try {
        const signals = engine.onRecords(records);
        dispatcher.observe(records);
        return defer(signals);
      } catch (err) {
        log.error({ err }, 'rules evaluation failed');
        return undefined;
      }
    },
    status(kind, id, online, at, isWill) {
      try {
        handle(engine.onStatus(kind, id, online, at, isWill));
      } catch (err) {
        log.error({ err }, 'rules evaluation failed');
      }
    },
  };

  const timers: NodeJS.Timeout[] = [];
  let stopWatch = () => {};
  return {
    service, engine, sse, webhooks, dispatcher, observer,
    rules: () => rulesFile,
    start() {
      // a throw in a timer would end the process: log it, the next tick tries again
      const every = (ms: number, what: string, fn: () => void) => timers.push(setInterval(() => {
        if (d.dataGuard?.problem()) return;
        try {
          fn();
        } catch (err) {
          log.error({ err }, `${what} failed; retried on the next tick`);
        }
      }, ms));
      every(TICK_MS, 'time-based rules', () => { handle(engine.tick(now())); state.flush(); });
      every(DEADLINE_CHECK_MS, 'deadline check', () => service.checkDeadlines(now()));
      for (const t of timers) t.unref();
      webhooks?.start();
      if (d.config.rulesFile)
        stopWatch = watchRulesFile(d.config.rulesFile, (next) => {
          rulesFile = next;
          handle(engine.setRules(next));
          log.info({ rules: next.rules.length }, 'rules reloaded');
        }, (err) => log.error({ err: err.message }, 'rules file not reloaded; the previous rules stay in force'));
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      clearInterval(retry);
      stopWatch();
      webhooks?.stop();
      drain();
      sse.closeAll();
      state.flush();
      await service.close();
    },
  };
}

export type Alerting = ReturnType<typeof buildAlerting>;

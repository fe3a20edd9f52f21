import { setTimeout as sleep } from 'node:timers/promises';
import { Fleet } from '../net/fleet.js';
import { readCredentials, registerDevices, registrationTakesPosition, writeCredentials, type Credential } from '../net/register.js';
import type { LoadedScenario } from '../scenario/load.js';
import { FaultKind } from '../world/faults.js';
import { sensorPositions, World } from '../world/world.js';
import { emptySummary, faultCount, type RunSummary } from './summary.js';

export interface RunOptions {
  scenario: LoadedScenario;
  /** GridPatrol's HTTP API, for registering devices */
  url: string;
  /** its MQTT listener, e.g. mqtt://127.0.0.1:1883 */
  mqttUrl: string;
  /** admin token; needed unless every device is in the credentials file */
  token?: string;
  /** read devices from this file; register the missing ones and write them to it */
  credentialsFile?: string;
  /** simulated seconds per wall-clock second (default 1) */
  speed?: number;
  /** epoch ms of the simulated start (default: the scenario's `start`, else now) */
  startMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  /** lifecycle lines for people (stderr) */
  log?: (line: string) => void;
}

export interface RunProgress {
  phase: 'registering' | 'connecting' | 'running' | 'finishing';
  done: number;
  total: number;
  summary: RunSummary;
}

const PROGRESS_EVERY_MS = 250;
/** most publishes awaiting an acknowledgement before the clock waits for GridPatrol to catch up */
const MAX_IN_FLIGHT = 20_000;

/**
 * Runs a scenario against a running GridPatrol: registers (or reads) the devices, connects them,
 * steps the world in step with the wall clock (times `speed`), publishes what it emits, feeds
 * commands back, and ends with every device offline and a summary. Stops early, cleanly, when
 * `signal` aborts.
 */
export async function runScenario(o: RunOptions): Promise<RunSummary> {
  const { scenario } = o;
  const log = o.log ?? (() => {});
  const speed = o.speed ?? 1;
  if (!(speed > 0)) throw new Error('speed must be above 0');
  const startMs = o.startMs ?? scenario.startMs ?? Date.now();
  const summary = emptySummary(scenario.spec.name, scenario.spec.seed, startMs, speed);
  summary.devices.drones = scenario.spec.drones.length;
  summary.devices.sensors = scenario.spec.sensors.length;
  const progress = (phase: RunProgress['phase'], done: number, total: number) => o.onProgress?.({ phase, done, total, summary });

  const creds = await credentialsFor(o, summary, (n) => progress('registering', n, scenario.devices.length));
  const world = new World({ spec: scenario.spec, grids: scenario.grids, startMs, seqStart: (id) => creds.get(id)?.nextSeq ?? 1 });
  const fleet = new Fleet({ mqttUrl: o.mqttUrl, credentials: creds, summary, onCommand: (id, cmd) => world.command(id, cmd) });
  log(`connecting ${scenario.devices.length} devices to ${o.mqttUrl}`);
  try {
    await fleet.connectAll(scenario.devices, 32, (n) => progress('connecting', n, scenario.devices.length));
  } catch (err) {
    await fleet.close();
    throw err;
  }

  const wallStart = performance.now();
  let lastProgress = 0;
  for (const e of world.start()) fleet.handle(e);
  log(`running ${scenario.spec.name}: ${Math.round(scenario.spec.durationMs / 1000)} s simulated at ${speed}× (seed ${scenario.spec.seed})`);
  while (!world.done && !o.signal?.aborted) {
    const target = startMs + (performance.now() - wallStart) * speed;
    let steps = 0;
    while (!world.done && world.now + world.stepMs <= target && fleet.busy < MAX_IN_FLIGHT) {
      for (const e of world.step()) fleet.handle(e);
      // let the sockets breathe when running far faster than real time
      if (++steps % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    summary.simulatedMs = world.elapsedMs;
    if (performance.now() - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = performance.now();
      progress('running', world.elapsedMs, scenario.spec.durationMs);
    }
    const untilNext = (world.now + world.stepMs - target) / speed;
    await sleep(Math.max(1, Math.min(20, untilNext)));
  }
  summary.aborted = !world.done;
  summary.simulatedMs = world.elapsedMs;
  progress('finishing', world.elapsedMs, scenario.spec.durationMs);
  for (const e of world.finish()) fleet.handle(e);
  await fleet.settle(15_000);
  await fleet.close();
  summary.wallMs = performance.now() - wallStart;
  for (const kind of FaultKind.options) if (world.faults.skipped[kind]) faultCount(summary, kind).skipped = world.faults.skipped[kind];

  if (o.credentialsFile) {
    for (const [id, slot] of [...world.drones, ...world.sensors]) {
      const c = creds.get(id);
      if (c) c.nextSeq = slot.sim.seq;
    }
    writeCredentials(o.credentialsFile, creds.values(), o.url);
  }
  return summary;
}

/** the devices' passwords: from the credentials file, and registered over the API for the rest */
async function credentialsFor(o: RunOptions, summary: RunSummary, onProgress: (n: number) => void): Promise<Map<string, Credential>> {
  const known = (o.credentialsFile && readCredentials(o.credentialsFile)) || new Map<string, Credential>();
  // sensors are registered where they stand in the world (when GridPatrol takes positions)
  const positions = sensorPositions(o.scenario.spec, o.scenario.grids);
  const missing = o.scenario.devices.filter((d) => !known.has(d.id)).map((d) => ({ ...d, ...positions.get(d.id) }));
  summary.devices.fromCredentials = o.scenario.devices.length - missing.length;
  if (missing.length) {
    if (!o.token) throw new Error(`${missing.length} devices to register (${missing[0]!.id} …) but no admin token: pass --token or set GRIDPATROL_ADMIN_TOKEN`);
    o.log?.(`registering ${missing.length} devices at ${o.url}`);
    const withPosition = await registrationTakesPosition(o.url);
    const fresh = await registerDevices({ url: o.url, token: o.token, devices: missing, withPosition, onProgress });
    for (const c of fresh) known.set(c.id, c);
    summary.devices.registered = fresh.length;
    if (o.credentialsFile) writeCredentials(o.credentialsFile, known.values(), o.url);
  }
  return known;
}

import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runLoadInWorkers } from './load-workers.js';
import { readCredentials, registerDevices, registrationTakesPosition, writeCredentials, defaultToken, type Credential } from './net/register.js';
import { progressLine } from './run/progress.js';
import { renderLoadReport, renderRunSummary } from './run/report.js';
import { runScenario } from './run/runner.js';
import { bundledScenarios, loadScenario, ScenarioError } from './scenario/load.js';
import { Duration, FaultSpec } from './scenario/schema.js';
import { FAULT_OUTCOMES, FaultKind, describeOutcome } from './world/faults.js';
import { sensorPositions, World } from './world/world.js';
import type { z } from 'zod';

/** A mistake in how the command was called: reported in one line, exit code 2. */
class UsageError extends Error {}

const intAtLeast = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
  return n;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
};
const duration = (v: string) => {
  const r = Duration.safeParse(/^\d+(\.\d+)?$/.test(v) ? `${v}s` : v);
  if (!r.success) throw new InvalidArgumentError('expected a duration such as 30s, 5m, 2m30s (a bare number is seconds)');
  return r.data;
};
const qos = (v: string) => {
  if (v !== '0' && v !== '1') throw new InvalidArgumentError('expected 0 or 1');
  return Number(v) as 0 | 1;
};
const isoTime = (v: string) => {
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('expected an ISO 8601 time such as 2026-06-01T08:00:00+08:00');
  return ms;
};

/**
 * `--fault kind=spec`: `count:3`, `every:10s`, `rate:0.05` (a bare `3`, `10s` or `0.05` reads
 * the same), then tuning after commas: `oversize=count:2,bytes:100000`.
 */
export function parseFault(v: string, previous: Partial<Record<FaultKind, z.infer<typeof FaultSpec>>> = {}) {
  const [kindText, specText = ''] = v.split('=', 2);
  const kind = FaultKind.safeParse(kindText);
  if (!kind.success) throw new InvalidArgumentError(`unknown fault "${kindText}"; one of: ${FaultKind.options.join(', ')}`);
  const raw: Record<string, unknown> = {};
  for (const part of specText.split(',').filter(Boolean)) {
    const [k, val] = part.includes(':') ? (part.split(':', 2) as [string, string]) : [/^\d+$/.test(part) ? 'count' : /^\d+(ms|s|m|h|d)/.test(part) ? 'every' : 'rate', part];
    raw[k] = /^-?\d+(\.\d+)?$/.test(val) ? Number(val) : val;
  }
  const spec = FaultSpec.safeParse(raw);
  if (!spec.success) throw new InvalidArgumentError(`--fault ${v}: ${spec.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`).join('; ')}`);
  return { ...previous, [kind.data]: spec.data };
}

function mqttUrlFor(url: string, mqtt?: string): string {
  if (mqtt) return mqtt;
  try {
    return `mqtt://${new URL(url).hostname}:1883`;
  } catch {
    throw new UsageError(`--url ${url}: not a URL`);
  }
}

function addConnectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', "GridPatrol's HTTP API (registration)").env('GRIDPATROL_URL').default('http://127.0.0.1:8080'))
    .option('--mqtt <url>', "GridPatrol's MQTT listener (default: mqtt://<host of --url>:1883)")
    .option('--token <token>', 'admin token for registering devices (default: $GRIDPATROL_ADMIN_TOKEN, else ./data/admin-token)')
    .option('--credentials <file>', 'device passwords: read from this file if it exists; devices not in it are registered and written to it')
    .option('--prefix <text>', 'put before every device id (to run again against the same GridPatrol with new devices)');
}

/** Ctrl-C once: stop cleanly (devices say offline, summary printed); twice: leave at once. */
function interruptible(): AbortController {
  const ac = new AbortController();
  process.on('SIGINT', () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nsim: stopping (Ctrl-C again to leave at once)\n');
    ac.abort();
  });
  process.on('SIGTERM', () => ac.abort());
  return ac;
}

export function buildProgram(): Command {
  const program = new Command('sim')
    .description(
      'GridPatrol simulators: drone fleets, fixed sensors, incidents, faults and load, over the public interface\n' +
        '(MQTT with each device\'s own credentials; devices registered through POST /api/v1/devices).',
    )
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ sortSubcommands: false })
    .addHelpText(
      'after',
      `
Examples:
  npm run sim -- scenarios                               list the bundled scenarios
  npm run sim -- run demo --token $TOKEN                 the demo scenario against a running GridPatrol
  npm run sim -- run faults --speed 10 --json            every bad-input kind, fast, summary as JSON
  npm run sim -- run demo --fault duplicate=rate:0.02    add faults to any scenario
  npm run sim -- load --drones 200 --rate 5 --duration 30 --qos 1
  npm run sim -- validate my-scenario.yaml
  npm run sim -- dump demo --hash                        the message stream offline: same seed, same hash`,
    );

  addConnectionOptions(
    program
      .command('run')
      .description('run a scenario (bundled name or YAML file) against a running GridPatrol')
      .argument('<scenario>', 'demo, faults, load, or a path to a scenario file')
      .option('--seed <n>', 'override the scenario seed', intAtLeast(0))
      .option('--duration <d>', 'override the scenario duration (30s, 5m, 2m30s)', duration)
      .option('--speed <x>', 'simulated seconds per real second', positive, 1)
      .option('--fault <kind=spec>', 'add or replace a fault source, e.g. malformed_json=every:10s, duplicate=rate:0.05, oversize=count:2 (repeatable)', parseFault)
      .option('--json', 'print the summary as JSON (with per-device counts and every fault sent)')
      .option('--no-progress', 'no live progress bar (it shows only on a terminal anyway)'),
  ).action(async (name: string, opts) => {
    const scenario = loadScenario(name, { prefix: opts.prefix, seed: opts.seed, durationMs: opts.duration, faults: opts.fault });
    const ac = interruptible();
    const bar = progressLine(opts.progress && !opts.json);
    const summary = await runScenario({
      scenario, url: opts.url, mqttUrl: mqttUrlFor(opts.url, opts.mqtt), token: defaultToken(opts.token), credentialsFile: opts.credentials,
      speed: opts.speed, signal: ac.signal,
      log: (line) => {
        bar.stop();
        process.stderr.write(`sim: ${line}\n`);
      },
      onProgress: ({ phase, done, total, summary: s }) => {
        const sent = Object.values(s.channels).reduce((a, c) => a + c.sent, 0);
        const acked = Object.values(s.channels).reduce((a, c) => a + c.acked, 0);
        const faults = Object.values(s.faults).reduce((a, f) => a + f.sent, 0);
        if (phase === 'running') bar.update(phase, Math.round(done / 1000), Math.round(total / 1000), `| ${Math.round(done / 1000)}/${Math.round(total / 1000)} s simulated | sent ${sent} acked ${acked} faults ${faults}`);
        else bar.update(phase, done, total, `| ${done}/${total} devices`);
      },
    });
    bar.stop();
    process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `${renderRunSummary(summary)}\n`);
  });

  addConnectionOptions(
    program
      .command('load')
      .description('many drones publishing telemetry as fast as asked; prints sent, acked, failed, achieved rate and publish→PUBACK latency')
      .option('--drones <n>', 'drones (one MQTT connection each)', intAtLeast(1), 10)
      .option('--rate <hz>', 'messages per second per drone', positive, 1)
      .addOption(new Option('--duration <s>', 'seconds to publish (or 30s, 2m)').argParser(duration).default(10_000, '10 s'))
      .addOption(new Option('--qos <0|1>', 'MQTT QoS').argParser(qos).default(1))
      .option('--batch <n>', 'telemetry objects per message (1: single objects)', intAtLeast(1), 1)
      .option('--workers <n>', 'processes to spread the drones over (each its own core)', intAtLeast(1), 1)
      .option('--seed <n>', 'seed of the positions', intAtLeast(0), 1)
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', '\nGridPatrol throttles a connection that publishes faster than GRIDPATROL_MAX_MSGS_PER_SEC (default 200/s) and closes it when its backlog would wait over 10 s; start it with a higher value for rates above that.')
    .action(async (opts) => {
      const creds = await loadDrones(opts);
      const bar = progressLine(!opts.json);
      const offered = opts.drones * opts.rate;
      const result = await runLoadInWorkers(
        {
          mqttPort: Number(new URL(mqttUrlFor(opts.url, opts.mqtt)).port || 1883), host: new URL(mqttUrlFor(opts.url, opts.mqtt)).hostname,
          devices: creds, ratePerDevice: opts.rate, durationMs: opts.duration, qos: opts.qos, batchSize: opts.batch, seed: opts.seed,
          seqStart: Math.max(1, ...creds.map((c) => c.nextSeq ?? 1)),
          onProgress: (p) => bar.update('load', Math.min(opts.duration, Math.round(p.elapsedMs)) / 1000, opts.duration / 1000, `| sent ${p.sent} acked ${p.acked} failed ${p.failed} | ${Math.round((p.sent * 1000) / Math.max(1, p.elapsedMs))}/${Math.round(offered)} msg/s`),
        },
        opts.workers,
      );
      bar.stop();
      if (opts.credentials) writeCredentials(opts.credentials, mergeSeq(opts.credentials, creds, result.nextSeq), opts.url);
      const report = { drones: opts.drones, ratePerDrone: opts.rate, durationS: opts.duration / 1000, qos: opts.qos, batch: opts.batch, workers: opts.workers, result };
      const { latencyHistogram: _h, ...plain } = result;
      process.stdout.write(opts.json ? `${JSON.stringify({ ...report, result: plain })}\n` : `${renderLoadReport(report)}\n`);
    });

  program
    .command('validate')
    .description('check scenario files (default: the bundled ones); every problem is printed as file:line:col')
    .argument('[scenarios...]', 'names or files')
    .action((names: string[]) => {
      const list = names.length ? names : [...bundledScenarios().keys()];
      let bad = 0;
      for (const n of list) {
        try {
          const s = loadScenario(n);
          process.stdout.write(`${n}: ok (${s.spec.drones.length} drones, ${s.spec.sensors.length} sensors, ${s.spec.timeline.length} timeline entries, ${s.spec.faults.length} fault sources)\n`);
        } catch (err) {
          bad++;
          process.stdout.write(`${err instanceof ScenarioError ? err.message : `${n}: ${(err as Error).message}`}\n`);
        }
      }
      if (bad) process.exitCode = 1;
    });

  program
    .command('scenarios')
    .description('list the bundled scenarios and the fault kinds')
    .action(() => {
      for (const [name] of bundledScenarios()) {
        const s = loadScenario(name);
        process.stdout.write(`${name.padEnd(8)} ${Math.round(s.spec.durationMs / 1000)} s, ${s.spec.drones.length} drones, ${s.spec.sensors.length} sensors: ${s.description ?? ''}\n`);
      }
      process.stdout.write('\nfault kinds (--fault kind=count:N|every:D|rate:P):\n');
      for (const k of FaultKind.options) process.stdout.write(`  ${k.padEnd(18)} ${describeOutcome(FAULT_OUTCOMES[k])}\n`);
    });

  program
    .command('dump')
    .description('run a scenario offline, as fast as it goes, and print what the devices would publish (NDJSON), or its hash')
    .argument('<scenario>', 'name or file')
    .option('--seed <n>', 'override the scenario seed', intAtLeast(0))
    .option('--duration <d>', 'override the scenario duration', duration)
    .option('--start <iso>', 'simulated start (default: the scenario start, else 2026-06-01T08:00:00+08:00)', isoTime)
    .option('--hash', 'print only the SHA-256 of the stream and the counts: the same seed gives the same hash')
    .action((name: string, opts) => {
      const s = loadScenario(name, { seed: opts.seed, durationMs: opts.duration });
      const world = new World({ spec: s.spec, grids: s.grids, startMs: opts.start ?? s.startMs ?? Date.parse('2026-06-01T08:00:00+08:00') });
      const hash = createHash('sha256');
      const counts: Record<string, number> = {};
      const emit = (es: ReturnType<World['step']>) => {
        for (const e of es) {
          const line = JSON.stringify(e);
          hash.update(line).update('\n');
          const key = e.type === 'publish' ? (e.fault ?? e.channel) : e.type;
          counts[key] = (counts[key] ?? 0) + 1;
          if (!opts.hash) process.stdout.write(`${line}\n`);
        }
      };
      emit(world.start());
      while (!world.done) emit(world.step());
      emit(world.finish());
      if (opts.hash) process.stdout.write(`${hash.digest('hex')}  ${JSON.stringify(counts)}\n`);
    });

  addConnectionOptions(
    program
      .command('register')
      .description("register a scenario's devices (with their cells) and write their passwords to --credentials")
      .argument('<scenario>', 'name or file'),
  ).action(async (name: string, opts) => {
    if (!opts.credentials) throw new UsageError('register needs --credentials <file> to write the passwords to');
    const s = loadScenario(name, { prefix: opts.prefix });
    const known = readCredentials(opts.credentials) ?? new Map<string, Credential>();
    const positions = sensorPositions(s.spec, s.grids);
    const missing = s.devices.filter((d) => !known.has(d.id)).map((d) => ({ ...d, ...positions.get(d.id) }));
    const token = defaultToken(opts.token);
    if (missing.length && !token) throw new UsageError('no admin token: pass --token or set GRIDPATROL_ADMIN_TOKEN');
    const fresh = missing.length ? await registerDevices({ url: opts.url, token: token!, devices: missing, withPosition: await registrationTakesPosition(opts.url) }) : [];
    for (const c of fresh) known.set(c.id, c);
    writeCredentials(opts.credentials, known.values(), opts.url);
    process.stdout.write(`${fresh.length} devices registered, ${s.devices.length - fresh.length} already in ${opts.credentials}\n`);
  });

  return program;
}

/** the drones of `sim load`: from --credentials when it has enough, registered (and saved) otherwise */
async function loadDrones(opts: { drones: number; url: string; token?: string; credentials?: string; prefix?: string }): Promise<Credential[]> {
  const known = opts.credentials ? (readCredentials(opts.credentials) ?? new Map<string, Credential>()) : new Map<string, Credential>();
  const drones = [...known.values()].filter((c) => c.kind === 'drone' && (!opts.prefix || c.id.startsWith(opts.prefix))).slice(0, opts.drones);
  const need = opts.drones - drones.length;
  if (need > 0) {
    const token = defaultToken(opts.token);
    if (!token) throw new UsageError(`${need} drones to register but no admin token: pass --token or set GRIDPATROL_ADMIN_TOKEN`);
    const prefix = opts.prefix ?? `load-${Date.now().toString(36)}-`;
    const taken = new Set(known.keys());
    const ids: string[] = [];
    for (let i = 1; ids.length < need; i++) {
      const id = `${prefix}${String(i).padStart(4, '0')}`;
      if (!taken.has(id)) ids.push(id);
    }
    process.stderr.write(`sim: registering ${need} drones (${ids[0]} …) at ${opts.url}\n`);
    const fresh = await registerDevices({ url: opts.url, token, devices: ids.map((id) => ({ id, kind: 'drone' as const })) });
    drones.push(...fresh);
    if (opts.credentials) writeCredentials(opts.credentials, [...known.values(), ...fresh], opts.url);
  }
  return drones;
}

function mergeSeq(file: string, used: Credential[], nextSeq: number): Credential[] {
  const all = readCredentials(file) ?? new Map<string, Credential>();
  for (const c of used) all.set(c.id, { ...c, nextSeq });
  return [...all.values()];
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof ScenarioError) {
      process.stderr.write(`sim: the scenario does not hold up:\n${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof UsageError) {
      process.stderr.write(`sim: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`sim: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // the event loop may hold timers of closed connections a moment longer; nothing is left to wait for
  main(process.argv).then(() => process.exit());
}

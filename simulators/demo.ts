import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { progressLine } from './run/progress.js';
import { renderRunSummary } from './run/report.js';
import { runScenario } from './run/runner.js';
import { loadScenario } from './scenario/load.js';
import { Duration } from './scenario/schema.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STOP_TIMEOUT_MS = 15_000;

interface Ports {
  mqttPort: number;
  wsPort: number;
  httpPort: number;
}

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port, 0 to 65535 (0: any free one)');
  return n;
};

/**
 * Starts GridPatrol all-in-one (`tsx main.ts`, its own process) with a known admin token, waits
 * until it listens, and resolves with its ports. Its log goes to a file in the data folder.
 */
async function startGridPatrol(dataDir: string, token: string, ports: Ports): Promise<{ child: ChildProcess; ports: Ports; logFile: string; exited: Promise<number | null> }> {
  const logFile = join(dataDir, 'gridpatrol.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env, GRIDPATROL_DATA_DIR: dataDir, GRIDPATROL_ADMIN_TOKEN: token, GRIDPATROL_LOG_LEVEL: process.env.GRIDPATROL_LOG_LEVEL ?? 'info',
      GRIDPATROL_HTTP_PORT: String(ports.httpPort), GRIDPATROL_MQTT_PORT: String(ports.mqttPort), GRIDPATROL_MQTT_WS_PORT: String(ports.wsPort),
    },
    // its own process group: a Ctrl-C in the terminal reaches the demo, which stops GridPatrol in order
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // should the demo itself die abruptly, GridPatrol (in its own process group) must not outlive it
  const orphanGuard = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', orphanGuard);
  void exited.then(() => process.off('exit', orphanGuard));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    log.write(d);
  });
  const listening = await new Promise<Ports>((resolvePorts, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      if (!line.startsWith('{')) return;
      try {
        const rec = JSON.parse(line) as { msg?: string } & Ports;
        if (rec.msg === 'gridpatrol listening') resolvePorts({ mqttPort: rec.mqttPort, wsPort: rec.wsPort, httpPort: rec.httpPort });
      } catch {
        // not a log record
      }
    });
    void exited.then((code) => reject(new Error(`GridPatrol exited (${code}) before it listened:\n${stderr.trim()}`)));
  });
  return { child, ports: listening, logFile, exited };
}

async function stopGridPatrol(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function demo(opts: { data?: string; httpPort: number; mqttPort: number; wsPort: number; speed: number; duration?: number; seed?: number; exit?: boolean; progress: boolean }): Promise<number> {
  const temp = opts.data === undefined;
  const dataDir = opts.data ? resolve(opts.data) : mkdtempSync(join(tmpdir(), 'gridpatrol-demo-'));
  mkdirSync(dataDir, { recursive: true });
  // a kept data folder keeps its admin token and the demo devices' passwords: a second run reuses both
  const tokenFile = join(dataDir, 'admin-token');
  const token = process.env.GRIDPATROL_ADMIN_TOKEN || (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : randomBytes(24).toString('hex'));
  const credentialsFile = temp ? undefined : join(dataDir, 'demo-credentials.json');
  const scenario = loadScenario('demo', { durationMs: opts.duration, seed: opts.seed });
  const out = (s: string) => process.stdout.write(`${s}\n`);

  out(`demo: starting GridPatrol (data in ${dataDir}${temp ? ', removed at the end' : ''})`);
  const gp = await startGridPatrol(dataDir, token, { httpPort: opts.httpPort, mqttPort: opts.mqttPort, wsPort: opts.wsPort });
  const http = `http://127.0.0.1:${gp.ports.httpPort}`;
  const dashboard = await fetch(`${http}/`).then((r) => r.ok, () => false);
  out(`demo: GridPatrol is running (pid ${gp.child.pid}). Where to look:
  API         ${http}/api/v1/drones   (Authorization: Bearer ${token})
  API docs    ${http}/docs
  dashboard   ${http}/${dashboard ? '' : '   (not there yet: the web dashboard comes later)'}
  metrics     ${http}/metrics
  MQTT        mqtt://127.0.0.1:${gp.ports.mqttPort}, WebSocket ws://127.0.0.1:${gp.ports.wsPort}/mqtt
  log         ${gp.logFile}
  try         curl -s -H 'Authorization: Bearer ${token}' ${http}/api/v1/drones
              curl -s -H 'Authorization: Bearer ${token}' ${http}/api/v1/dead-letters
Ctrl-C stops the demo and GridPatrol.`);

  const ac = new AbortController();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('\ndemo: stopping\n');
    ac.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let died = false;
  void gp.exited.then((code) => {
    if (stopping) return;
    died = true;
    process.stderr.write(`demo: GridPatrol exited unexpectedly (${code}); see ${gp.logFile}\n`);
    ac.abort();
  });

  const bar = progressLine(opts.progress);
  try {
    out('demo: the demo scenario brings a fire (1 min in), a flood (2 min), a lost link (5 min) and a geofence breach (6 min)');
    const summary = await runScenario({
      scenario, url: http, mqttUrl: `mqtt://127.0.0.1:${gp.ports.mqttPort}`, token, credentialsFile, speed: opts.speed, signal: ac.signal,
      log: (line) => {
        bar.stop();
        out(`demo: ${line}`);
      },
      onProgress: ({ phase, done, total, summary: s }) => {
        if (phase !== 'running') return;
        const sent = Object.values(s.channels).reduce((a, c) => a + c.sent, 0);
        bar.update('demo', Math.round(done / 1000), Math.round(total / 1000), `| ${Math.round(done / 1000)}/${Math.round(total / 1000)} s | ${sent} messages, ${s.channels.events.sent} detections`);
      },
    });
    bar.stop();
    out(renderRunSummary(summary));
    if (!ac.signal.aborted && !opts.exit) {
      out('demo: the scenario is over; GridPatrol keeps running so you can look around. Ctrl-C stops it.');
      await new Promise<void>((r) => (ac.signal.aborted ? r() : ac.signal.addEventListener('abort', () => r(), { once: true })));
    }
  } finally {
    bar.stop();
    stopping = true;
    await stopGridPatrol(gp.child, gp.exited);
    out(`demo: GridPatrol (pid ${gp.child.pid}) stopped`);
    if (temp) rmSync(dataDir, { recursive: true, force: true });
  }
  return died ? 1 : 0;
}

const program = new Command('demo')
  .description('Start GridPatrol (all-in-one, its own process) and run the demo scenario against it; Ctrl-C stops both.')
  .option('--data <dir>', 'data folder to keep (default: a temporary one, removed at the end)')
  .option('--http-port <port>', 'HTTP port (0: any free one)', port, 8080)
  .option('--mqtt-port <port>', 'MQTT port (0: any free one)', port, 1883)
  .option('--ws-port <port>', 'MQTT over WebSocket port (0: any free one)', port, 8083)
  .option('--speed <x>', 'simulated seconds per real second', (v) => {
    const n = Number(v);
    if (!(n > 0)) throw new InvalidArgumentError('expected a number above 0');
    return n;
  }, 1)
  .option('--duration <d>', 'shorter or longer than the scenario\'s 10 minutes (30s, 5m)', (v) => {
    const r = Duration.safeParse(v);
    if (!r.success) throw new InvalidArgumentError('expected a duration such as 30s, 5m');
    return r.data;
  })
  .option('--seed <n>', 'another seed', (v) => Number(v))
  .option('--exit', 'stop GridPatrol when the scenario ends (default: keep it running until Ctrl-C)')
  .option('--no-progress', 'no live progress bar')
  .action(async (opts) => {
    process.exitCode = await demo(opts);
  });

program.parseAsync(process.argv).then(
  () => process.exit(),
  (err: Error) => {
    process.stderr.write(`demo: ${err.message}\n`);
    process.exit(1);
  },
);

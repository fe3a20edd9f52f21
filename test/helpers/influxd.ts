import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const INFLUXD = process.env.GRIDPATROL_INFLUXD ?? '/usr/bin/influxd';
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/** A throwaway influxd (1.x) owned by one test file. */
export interface Influxd {
  url: string;
  port: number;
  /** pid of the running process; changes after `start()` */
  pid: number;
  dataDir: string;
  /** SIGTERM, SIGKILL after a timeout, then removes dataDir. */
  stop(): Promise<void>;
  /** SIGSTOP: the port stays open but nothing answers (a hung server). */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** SIGKILL (or `signal`: SIGTERM for an orderly stop), keeping dataDir and port, for outage tests. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same dataDir and port after `kill()`. */
  start(): Promise<void>;
}

function configText(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  trace-logging-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[retention]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "error"
  suppress-logo = true
`;
}

/** Stops `child` with SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
export async function stopProcess(child: ChildProcess, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT'); // a paused process cannot act on SIGTERM
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

async function waitForPing(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`influxd exited with ${child.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 204) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`influxd did not answer /ping within ${STARTUP_TIMEOUT_MS} ms: ${stderr()}`);
}

function launch(configPath: string): { child: ChildProcess; stderr: () => string } {
  const child = spawn(INFLUXD, ['-config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr?.on('data', (b: Buffer) => {
    tail = (tail + b.toString()).slice(-4000);
  });
  return { child, stderr: () => tail };
}

/** Starts a fresh influxd on free ports in a new temp folder and waits until /ping answers 204. */
export async function startInfluxd(): Promise<Influxd> {
  if (!existsSync(INFLUXD)) {
    throw new Error(`${INFLUXD} not found: run \`apt-get install -y influxdb\` (test/run.sh installs it)`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'gridpatrol-influxd-'));
  const [port, rpcPort] = [await freePort(), await freePort()];
  const configPath = join(dataDir, 'influxdb.conf');
  await writeFile(configPath, configText(dataDir, port, rpcPort));
  const url = `http://127.0.0.1:${port}`;

  let current = launch(configPath);
  const up = async (): Promise<void> => {
    try {
      await waitForPing(url, current.child, current.stderr);
    } catch (err) {
      await stopProcess(current.child);
      throw err;
    }
  };
  await up().catch(async (err: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  });

  const handle: Influxd = {
    url,
    port,
    pid: current.child.pid ?? -1,
    dataDir,
    async stop() {
      await stopProcess(current.child);
      await rm(dataDir, { recursive: true, force: true });
    },
    pause: () => void current.child.kill('SIGSTOP'),
    resume: () => void current.child.kill('SIGCONT'),
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const { child } = current;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      await exited;
    },
    async start() {
      if (current.child.exitCode === null && current.child.signalCode === null) return;
      current = launch(configPath);
      handle.pid = current.child.pid ?? -1;
      await up();
    },
  };
  return handle;
}

/** Convenience for afterAll: stops and removes, tolerating an undefined handle when start failed. */
export async function stopInfluxd(influxd: Influxd | undefined): Promise<void> {
  await influxd?.stop();
}

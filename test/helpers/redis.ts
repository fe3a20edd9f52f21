import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopProcess } from './influxd.js';
import { freePort } from './ports.js';

const REDIS_SERVER = process.env.GRIDPATROL_REDIS_SERVER ?? '/usr/bin/redis-server';
const STARTUP_TIMEOUT_MS = 15_000;

/** A throwaway redis-server owned by one test file: loopback, a free port, a temp folder, no persistence. */
export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM (SIGKILL after a timeout), then removes its folder. */
  stop(): Promise<void>;
}

/** One request in RESP inline form, the first reply line back (e.g. `+PONG`). */
export async function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port }, () => sock.write(`${command}\r\n`));
    let data = '';
    sock.setTimeout(2000, () => sock.destroy(new Error('redis did not answer in time')));
    sock.on('data', (b) => {
      data += b.toString();
      if (data.includes('\r\n')) {
        sock.end();
        resolve(data.slice(0, data.indexOf('\r\n')));
      }
    });
    sock.on('error', reject);
  });
}

export async function startRedis(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} not found: run \`apt-get install -y redis-server\` (test/run.sh installs it)`);
  const dir = await mkdtemp(join(tmpdir(), 'gridpatrol-redis-'));
  const port = await freePort();
  // everything on the command line: no config file, nothing written to disk
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let tail = '';
  const keep = (b: Buffer) => (tail = (tail + b.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async () => {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server exited with ${child.exitCode}: ${tail}`);
    }
    if ((await redisCommand(port, 'PING').catch(() => '')) === '+PONG') break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer PING within ${STARTUP_TIMEOUT_MS} ms: ${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid ?? -1, stop };
}

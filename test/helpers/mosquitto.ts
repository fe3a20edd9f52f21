import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopProcess } from './influxd.js';
import { freePort } from './ports.js';

const MOSQUITTO = process.env.GRIDPATROL_MOSQUITTO ?? '/usr/sbin/mosquitto';

/** A throwaway Mosquitto 2 (MQTT 3.1.1 and 5, shared subscriptions) owned by one test file. */
export interface Mosquitto {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Mosquitto on a free loopback port, anonymous, in memory. Queues for offline persistent sessions
 * are unbounded (max_queued_messages 0): a worker or the api that restarts finds everything that
 * arrived meanwhile, which is what a deployment must configure too (README: Scaling past one machine).
 */
export async function startMosquitto(): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found: run \`apt-get install -y mosquitto\` (test/run.sh installs it)`);
  const dir = await mkdtemp(join(tmpdir(), 'gridpatrol-mosquitto-'));
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  await writeFile(config, [
    `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 0', 'max_inflight_messages 100',
    'log_dest stderr', 'log_type error', 'log_type warning',
  ].join('\n') + '\n');
  const child = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${stderr}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`mosquitto did not listen on ${port} within 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`, port, pid: child.pid!,
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

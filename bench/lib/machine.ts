import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

function run(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export interface Machine {
  os: string;
  cpus: { model: string; count: number };
  memoryGiB: number;
  loadAverageAtStart: number[];
  node: string;
  versions: Record<string, string | null>;
  commit: string | null;
  /** uncommitted changes in the working tree: the commit alone does not describe the code measured */
  dirty: boolean;
}

function packageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

/** What the figures were measured on: machine, versions of everything measured, the commit. */
export function machine(): Machine {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: { model: cpus[0]?.model ?? 'unknown', count: cpus.length },
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    versions: {
      aedes: packageVersion('aedes'),
      mqtt: packageVersion('mqtt'),
      'better-sqlite3': packageVersion('better-sqlite3'),
      '@influxdata/influxdb-client': packageVersion('@influxdata/influxdb-client'),
      influxd: run(process.env.GRIDPATROL_INFLUXD ?? '/usr/bin/influxd', ['version']),
      mosquitto: run('mosquitto', ['-h'])?.split('\n')[0] ?? null,
    },
    commit: run('git', ['rev-parse', 'HEAD']),
    dirty: (run('git', ['status', '--porcelain']) ?? '') !== '',
  };
}

/** One line for the table's heading. */
export function machineLine(m: Machine): string {
  return `${m.cpus.count} × ${m.cpus.model}, node ${m.node}, commit ${m.commit?.slice(0, 10) ?? '?'}${m.dirty ? ' + uncommitted changes' : ''}`;
}

/** The machine's 1-minute load average now, two decimals. */
export function load1(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

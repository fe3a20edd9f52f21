import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { http, type Http, type Ports } from '../../test/helpers/gridpatrol.js';
import { ROOT } from './machine.js';
import { withNofile } from './spawn.js';

export interface RunningGridPatrol {
  child: ChildProcess;
  ports: Ports;
  http: Http;
  exited: Promise<number | null>;
}

/**
 * GridPatrol as its own process, as `npm start` runs it (`node --import tsx main.ts`), resolved
 * when it logs that it listens. As test/helpers' spawnGridPatrol, plus node options
 * (`--cpu-prof`, which NODE_OPTIONS does not take), an open-files limit, and log level `info`.
 */
export async function startGridPatrol(env: Record<string, string>, nodeArgs: string[] = [], nofile?: number): Promise<RunningGridPatrol> {
  const args = [...nodeArgs, '--import', 'tsx', 'main.ts'];
  const [cmd, argv] = nofile ? withNofile(process.execPath, args, nofile) : [process.execPath, args];
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env, GRIDPATROL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const ports = await new Promise<Ports>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const rec = JSON.parse(line) as { msg: string } & Ports;
      if (rec.msg === 'gridpatrol listening') resolve({ mqttPort: rec.mqttPort, wsPort: rec.wsPort, httpPort: rec.httpPort });
    });
    child.on('exit', (code) => reject(new Error(`gridpatrol exited ${code} before listening: ${stderr}`)));
  });
  return { child, ports, http: http(ports.httpPort), exited };
}

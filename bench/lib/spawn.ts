import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ROOT } from './machine.js';

/**
 * Starts a helper process and resolves with the first JSON line it prints on stdout (its port,
 * pid ...). The rest of its stdout is ignored; stderr is kept for error messages.
 */
export async function spawnJson<T>(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ child: ChildProcess; first: T; stderr: () => string }> {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 8000) stderr += d.toString();
  });
  const first = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(' ')}: nothing printed within ${opts.timeoutMs ?? 30_000} ms: ${stderr}`)), opts.timeoutMs ?? 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      clearTimeout(timer);
      lines.removeAllListeners('line');
      child.stdout!.resume();
      resolve(JSON.parse(line) as T);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')} exited (${code ?? signal}) before it was ready: ${stderr.slice(0, 2000)}`));
    });
  });
  return { child, first, stderr: () => stderr };
}

/** A TypeScript file of this project run by node with tsx, as `npm start` runs main.ts. */
export function tsxArgs(file: string, args: string[] = []): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', file, ...args]];
}

/**
 * The command run through `sh` with the open-files limit raised to `nofile` (or as far as the
 * hard limit allows): a process holding thousands of sockets needs more than the usual 1,024.
 * `exec` keeps the pid, so the child's pid is the command's.
 */
export function withNofile(cmd: string, args: string[], nofile: number): [string, string[]] {
  return ['sh', ['-c', `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, cmd, ...args]];
}

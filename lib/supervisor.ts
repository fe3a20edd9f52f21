import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from './logger.js';

/**
 * The exit code of a GridPatrol, started again, whose start-up could not finish for a passing
 * reason (the data folder turned read-only again meanwhile): start it again soon, with waits
 * that double from firstDelayMs only up to 4 s, not the crash's. EX_TEMPFAIL in sysexits.h.
 */
export const EXIT_RETRY = 75;

/** What a supervised GridPatrol tells its supervisor over the IPC channel. */
export interface SupervisedMessage {
  type: 'listening';
}

export interface SupervisorOptions {
  /** the command that runs GridPatrol itself, and its arguments */
  command: string;
  args: readonly string[];
  /** added to args when it is started again after a death */
  restartArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** the wait before the first restart; it doubles after each restart, up to maxDelayMs */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** EXIT_RETRY's waits double too (a disk that stays full), but only up to this (4 s) */
  maxRetryDelayMs?: number;
  /** a run at least this long starts the waits over at firstDelayMs */
  healthyAfterMs?: number;
}

export interface Supervisor {
  /** the supervisor's exit code: the child's, once it ended for good */
  exited: Promise<number>;
  /** passes the signal on and ends with the child (no restart after this) */
  stop(signal: NodeJS.Signals): void;
  /** the GridPatrol process running now, if one is */
  child(): ChildProcess | undefined;
}

const HINTS: Partial<Record<NodeJS.Signals, string>> = {
  SIGBUS: 'a memory-mapped file could not be written: most often the data folder turned read-only under SQLite',
  SIGKILL: 'killed from outside, often by the kernel for want of memory',
};

/**
 * Runs GridPatrol in a child process and starts it again whenever it dies after it had started
 * (killed by a signal or exiting with an error), with waits that double from firstDelayMs to
 * maxDelayMs. Nothing acknowledged is lost in between: it is in the spool, and the next start
 * stores it (test/spool-kill.test.ts). A child that never got to listen (a bad setting, a port
 * taken) ends the supervisor with its exit code, so a mistake is reported once, not retried.
 * After a crash the same settings had worked, so a failing restart (e.g. a data folder still
 * read-only) is retried. Why not pm2 or forever: they bring a daemon and their own configuration;
 * this is one restart policy, and deployments have theirs (compose `restart:`, systemd `Restart=`).
 */
export function supervise(opts: SupervisorOptions): Supervisor {
  const { command, args, env = process.env, log } = opts;
  const firstDelayMs = opts.firstDelayMs ?? 500;
  const maxDelayMs = opts.maxDelayMs ?? 30_000;
  const healthyAfterMs = opts.healthyAfterMs ?? 60_000;
  const maxRetryDelayMs = opts.maxRetryDelayMs ?? 4_000;
  let current: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let listened = false;
  let stopping: NodeJS.Signals | undefined;
  let restarts = 0;
  let delayMs = firstDelayMs;
  let retryDelayMs = firstDelayMs;
  let finish!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (finish = resolve));

  const start = () => {
    timer = undefined;
    const startedAt = performance.now();
    const child = spawn(command, restarts > 0 ? [...args, ...(opts.restartArgs ?? [])] : args, { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    current = child;
    child.on('message', (m: SupervisedMessage) => {
      if (m?.type !== 'listening') return;
      if (listened) log.info({ pid: child.pid, restarts }, 'gridpatrol running again');
      listened = true;
      retryDelayMs = firstDelayMs;
    });
    child.on('error', (err) => {
      // only when it could not be started at all (exit follows otherwise)
      if (child.pid !== undefined) return;
      log.error({ err, command }, 'cannot start gridpatrol');
      current = undefined;
      finish(1);
    });
    child.on('exit', (code, signal) => {
      current = undefined;
      const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
      // stopped by the signal it was passed (before it could handle it, e.g. while starting): a clean stop
      if (stopping) return finish(signal === stopping ? 0 : exitCode);
      if (!listened || exitCode === 0) return finish(exitCode);
      restarts++;
      if (exitCode === EXIT_RETRY) {
        log.warn({ pid: child.pid, code, restarts, restartInMs: retryDelayMs }, 'gridpatrol could not start yet; starting it again');
        timer = setTimeout(start, retryDelayMs);
        retryDelayMs = Math.min(retryDelayMs * 2, maxRetryDelayMs);
        return;
      }
      if (performance.now() - startedAt >= healthyAfterMs) delayMs = firstDelayMs;
      log.error(
        { pid: child.pid, code, signal, restarts, restartInMs: delayMs, ...(signal && HINTS[signal] && { hint: HINTS[signal] }) },
        'gridpatrol process ended; starting it again (what it acknowledged is in the spool)',
      );
      timer = setTimeout(start, delayMs);
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    });
  };
  start();

  return {
    exited,
    stop(signal) {
      stopping = signal;
      if (current) current.kill(signal);
      else if (timer) {
        clearTimeout(timer);
        finish(0);
      }
    },
    child: () => current,
  };
}

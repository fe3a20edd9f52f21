import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { EXIT_RETRY, supervise } from './supervisor.js';

/**
 * The restart policy, with real child processes: small scripts that behave as GridPatrol can
 * (tell the supervisor they listen, die of SIGBUS, fail to start while the data folder is still
 * read-only). test/supervisor.test.ts runs GridPatrol itself under it.
 */
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a child script; its run number (1, 2, …) is counted in a file beside it. */
function script(body: string): { file: string; runs: () => number } {
  dir = mkdtempSync(join(tmpdir(), 'gridpatrol-supervisor-'));
  const file = join(dir, 'child.cjs');
  const count = join(dir, 'runs');
  writeFileSync(
    file,
    `const fs = require('node:fs');
     const run = Number(fs.existsSync(${JSON.stringify(count)}) ? fs.readFileSync(${JSON.stringify(count)}, 'utf8') : 0) + 1;
     fs.writeFileSync(${JSON.stringify(count)}, String(run));
     const listening = () => process.send({ type: 'listening' });
     const serve = () => { listening(); setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0)); };
     ${body}`,
  );
  return { file, runs: () => (existsSync(count) ? Number(readFileSync(count, 'utf8')) : 0) };
}

function captured() {
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: createLogger('info', out), lines };
}

async function until(check: () => boolean, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('supervise: starts GridPatrol again when it dies', () => {
  it('after a SIGBUS, and again while restarts fail (the folder still read-only), with doubling waits; then stops on SIGTERM', async () => {
    const child = script(`
      if (run === 1) { listening(); setTimeout(() => process.kill(process.pid, 'SIGBUS'), 20); }
      else if (run <= 3) { console.error('gridpatrol: GRIDPATROL_DATA_DIR=/x cannot be written: EPERM'); process.exit(2); }
      else serve();`);
    const { log, lines } = captured();
    const sup = supervise({ command: process.execPath, args: [child.file], log, firstDelayMs: 20, maxDelayMs: 60 });
    await until(() => lines.some((l) => l.msg === 'gridpatrol running again'));
    const ended = lines.filter((l) => l.msg.startsWith('gridpatrol process ended'));
    expect(ended.map(({ signal, code, restarts, restartInMs }) => ({ signal, code, restarts, restartInMs }))).toEqual([
      { signal: 'SIGBUS', code: null, restarts: 1, restartInMs: 20 },
      { signal: null, code: 2, restarts: 2, restartInMs: 40 },
      { signal: null, code: 2, restarts: 3, restartInMs: 60 },
    ]);
    expect(ended[0]).toMatchObject({ level: 50, hint: expect.stringMatching(/data folder turned read-only/) });
    expect(lines.find((l) => l.msg === 'gridpatrol running again')).toMatchObject({ restarts: 3, pid: sup.child()!.pid });
    expect(child.runs()).toBe(4);
    sup.stop('SIGTERM');
    expect(await sup.exited).toBe(0);
    expect(sup.child()).toBeUndefined();
  });

  it('starts a child that exits EXIT_RETRY (its start-up cut off) again soon: a warning each, not a death, waits doubling only up to maxRetryDelayMs', async () => {
    const child = script(`
      if (run === 1) { listening(); setTimeout(() => process.kill(process.pid, 'SIGBUS'), 20); }
      else if (run <= 7) process.exit(${EXIT_RETRY});
      else serve();`);
    const { log, lines } = captured();
    const sup = supervise({ command: process.execPath, args: [child.file], log, firstDelayMs: 10, maxRetryDelayMs: 40 });
    await until(() => lines.some((l) => l.msg === 'gridpatrol running again'), 20_000);
    expect(lines.filter((l) => l.msg.startsWith('gridpatrol process ended')).map((l) => l.signal)).toEqual(['SIGBUS']);
    const retries = lines.filter((l) => l.msg === 'gridpatrol could not start yet; starting it again');
    expect(retries.map((l) => [l.level, l.restartInMs])).toEqual([[40, 10], [40, 20], [40, 40], [40, 40], [40, 40], [40, 40]]);
    sup.stop('SIGTERM');
    expect(await sup.exited).toBe(0);
  });

  it('does not retry a process that never got to listen (a bad setting, a port taken): its exit code is the supervisor’s', async () => {
    const child = script(`process.exit(2);`);
    const { log, lines } = captured();
    const sup = supervise({ command: process.execPath, args: [child.file], log, firstDelayMs: 20 });
    expect(await sup.exited).toBe(2);
    expect(child.runs()).toBe(1);
    expect(lines).toEqual([]);
  });

  it('ends with the child when it exits 0 by itself, and with 128 + n when it dies of a signal before listening', async () => {
    const clean = script(`listening(); setTimeout(() => process.exit(0), 20);`);
    expect(await supervise({ command: process.execPath, args: [clean.file], log: captured().log }).exited).toBe(0);
    expect(clean.runs()).toBe(1);
    rmSync(dir, { recursive: true, force: true });
    const early = script(`process.kill(process.pid, 'SIGBUS');`);
    expect(await supervise({ command: process.execPath, args: [early.file], log: captured().log }).exited).toBe(128 + 7);
  });

  it('a stop during the wait before a restart ends at once, without starting it again', async () => {
    const child = script(`listening(); setTimeout(() => process.exit(1), 20);`);
    const { log, lines } = captured();
    const sup = supervise({ command: process.execPath, args: [child.file], log, firstDelayMs: 60_000 });
    await until(() => lines.length > 0);
    sup.stop('SIGTERM');
    expect(await sup.exited).toBe(0);
    expect(child.runs()).toBe(1);
  });

  it('adds restartArgs only when it starts the child again', async () => {
    const child = script(`
      fs.appendFileSync(${'`${__dirname}/argv`'}, JSON.stringify(process.argv.slice(2)) + '\\n');
      if (run === 1) { listening(); setTimeout(() => process.exit(1), 10); } else serve();`);
    const { log, lines } = captured();
    const sup = supervise({ command: process.execPath, args: [child.file, 'all'], restartArgs: ['--restarted'], log, firstDelayMs: 10 });
    await until(() => lines.some((l) => l.msg === 'gridpatrol running again'));
    expect(readFileSync(join(dir, 'argv'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([['all'], ['all', '--restarted']]);
    sup.stop('SIGTERM');
    expect(await sup.exited).toBe(0);
  });

  it('a child killed by the stop signal it was passed (before it could handle it) is a clean stop: 0', async () => {
    const child = script(`listening(); setInterval(() => {}, 1000);`);
    const sup = supervise({ command: process.execPath, args: [child.file], log: captured().log });
    await until(() => child.runs() === 1);
    await new Promise((r) => setTimeout(r, 100));
    sup.stop('SIGTERM');
    expect(await sup.exited).toBe(0);
  });

  it('starts the waits over after a healthy run', async () => {
    const child = script(`
      if (run <= 2) { listening(); setTimeout(() => process.exit(1), run === 1 ? 10 : 150); }
      else serve();`);
    const { log, lines } = captured();
    const sup = supervise({ command: process.execPath, args: [child.file], log, firstDelayMs: 20, healthyAfterMs: 100 });
    await until(() => lines.some((l) => l.msg === 'gridpatrol running again' && l.restarts === 2));
    expect(lines.filter((l) => l.msg.startsWith('gridpatrol process ended')).map((l) => l.restartInMs)).toEqual([20, 20]);
    sup.stop('SIGTERM');
    expect(await sup.exited).toBe(0);
  });
});

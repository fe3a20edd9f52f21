import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive } from './helpers/gridpatrol.js';


describe('npm run demo', () => {
  it('starts GridPatrol and the demo scenario, says where to look, and stops both cleanly on Ctrl-C', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'simulators/demo.ts', '--http-port', '0', '--mqtt-port', '0', '--ws-port', '0', '--speed', '10', '--no-progress'], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, GRIDPATROL_ADMIN_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const until = Date.now() + 45_000;
    while (!/demo: running demo: /.test(out) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(/demo: running demo: 600 s simulated at 10×/);
    const pid = Number(/GridPatrol is running \(pid (\d+)\)/.exec(out)![1]);
    const dataDir = /data in ([^,)]+)/.exec(out)![1]!;
    expect(alive(pid)).toBe(true);
    expect(out).toMatch(/API docs +http:\/\/127\.0\.0\.1:\d+\/docs/);
    expect(out).toMatch(/Authorization: Bearer [0-9a-f]{48}/);
    // let it publish a little, then Ctrl-C
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/demo \(seed 20261128\) stopped after/);
    expect(out).toMatch(/telemetry +\d+/);
    expect(out).toMatch(/GridPatrol \(pid \d+\) stopped/);
    expect(alive(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });
});

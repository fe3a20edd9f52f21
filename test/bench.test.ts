import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every benchmark runs once in its tiny configuration (`--quick`), so that the suite cannot rot
 * unnoticed. Only that it ran is asserted: it exited 0, printed its table and wrote its JSON.
 * Figures belong to `npm run bench`, never to a timed test.
 */
const ROOT = join(import.meta.dirname, '..');

function bench(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--bench', name], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('benchmarks (--quick)', () => {
  it.each([
    ['ingest', /GridPatrol\+sqlite\s+1\s+single\s+500\s/],
    ['alert-latency', /p50 ms/],
    ['freshness', /sqlite\s+\d+\/\d+\s+\d/],
    ["connections", /GridPatrol\s+100\s+\d/],
    ['queries', /sqlite\s+track .* right/],
    ['startup', /empty\s+\d/],
    ['redis-broker', /node A to node B, through Redis\s+\d/],
  ])('%s runs and prints its figures', async (name, row) => {
    const r = await bench(name);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toMatch(row);
    expect(r.stdout).not.toMatch(/failed:|stopped early/);
    const file = /Results: (\S+\.json)/.exec(r.stdout)?.[1];
    expect(file).toBeDefined();
    const json = JSON.parse(readFileSync(join(ROOT, file!), 'utf8')) as { bench: string; machine: { commit: unknown; node: string } };
    expect(json.bench).toBe(name);
    expect(json.machine.node).toBe(process.version);
  }, 120_000);
});

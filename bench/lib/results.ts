import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { ROOT } from './machine.js';

/** Writes `bench/results/<bench>-<time>.json` (or `out`) and returns the path relative to the working folder. */
export async function writeResults(bench: string, startedAt: Date, body: object, out?: string): Promise<string> {
  const path = out ?? join(ROOT, 'bench/results', `${bench}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ bench, ...body }, null, 2)}\n`);
  return relative(process.cwd(), path) || path;
}

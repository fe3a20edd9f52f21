import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding package.json, assets/ and web/: found by walking up from this module, so
 * the same answer comes from the sources (lib/) and from the start-up bundle (dist/main.mjs).
 */
export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the project folder. */
export const projectPath = (...parts: string[]): string => join(PROJECT_ROOT, ...parts);

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: GridPatrol's files are not where the program is`);
  }
}

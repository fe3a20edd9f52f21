import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GridIndex } from '../../core/grids.js';
import { loadGrids } from '../../lib/grids.js';
import { resolveScenario, type ResolveOptions, type ResolvedScenario } from './resolve.js';
import { Scenario } from './schema.js';
import { formatIssues, parseYamlSource, pathString, zodIssuesAt, type SourceIssue } from './yaml-lines.js';

export const BUNDLED_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

/** A scenario file that does not hold up; `message` lists every problem as file:line:col. */
export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly issues: SourceIssue[],
  ) {
    super(formatIssues(file, issues));
    this.name = 'ScenarioError';
  }
}

/** The bundled scenarios: name → file. */
export function bundledScenarios(): Map<string, string> {
  return new Map(
    readdirSync(BUNDLED_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => [basename(f, '.yaml'), join(BUNDLED_DIR, f)]),
  );
}

/** A bundled scenario's name, or a path to a file. */
export function scenarioPath(nameOrFile: string): string {
  const bundled = bundledScenarios().get(nameOrFile);
  if (bundled && !existsSync(nameOrFile)) return bundled;
  if (!existsSync(nameOrFile)) throw new Error(`no scenario "${nameOrFile}": neither a file nor one of the bundled ones (${[...bundledScenarios().keys()].join(', ')})`);
  return resolve(nameOrFile);
}

export interface LoadedScenario extends ResolvedScenario {
  file: string;
  grids: GridIndex;
  gridsFile: string | undefined;
}

/**
 * Reads, validates and resolves a scenario. Throws ScenarioError naming the line of every problem:
 * YAML syntax, the schema, and references (unknown cells, devices, incidents).
 */
export function loadScenario(nameOrFile: string, o: ResolveOptions & { grids?: GridIndex } = {}): LoadedScenario {
  const file = scenarioPath(nameOrFile);
  return parseScenario(readFileSync(file, 'utf8'), file, o);
}

export function parseScenario(text: string, file: string, o: ResolveOptions & { grids?: GridIndex } = {}): LoadedScenario {
  const shown = relativeName(file);
  const src = parseYamlSource(text);
  if (src.syntaxIssues.length) throw new ScenarioError(shown, src.syntaxIssues);
  const parsed = Scenario.safeParse(src.doc.toJS());
  if (!parsed.success) throw new ScenarioError(shown, zodIssuesAt(src, parsed.error));
  const s = parsed.data;
  let grids = o.grids;
  let gridsFile: string | undefined;
  if (!grids) {
    gridsFile = s.grids !== undefined ? resolve(dirname(file), s.grids) : undefined;
    try {
      grids = loadGrids(gridsFile);
    } catch (err) {
      throw new ScenarioError(shown, [{ ...src.locate(['grids']), path: 'grids', message: (err as Error).message }]);
    }
  }
  const r = resolveScenario(s, grids, o);
  if (!r.ok) throw new ScenarioError(shown, r.issues.map((i) => ({ ...src.locate(i.path), path: pathString(i.path), message: i.message })));
  return { ...r.scenario, file, grids, gridsFile };
}

function relativeName(file: string): string {
  const rel = file.startsWith(process.cwd() + '/') ? file.slice(process.cwd().length + 1) : file;
  return rel;
}

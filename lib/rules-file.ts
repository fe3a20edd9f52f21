import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { Rule, RulesFile, Selector } from '../core/rules.js';
import { projectPath } from './paths.js';

/** The bundled defaults, used when GRIDPATROL_RULES_FILE is unset. */
export const BUNDLED_RULES_FILE = projectPath('assets', 'rules.yaml');

/** A rules file that cannot be used; `message` has one line per problem: `file:line rules[i] (id "x").field: what is wrong`. */
export class RulesFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'RulesFileError';
  }
}

type Path = ReadonlyArray<PropertyKey>;

/** Parses and validates a rules file's text; `file` names it in the errors. */
export function parseRules(text: string, file: string): RulesFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) throw new RulesFileError(file, doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line} ${e.message.split('\n')[0]}`));
  const raw: unknown = doc.toJS();
  const at = (path: Path) => `${file}:${lineOf(doc, lines, path)} ${label(raw, path)}`;
  const problems = unknownFields(raw).map((path) => `${at(path)}: unknown field (a typo? it would be ignored)`);
  const parsed = RulesFile.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => `${at(i.path)}: ${explain(i, raw)}`));
  if (problems.length) throw new RulesFileError(file, problems);
  return parsed.data!;
}

/** Reads, parses and validates a rules file (default: the bundled one). Throws RulesFileError. */
export function loadRulesFile(path: string = BUNDLED_RULES_FILE): RulesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RulesFileError(path, [`${path}: cannot read the rules file (${(err as Error).message})`]);
  }
  return parseRules(text, path);
}

/**
 * Reloads the file when it changes (polling its mtime, which also works on network and
 * container-mounted folders where inotify does not). A new valid version goes to `onChange`;
 * an invalid or missing one goes to `onError` and the caller keeps the rules in force. Returns
 * a function that stops watching. The watcher does not keep the process alive.
 */
export function watchRulesFile(path: string, onChange: (rules: RulesFile) => void, onError: (err: Error) => void, opts: { intervalMs?: number } = {}): () => void {
  let last = readOrUndefined(path);
  const listener = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
    const text = readOrUndefined(path);
    if (text === undefined) return onError(new RulesFileError(path, [`${path}: the rules file is gone; the rules in force stay`]));
    if (text === last) return;
    last = text;
    let rules: RulesFile;
    try {
      rules = parseRules(text, path);
    } catch (err) {
      return onError(err as Error);
    }
    onChange(rules);
  };
  watchFile(path, { interval: opts.intervalMs ?? 1000, persistent: false }, listener);
  return () => unwatchFile(path, listener);
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The line of the value at `path`, or of its nearest ancestor present in the file (a missing field: its rule). */
function lineOf(doc: Document, lines: LineCounter, path: Path): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lines.linePos(node.range[0]).line;
    // an unknown field has no schema value but has a key in the file
    const parent = n > 0 ? doc.getIn(path.slice(0, n - 1) as unknown[], true) : doc.contents;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === path[n - 1]);
      const key = pair?.key as { range?: [number, number, number] } | undefined;
      if (key?.range) return lines.linePos(key.range[0]).line;
    }
  }
  return 1;
}

/** `rules[2] (id "river-rise").per`, `deadlines.critical.response`. */
function label(raw: unknown, path: Path): string {
  if (path.length === 0) return '(the file)';
  let out = '';
  let node: unknown = raw;
  path.forEach((k, i) => {
    out += typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`;
    node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[k] : undefined;
    const id = node !== null && typeof node === 'object' ? (node as { id?: unknown }).id : undefined;
    if (i === 1 && path[0] === 'rules' && typeof id === 'string') out += ` (id "${id}")`;
  });
  return out;
}

function valueAt(raw: unknown, path: Path): unknown {
  return path.reduce<unknown>((n, k) => (n !== null && typeof n === 'object' ? (n as Record<PropertyKey, unknown>)[k] : undefined), raw);
}

/** zod's message, said for a person editing YAML. */
function explain(issue: z.core.$ZodIssue, raw: unknown): string {
  const value = valueAt(raw, issue.path);
  if (issue.path.length === 0 && (value === null || value === undefined)) return 'empty; a rules file has `rules:` with a list of rules';
  if (issue.code === 'invalid_union' && issue.path.at(-1) === 'kind')
    return `${value === undefined ? 'required' : `${JSON.stringify(value)} is not a rule kind`}: one of ${Rule.options.map((o) => o.shape.kind.value).join(', ')}`;
  if (issue.code === 'invalid_value') {
    const allowed = issue.values.map((v) => String(v)).join(', ');
    return value === undefined ? `required: one of ${allowed}` : `${JSON.stringify(value)} is not one of ${allowed}`;
  }
  if (issue.code === 'invalid_type' && value === undefined) return `required (${issue.expected})`;
  return issue.message;
}

/**
 * zod drops keys it does not know, so `fro: 30s` would silently mean "for: 0". Keys that no
 * schema knows are reported instead, with the line they are on.
 */
function unknownFields(raw: unknown): Path[] {
  const out: Path[] = [];
  const check = (obj: unknown, known: readonly string[], path: Path) => {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return;
    for (const k of Object.keys(obj)) if (!known.includes(k)) out.push([...path, k]);
  };
  check(raw, Object.keys(RulesFile.shape), []);
  const rules = (raw as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return out;
  rules.forEach((r: unknown, i) => {
    const kind = (r as { kind?: unknown } | null)?.kind;
    const schema = Rule.options.find((o) => o.shape.kind.value === kind);
    if (!schema) return;
    check(r, Object.keys(schema.shape), ['rules', i]);
    check((r as { appliesTo?: unknown }).appliesTo, Object.keys(Selector.shape), ['rules', i, 'appliesTo']);
  });
  return out;
}

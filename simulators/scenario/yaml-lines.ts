import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';

/** One problem in a source file, where it is: 1-based line and column. */
export interface SourceIssue {
  line: number;
  col: number;
  /** the field, as `timeline[3].lostLink.duration`; empty for the whole file */
  path: string;
  message: string;
}

/** A YAML document that can say on which line a value (or the key it belongs to) is. */
export interface YamlSource {
  doc: Document.Parsed;
  /** YAML syntax problems (bad indentation, duplicate keys, …) */
  syntaxIssues: SourceIssue[];
  /** the line and column of the deepest node along `path` that exists */
  locate(path: readonly PropertyKey[], key?: string): { line: number; col: number };
}

export function pathString(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

/**
 * Parses YAML keeping source positions (yaml's parseDocument with a LineCounter), so that a
 * schema's complaint about `drones[2].cruiseMs` can say "line 14".
 */
export function parseYamlSource(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const pos = (offset: number) => lineCounter.linePos(offset);
  const syntaxIssues = [...doc.errors, ...doc.warnings].map((e) => {
    const at = e.linePos?.[0] ?? pos(e.pos[0]);
    return { line: at.line, col: at.col, path: '', message: e.message.split('\n')[0]! };
  });

  function locate(path: readonly PropertyKey[], key?: string): { line: number; col: number } {
    let node: unknown = doc.contents;
    let found: Node | null = isNode(node) ? node : null;
    for (const k of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(k));
        if (!pair) break;
        node = pair.value ?? pair.key;
        found = (isNode(pair.value) ? pair.value : isNode(pair.key) ? pair.key : found) ?? found;
      } else if (isSeq(node) && typeof k === 'number') {
        node = node.items[k];
        if (!isNode(node)) break;
        found = node;
      } else break;
    }
    // an unknown key: point at the key itself
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
      if (pair && isNode(pair.key)) found = pair.key;
    }
    const offset = found?.range?.[0] ?? 0;
    return pos(offset);
  }

  return { doc, syntaxIssues, locate };
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && 'range' in x;
}

/** zod issues as source issues: each at the line of the value it is about (an unknown key: the key's line). */
export function zodIssuesAt(src: YamlSource, error: z.ZodError): SourceIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((k) => ({ ...src.locate(issue.path, k), path: pathString([...issue.path, k]), message: `unknown key "${k}"` }));
    if (issue.code === 'invalid_union' && 'errors' in issue && issue.message === 'Invalid input') {
      // say what each alternative wanted: `expected 0; expected 1`
      const wanted = [...new Set((issue.errors as z.core.$ZodIssue[][]).map((alt) => alt[0]?.message).filter(Boolean))];
      if (wanted.length) return [{ ...src.locate(issue.path), path: pathString(issue.path), message: `none of the allowed forms: ${wanted.join('; ')}` }];
    }
    return [{ ...src.locate(issue.path), path: pathString(issue.path), message: issue.message }];
  });
}

/** `file:line:col: path: message`, one per line, in file order */
export function formatIssues(file: string, issues: readonly SourceIssue[]): string {
  return [...issues]
    .sort((a, b) => a.line - b.line || a.col - b.col)
    .map((i) => `${file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`)
    .join('\n');
}

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './lib/machine.js';

/**
 * Summarises V8 CPU profiles (node --cpu-prof; `npm run bench -- --profile DIR`): self time by
 * function, and by package or source folder, largest first.
 * Usage: tsx bench/profile-top.ts FILE.cpuprofile [more …] [--top N] [--skip S]
 * --skip S leaves out each profile's first S seconds (start-up: module loading, registration).
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const args = process.argv.slice(2);
const option = (name: string, dflt: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args.splice(at, 2)[1]) : dflt;
};
const top = option('--top', 40);
const skipUs = option('--skip', 0) * 1e6;
const files = args;
const byFn = new Map<string, number>();
const byArea = new Map<string, number>();
let total = 0;

function area(url: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 13).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  return relative(ROOT, path).split('/').slice(0, -1).join('/') || relative(ROOT, path);
}

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  let at = 0;
  // self time: each sample's time goes to the node it landed in
  p.samples.forEach((id, i) => {
    const n = nodes.get(id)!;
    const us = p.timeDeltas[i] ?? 0;
    at += us;
    if (at < skipUs) return;
    const f = n.callFrame;
    const where = f.url ? `${relative(ROOT, f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const a = f.functionName === '(garbage collector)' ? '(garbage collector)' : f.functionName === '(idle)' ? '(idle)' : f.functionName === '(program)' ? '(program)' : area(f.url);
    byArea.set(a, (byArea.get(a) ?? 0) + us);
    total += us;
  });
}
const busy = total - (byArea.get('(idle)') ?? 0);
const show = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${((us * 100) / busy).toFixed(1).padStart(5)} %  ${k}`).join('\n');
process.stdout.write(`${files.length} profile(s), ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle (percentages of that)\n\nby package or folder:\n${show(byArea, 25)}\n\nby function (self time):\n${show(byFn, top)}\n`);

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { addEncoded, encodeHistogram, latencyHistogram, summarizeLatency } from './lib/latency.js';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import type { FromWorker } from './load-worker.js';

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * runLoad over several processes (each its own event loop and core): the drones are split
 * evenly, every worker connects its share, then all start publishing together. The results add
 * up; the latency histograms merge.
 */
export async function runLoadInWorkers(o: LoadOptions, workers: number): Promise<LoadResult> {
  if (workers <= 1) return runLoad(o);
  const { onReady, onProgress, ...plain } = o;
  const shares = Array.from({ length: workers }, (_, k) => o.devices.filter((_, i) => i % workers === k)).filter((s) => s.length);
  const children: ChildProcess[] = [];
  const progress = shares.map(() => ({ sent: 0, acked: 0, failed: 0 }));
  let ready = 0;
  const t0 = performance.now();
  try {
    const results = await new Promise<LoadResult[]>((resolve, reject) => {
      const out: LoadResult[] = [];
      shares.forEach((devices, k) => {
        const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        child.on('message', (m: FromWorker) => {
          if (m.type === 'ready' && ++ready === shares.length)
            void Promise.resolve(onReady?.()).then(() => children.forEach((c) => c.send({ type: 'go' })), reject);
          else if (m.type === 'progress') {
            progress[k] = m;
            onProgress?.({ ...progress.reduce((a, p) => ({ sent: a.sent + p.sent, acked: a.acked + p.acked, failed: a.failed + p.failed })), elapsedMs: performance.now() - t0 });
          } else if (m.type === 'result') {
            out.push(m.result);
            if (out.length === shares.length) resolve(out);
          } else if (m.type === 'error') reject(new Error(`load worker ${k + 1}: ${m.message}`));
        });
        child.on('exit', (code) => {
          if (code !== 0 && out.length < shares.length) reject(new Error(`load worker ${k + 1} exited with ${code}`));
        });
        child.send({ type: 'start', options: { ...plain, devices, seed: (o.seed ?? 1) + k } });
      });
    });
    return merge(results);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}

function merge(rs: LoadResult[]): LoadResult {
  const h = latencyHistogram();
  for (const r of rs) addEncoded(h, r.latencyHistogram);
  const sum = (f: (r: LoadResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  return {
    sent: sum((r) => r.sent), acked: sum((r) => r.acked), points: sum((r) => r.points), pointsAcked: sum((r) => r.pointsAcked),
    elapsedMs: Math.max(...rs.map((r) => r.elapsedMs)), sendMs: Math.max(...rs.map((r) => r.sendMs)),
    nextSeq: Math.max(...rs.map((r) => r.nextSeq)), failed: sum((r) => r.failed),
    errors: { count: sum((r) => r.errors.count), samples: rs.flatMap((r) => r.errors.samples).slice(0, 5) },
    latency: summarizeLatency(h), latencyHistogram: encodeHistogram(h),
  };
}

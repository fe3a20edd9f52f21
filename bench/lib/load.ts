import { runLoad, type LoadOptions, type LoadResult } from '../../simulators/load.js';
import { runLoadInWorkers } from '../../simulators/load-workers.js';

/**
 * The simulators' load generator, in this process (workers 1: its CPU is measured from the first
 * publish to the last PUBACK) or split over worker processes (its CPU is then not measured).
 */
export async function generate(o: LoadOptions, workers: number): Promise<{ res: LoadResult; loadCpuMs: number | null }> {
  if (workers > 1) return { res: await runLoadInWorkers(o, workers), loadCpuMs: null };
  let before = process.cpuUsage();
  const res = await runLoad({
    ...o,
    onReady: async () => {
      await o.onReady?.();
      before = process.cpuUsage();
    },
  });
  const used = process.cpuUsage(before);
  return { res, loadCpuMs: (used.user + used.system) / 1000 };
}

import { runLoad, type LoadOptions, type LoadResult } from './load.js';

/**
 * One worker process of `sim load --workers N` (forked by load-workers.ts): runs runLoad for its
 * share of the drones and reports over IPC. Starts publishing only when the parent says go, so
 * that every worker's connections are up before the first message of any.
 */
type FromParent = { type: 'start'; options: Omit<LoadOptions, 'onReady' | 'onProgress'> } | { type: 'go' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; sent: number; acked: number; failed: number }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };

const send = (m: FromWorker) => process.send!(m);
let go: (() => void) | undefined;
const started = new Promise<void>((resolve) => (go = resolve));

process.on('message', (m: FromParent) => {
  if (m.type === 'go') return go?.();
  runLoad({
    ...m.options,
    onReady: async () => {
      send({ type: 'ready' });
      await started;
    },
    onProgress: (p) => send({ type: 'progress', sent: p.sent, acked: p.acked, failed: p.failed }),
  }).then(
    (result) => send({ type: 'result', result }),
    (err: Error) => send({ type: 'error', message: err.message }),
  ).finally(() => process.disconnect());
});

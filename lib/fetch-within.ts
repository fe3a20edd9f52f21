/**
 * fetch with a deadline that holds: at `timeoutMs` the request is aborted and the call rejects
 * with a TimeoutError whether or not the abort reaches the request. On Node 20 a fetch whose
 * signal is `AbortSignal.any([AbortSignal.timeout(ms), …])` hangs for good once garbage
 * collection runs while it waits (v20.20.2: 20 of 20 requests to a server that never answers
 * still pending after 3 s; the composite signal is only weakly held, cf. nodejs/node#55428), so
 * a hung webhook target stopped every later delivery. Here the timer holds the controller
 * strongly and races the request. `read` consumes the response within the same deadline;
 * `stop` aborts at once (shutdown).
 */
export async function fetchWithin<T>(url: string, init: RequestInit, timeoutMs: number, read: (res: Response) => Promise<T>, stop?: AbortSignal): Promise<T> {
  const ac = new AbortController();
  const abort = () => ac.abort(stop?.reason);
  if (stop?.aborted) abort();
  stop?.addEventListener('abort', abort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError');
      ac.abort(err);
      reject(err);
    }, timeoutMs);
  });
  const attempt = fetch(url, { ...init, signal: ac.signal }).then(read);
  attempt.catch(() => {}); // when the deadline won, nobody waits for it any more
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener('abort', abort);
  }
}

import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with a request it faults: pass it through, answer a status itself, or pass it through late. */
export type FaultMode = { kind: 'pass' } | { kind: 'status'; status: number } | { kind: 'delay'; ms: number };

export interface FaultProxy {
  url: string;
  set(mode: FaultMode): void;
  /** requests answered by the target, and requests the proxy answered itself (status mode) */
  readonly counts: { passed: number; faulted: number; delayed: number };
  close(): Promise<void>;
}

/**
 * A small HTTP proxy in front of a real server (influxd) that injects faults into the requests
 * whose path matches `faulted` (default: writes), passing every other request through untouched.
 */
export async function startFaultProxy(target: string, faulted: RegExp = /^\/(write|api\/v2\/write)\b/): Promise<FaultProxy> {
  const to = new URL(target);
  let mode: FaultMode = { kind: 'pass' };
  const counts = { passed: 0, faulted: 0, delayed: 0 };
  const timers = new Set<NodeJS.Timeout>();

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse): void => {
    const upstream = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (up) => {
        counts.passed++;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `fault proxy: ${err.message}` }));
    });
    upstream.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const m = faulted.test(req.url ?? '') ? mode : ({ kind: 'pass' } as const);
      if (m.kind === 'status') {
        counts.faulted++;
        res.writeHead(m.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `injected by the fault proxy: ${m.status}` }));
      } else if (m.kind === 'delay') {
        counts.delayed++;
        const t = setTimeout(() => {
          timers.delete(t);
          forward(req, body, res);
        }, m.ms);
        timers.add(t);
      } else {
        forward(req, body, res);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    set: (m) => void (mode = m),
    counts,
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

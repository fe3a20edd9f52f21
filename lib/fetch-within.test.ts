import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchWithin } from './fetch-within.js';

/** A TCP server that accepts and never says a word (a hung webhook target or store). */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => void sockets.push(s.on('error', () => {})));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

describe('fetchWithin', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('rejects with a TimeoutError when the server never answers', async () => {
    const server = await silentServer();
    close = server.close;
    const t0 = performance.now();
    const pending = fetchWithin(server.url, { method: 'POST', body: 'x' }, 300, async (r) => r.status);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('keeps its deadline while garbage collection runs (AbortSignal.any with a timeout does not, on Node 20)', () => {
    // a process of its own: vitest's workers have no --expose-gc
    const dir = mkdtempSync(join(tmpdir(), 'gp-fetch-gc-'));
    const script = join(dir, 'gc.mts');
    writeFileSync(script, `
      import { createServer } from 'node:net';
      import { fetchWithin } from ${JSON.stringify(join(import.meta.dirname, 'fetch-within.ts'))};
      const held = [];
      const srv = createServer((s) => held.push(s)).listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + srv.address().port + '/';
        const gcs = setInterval(() => globalThis.gc(), 20);
        const pending = new Promise((r) => setTimeout(() => r('pending'), 3000));
        const one = (f) => Promise.race([f().then(() => 'answered', (e) => e.name), pending]);
        const ours = await Promise.all(Array.from({ length: 10 }, () => one(() => fetchWithin(url, { method: 'POST', body: 'x' }, 300, async () => 1))));
        const plain = await Promise.all(Array.from({ length: 10 }, () => one(() => fetch(url, { method: 'POST', body: 'x', signal: AbortSignal.any([AbortSignal.timeout(300)]) }))));
        clearInterval(gcs);
        console.log(JSON.stringify({ ours, plain }));
        process.exit(0);
      });`);
    try {
      const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { encoding: 'utf8', cwd: join(import.meta.dirname, '..') }));
      expect(out.ours).toEqual(Array(10).fill('TimeoutError'));
      // what this helper exists for (not asserted: it depends on when GC runs, and on the Node release)
      console.log(`AbortSignal.any([AbortSignal.timeout(300)]) with GC running, Node ${process.version}: ${out.plain.filter((x: string) => x === 'pending').length} of 10 still pending after 3 s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('reads an answer within the deadline, and aborts at once when stopped', async () => {
    const { createServer: createHttp } = await import('node:http');
    const http = createHttp((_req, res) => res.end('pong'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    close = () => new Promise((r) => http.close(() => r()));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    expect(await fetchWithin(url, {}, 5000, (r) => r.text())).toBe('pong');

    const silent = await silentServer();
    const stop = new AbortController();
    const pending = fetchWithin(silent.url, {}, 60_000, (r) => r.text(), stop.signal);
    stop.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await silent.close();
  });
});

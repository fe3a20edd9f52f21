import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { GridPatrolError } from '../../lib/errors.js';

/** Requests a client may make per minute to a route marked expensive (`config: { rateLimit: EXPENSIVE }`). */
export const EXPENSIVE = { max: 120, timeWindow: 60_000 };

/**
 * Security headers (helmet), per-route limits on expensive queries, and no CORS: the dashboard is
 * served from this origin, so cross-origin browsers get nothing unless a later setting allows it.
 * `tileUrl` (GRIDPATROL_TILE_URL) adds the tile server to `img-src`.
 */
export async function registerSecurity(app: FastifyInstance, opts: { tileUrl?: string } = {}): Promise<void> {
  const tiles = opts.tileUrl ? [tileSource(opts.tileUrl)] : [];
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:', ...tiles], 'connect-src': ["'self'", 'ws:', 'wss:'],
        // MQTT.js keeps its keepalive timer in a worker made from a blob, so a background tab's
        // throttled timers do not drop the dashboard's connection
        'worker-src': ["'self'", 'blob:'],
        // helmet's default would make a browser fetch the dashboard's scripts and API over https
        // when GridPatrol is reached over plain http by address (not localhost): nothing would load
        'upgrade-insecure-requests': null,
      },
    },
  });
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) =>
      new GridPatrolError('GP_ERR_API_RATE_LIMITED', `more than ${ctx.max} requests in ${ctx.after === '' ? 'a minute' : 'the window'}; retry in ${ctx.after}`),
  });
}

/**
 * The CSP source that admits a tile URL template: its scheme and host, a leading `{s}` subdomain
 * becoming `*.`; any other placeholder in the host leaves only the scheme.
 */
export function tileSource(template: string): string {
  const m = /^(https?):\/\/([^/?#]+)/.exec(template);
  if (!m) return "'none'";
  const host = m[2]!.replace(/^\{s\}\./, '*.');
  return /[{}]/.test(host) ? `${m[1]}:` : `${m[1]}://${host}`;
}

/**
 * Failed authentications per client address: past `max` in a window the address gets 429 without
 * its token being looked at. (@fastify/rate-limit counts requests, not failures, so this is ours.)
 */
export class AuthFailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly max = 30,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxClients = 10_000,
  ) {}

  blocked(ip: string): boolean {
    const w = this.windows.get(ip);
    return !!w && this.now() - w.start < this.windowMs && w.failures >= this.max;
  }

  fail(ip: string): void {
    const now = this.now();
    let w = this.windows.get(ip);
    if (!w || now - w.start >= this.windowMs) {
      this.windows.delete(ip);
      if (this.windows.size >= this.maxClients) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(ip, (w = { start: now, failures: 0 }));
    }
    w.failures++;
  }
}

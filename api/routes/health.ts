import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Health } from '../../core/api.js';
import type { Metrics } from '../../lib/metrics.js';

export interface HealthOptions {
  metrics: Metrics;
  /** each check: ok, and a detail a person can act on when not ok */
  readiness: () => Promise<Record<string, { ok: boolean; detail?: string }>>;
}

/** Liveness, readiness (broker, store, spool) and Prometheus metrics; no authentication. */
export const healthRoutes: FastifyPluginAsyncZod<HealthOptions> = async (app, opts) => {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: { tags: ['health'], response: { 200: Health, 503: Health } } }, async (_req, reply) => {
    const checks = await opts.readiness();
    const ok = Object.values(checks).every((c) => c.ok);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
  });

  app.get('/metrics', { schema: { tags: ['health'], produces: ['text/plain'] } }, async (_req, reply) => {
    reply.type(opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
};

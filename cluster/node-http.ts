import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { healthRoutes, type HealthOptions } from '../api/routes/health.js';
import type { Logger } from '../lib/logger.js';

/** `/healthz`, `/readyz` and `/metrics` of a broker or ingest process (the api role serves the whole API). */
export async function buildNodeHttp(o: HealthOptions & { log: Logger }): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({ loggerInstance: o.log.child({ component: 'http' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(healthRoutes, { metrics: o.metrics, readiness: o.readiness });
  return app;
}

export function portOf(app: FastifyInstance, fallback: number): number {
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : fallback;
}

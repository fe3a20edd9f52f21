import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { GridIndex } from '../core/grids.js';
import type { Principal } from '../core/principal.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { DeadLetters } from '../storage/dead-letters.js';
import type { DeviceRegistry } from '../storage/devices.js';
import type { LiveState } from '../storage/live-state.js';
import type { TelemetryStore } from '../storage/telemetry-store.js';
import type { MetadataDb } from '../storage/metadata-db.js';
import type { TokenStore } from '../storage/tokens.js';
import { tokenRoutes } from './routes/tokens.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { Alerting } from '../alerts/runtime.js';
import { alertRoutes } from './routes/alerts.js';
import { reportRoutes } from './routes/reports.js';
import { ruleRoutes } from './routes/rules.js';
import { silenceRoutes } from './routes/silences.js';
import { authPlugin } from './plugins/auth.js';
import { registerProblemHandlers } from './problem.js';
import { registerSecurity } from './plugins/security.js';
import { dashboardRoutes, type DashboardOptions } from './routes/dashboard.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { deviceRoutes } from './routes/devices.js';
import { droneRoutes } from './routes/drones.js';
import { gridRoutes } from './routes/grids.js';
import { healthRoutes, type HealthOptions } from './routes/health.js';
import { sensorRoutes } from './routes/sensors.js';

export interface ApiDeps {
  store: TelemetryStore;
  live: LiveState;
  devices: DeviceRegistry;
  deadLetters: DeadLetters;
  grids: GridIndex;
  metrics: Metrics;
  log: Logger;
  verifyToken: (token: string) => Promise<Principal | null>;
  readiness: HealthOptions['readiness'];
  now?: () => number;
  /** rules, alerts and their delivery; absent in API tests that do not need them */
  alerting?: Alerting;
  tokens?: TokenStore;
  db?: MetadataDb;
  /** largest request body, bytes */
  bodyLimitBytes?: number;
  /** the dashboard at `/`: where live data comes from, optional map tiles, the bundle's folder */
  dashboard?: Partial<DashboardOptions>;
  /** certificate and key: the API listens over HTTPS instead of HTTP */
  tls?: { cert: Buffer; key: Buffer };
}

/** The HTTP API, built but not listening: tests `inject`, main listens. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const options = { loggerInstance: deps.log.child({ component: 'api' }) as FastifyBaseLogger, bodyLimit: deps.bodyLimitBytes ?? 64 * 1024, logController: new LogController({ disableRequestLogging: true }) };
  // an HTTPS instance differs from an HTTP one only in its server type; routes see the same request and reply
  const app: FastifyInstance = deps.tls ? (Fastify({ ...options, https: { cert: deps.tls.cert, key: deps.tls.key } }) as unknown as FastifyInstance) : Fastify(options);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandlers(app);
  app.addHook('onResponse', async (req, reply) => {
    if (req.url.startsWith('/api/v1/alerts/stream')) return;
    deps.metrics.httpSeconds.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: `${Math.floor(reply.statusCode / 100)}xx` }, reply.elapsedTime / 1000);
  });
  await registerSecurity(app, { tileUrl: deps.dashboard?.tileUrl });

  await app.register(swagger, {
    openapi: {
      info: { title: 'GridPatrol API', version: '1.0.0', description: 'Drone patrol telemetry: devices, fleet state, tracks, readings, dead letters (CONTRACT v1).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(authPlugin, { verifyToken: deps.verifyToken });
  const now = deps.now ?? Date.now;
  const typed = app.withTypeProvider<ZodTypeProvider>();
  await typed.register(healthRoutes, { metrics: deps.metrics, readiness: deps.readiness });
  await typed.register(deviceRoutes, { devices: deps.devices, cellExists: (id) => !!deps.grids.cell(id) });
  await typed.register(droneRoutes, { devices: deps.devices, live: deps.live, store: deps.store, now });
  await typed.register(sensorRoutes, { devices: deps.devices, live: deps.live, store: deps.store, now });
  await typed.register(gridRoutes, { grids: deps.grids });
  if (deps.tokens) await typed.register(tokenRoutes, { tokens: deps.tokens, cellExists: (id) => !!deps.grids.cell(id), now });
  await typed.register(deadLetterRoutes, { deadLetters: deps.deadLetters });
  await typed.register(dashboardRoutes, { mqttWsPort: () => null, ...deps.dashboard });
  if (deps.alerting && deps.db) {
    await typed.register(alertRoutes, { alerts: deps.alerting.service, sse: deps.alerting.sse });
    await typed.register(silenceRoutes, { alerts: deps.alerting.service });
    await typed.register(ruleRoutes, { rules: deps.alerting.rules });
    await typed.register(reportRoutes, { db: deps.db, now });
    await typed.register(webhookRoutes, { webhooks: deps.alerting.webhooks });
  }
  return app;
}

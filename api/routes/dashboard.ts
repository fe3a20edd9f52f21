import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { InfoView } from '../../core/api.js';
import { actorOf } from '../../core/principal.js';
import { projectPath } from '../../lib/paths.js';

export interface DashboardOptions {
  /** the built bundle (`npm run build:web`); default web/dist */
  webDir?: string;
  /** MQTT over WebSocket port once listening (null before) */
  mqttWsPort: () => number | null;
  tileUrl?: string;
  tileAttribution?: string;
}

export const DEFAULT_WEB_DIR = projectPath('web', 'dist');

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>GridPatrol</title>
<p>The dashboard is not built. Run <code>npm run build:web</code> (<code>npm start</code> does it), then reload.
The API is described at <a href="/docs">/docs</a>.</p>`;

/**
 * The operations dashboard: its static bundle at `/` (no token needed to load the page; the page
 * asks for one and sends it with every API call) and `GET /api/v1/info`, what the page learns
 * after sign-in: the caller's role, the MQTT over WebSocket port, the optional map tiles.
 */
export const dashboardRoutes: FastifyPluginAsyncZod<DashboardOptions> = async (app, opts) => {
  const root = opts.webDir ?? DEFAULT_WEB_DIR;
  if (existsSync(join(root, 'index.html'))) {
    // wildcard: false serves exactly the files built, so any other path keeps the API's 404
    await app.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: 'index.html', schemaHide: true, cacheControl: true, maxAge: 0 });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT));
  }

  const tiles = opts.tileUrl ? { url: opts.tileUrl, attribution: opts.tileAttribution ?? null } : null;
  app.get('/api/v1/info', { onRequest: app.requireRole('operator'), schema: { tags: ['dashboard'], response: { 200: InfoView } } }, async (req) => {
    const p = req.principal;
    const you = p?.type === 'person' ? { name: actorOf(p), role: p.role, grids: p.grids ?? null } : { name: actorOf(p), role: 'operator' as const, grids: null };
    return { name: 'GridPatrol' as const, you, mqttWs: { port: opts.mqttWsPort(), path: '/mqtt' }, tiles };
  });
};

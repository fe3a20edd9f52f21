import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { GridsView } from '../../core/api.js';
import type { GridIndex } from '../../core/grids.js';

/** The grid cells and no-fly zones as GeoJSON, each cell with its responsible officer (operator). */
export const gridRoutes: FastifyPluginAsyncZod<{ grids: GridIndex }> = async (app, opts) => {
  const body = {
    type: 'FeatureCollection' as const,
    name: opts.grids.collection.name,
    features: opts.grids.collection.features.map((f) => ({ ...f, id: f.properties.id, properties: { ...f.properties, kind: f.properties.kind ?? 'cell' } })),
  };
  app.get('/api/v1/grids', { onRequest: app.requireRole('operator'), schema: { tags: ['grids'], response: { 200: GridsView } } }, async (_req, reply) => {
    reply.type('application/geo+json');
    return body;
  });
};

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Silence, SilenceCreate } from '../../core/alerts.js';
import { listOf } from '../../core/api.js';
import type { AlertService } from '../../alerts/service.js';
import { actorOf } from '../../core/principal.js';

/** Silences for planned work: who, why, from when to when; every change audited (officer). */
export const silenceRoutes: FastifyPluginAsyncZod<{ alerts: AlertService }> = async (app, opts) => {
  const officer = { onRequest: app.requireRole('officer') };

  // z.stringbool, not z.coerce.boolean: the query string "false" is a non-empty string, which coerces to true
  app.get('/api/v1/silences', { ...officer, schema: { tags: ['silences'], querystring: z.object({ expired: z.stringbool().default(false).describe('true: also silences that ended') }), response: { 200: listOf(Silence) } } }, async (req) => ({
    items: opts.alerts.listSilences({ includeExpired: req.query.expired }),
    next: null,
  }));

  app.post('/api/v1/silences', { ...officer, schema: { tags: ['silences'], body: SilenceCreate, response: { 201: Silence } } }, async (req, reply) =>
    reply.code(201).send(opts.alerts.createSilence(req.body, actorOf(req.principal))),
  );

  app.delete('/api/v1/silences/:id', { ...officer, schema: { tags: ['silences'], params: z.object({ id: z.string().min(1).max(64) }), response: { 200: Silence } } }, async (req) =>
    opts.alerts.deleteSilence(req.params.id, actorOf(req.principal)),
  );
};

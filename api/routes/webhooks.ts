import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listOf } from '../../core/api.js';
import type { Webhooks } from '../../alerts/delivery/webhooks.js';
import { iso } from '../time.js';

const Delivery = z.object({
  id: z.number().int(),
  target: z.string(),
  eventId: z.number().int().describe('the alert transition (SSE event id) delivered'),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  createdAt: z.iso.datetime(),
  deliveredAt: z.iso.datetime().nullable(),
  nextAttemptAt: z.iso.datetime().nullable().describe('pending: when the next attempt is due'),
});

/** Webhook deliveries, so that undelivered ones are visible (admin). */
export const webhookRoutes: FastifyPluginAsyncZod<{ webhooks: Webhooks | null }> = async (app, opts) => {
  app.get('/api/v1/webhooks/deliveries', {
    onRequest: app.requireRole('admin'),
    schema: {
      tags: ['webhooks'],
      querystring: z.object({ status: Delivery.shape.status.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100), cursor: z.string().regex(/^\d+$/).optional() }),
      response: { 200: listOf(Delivery) },
    },
  }, async (req) => {
    if (!opts.webhooks) return { items: [], next: null };
    const rows = opts.webhooks.list({ status: req.query.status, limit: req.query.limit + 1, before: req.query.cursor === undefined ? undefined : Number(req.query.cursor) });
    const page = rows.slice(0, req.query.limit);
    return {
      items: page.map((d) => ({ ...d, createdAt: iso(d.createdAt)!, deliveredAt: iso(d.deliveredAt), nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null })),
      next: rows.length > req.query.limit ? String(page[page.length - 1]!.id) : null,
    };
  });
};

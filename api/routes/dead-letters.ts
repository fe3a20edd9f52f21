import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DeadLetterView, DeadLettersQuery, listOf } from '../../core/api.js';
import type { DeadLetters } from '../../storage/dead-letters.js';
import { iso, queryTimeMs } from '../time.js';

/** Rejected payloads with their reasons, newest first (operator). */
export const deadLetterRoutes: FastifyPluginAsyncZod<{ deadLetters: DeadLetters }> = async (app, opts) => {
  app.get('/api/v1/dead-letters', { onRequest: app.requireRole('operator'), schema: { tags: ['dead-letters'], querystring: DeadLettersQuery, response: { 200: listOf(DeadLetterView) } } }, async (req) => {
    const q = req.query;
    const before = q.cursor !== undefined && /^\d+$/.test(q.cursor) ? Number(q.cursor) : undefined;
    const items = opts.deadLetters.list({
      deviceId: q.device, stage: q.stage, before, limit: q.limit + 1,
      from: q.from === undefined ? undefined : queryTimeMs(q.from, 0),
      to: q.to === undefined ? undefined : queryTimeMs(q.to, 0),
    });
    const page = items.slice(0, q.limit);
    return { items: page.map((l) => ({ ...l, receivedAt: iso(l.receivedAt)! })), next: items.length > q.limit ? String(page[page.length - 1]!.id) : null };
  });
};

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { EXPENSIVE } from '../plugins/security.js';
import { z } from 'zod';
import { SlaRow } from '../../core/alerts.js';
import { canSeeCell } from '../../core/principal.js';
import { QueryTime } from '../../core/time.js';
import { slaReport } from '../../alerts/sla.js';
import type { MetadataDb } from '../../storage/metadata-db.js';
import { timeRange } from '../time.js';

/** Time to acknowledge and to resolve, per cell and severity (officer). */
export const reportRoutes: FastifyPluginAsyncZod<{ db: MetadataDb; now: () => number }> = async (app, opts) => {
  app.get('/api/v1/reports/sla', {
    onRequest: app.requireRole('officer'),
    config: { rateLimit: EXPENSIVE },
    schema: { tags: ['reports'], querystring: z.object({ from: QueryTime.optional().describe('default: 30 days before `to`'), to: QueryTime.optional().describe('default: now') }), response: { 200: z.object({ from: z.iso.datetime(), to: z.iso.datetime(), items: z.array(SlaRow) }) } },
  }, async (req) => {
    const now = opts.now();
    const range = timeRange(req.query, now, 30 * 86_400_000, 3660 * 86_400_000);
    const items = slaReport(opts.db, { ...range, now }).filter((r) => canSeeCell(req.principal, r.gridId));
    return { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), items };
  });
};

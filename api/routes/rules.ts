import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RulesFile } from '../../core/rules.js';

/** The risk rules in force (officer). Durations are shown in milliseconds, as parsed. */
export const ruleRoutes: FastifyPluginAsyncZod<{ rules: () => RulesFile }> = async (app, opts) => {
  app.get('/api/v1/rules', {
    onRequest: app.requireRole('officer'),
    schema: { tags: ['rules'], response: { 200: z.object({ items: z.array(z.record(z.string(), z.unknown())), next: z.null(), deadlines: z.record(z.string(), z.unknown()) }) } },
  }, async () => {
    const f = opts.rules();
    return { items: f.rules as unknown as Array<Record<string, unknown>>, next: null, deadlines: f.deadlines as Record<string, unknown> };
  });
};

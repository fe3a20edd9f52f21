import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Cursor, IssuedToken, TokenCreate, TokenView, listOf } from '../../core/api.js';
import { GridPatrolError } from '../../lib/errors.js';
import type { ApiToken, TokenStore } from '../../storage/tokens.js';
import { iso, queryTimeMs } from '../time.js';

export interface TokenRoutesOptions {
  tokens: TokenStore;
  cellExists: (gridId: string) => boolean;
  now: () => number;
}

const view = (t: ApiToken) => ({ id: t.id, name: t.name, role: t.role, grids: t.grids ?? null, expiresAt: iso(t.expiresAt), createdAt: iso(t.createdAt)!, revokedAt: iso(t.revokedAt) });

/** API tokens for people and apps: issue (shown once), list, revoke (admin). */
export const tokenRoutes: FastifyPluginAsyncZod<TokenRoutesOptions> = async (app, opts) => {
  const admin = { onRequest: app.requireRole('admin') };

  app.post('/api/v1/tokens', { ...admin, schema: { tags: ['tokens'], body: TokenCreate, response: { 201: IssuedToken } } }, async (req, reply) => {
    const { name, role, grids } = req.body;
    const unknown = grids?.filter((g) => !opts.cellExists(g)) ?? [];
    if (unknown.length) throw new GridPatrolError('GP_ERR_API_VALIDATION', `body.grids: no grid cell ${unknown.map((g) => `"${g}"`).join(', ')}; see GET /api/v1/grids`);
    if (grids && role !== 'officer') throw new GridPatrolError('GP_ERR_API_VALIDATION', 'body.grids: only officer tokens are limited to cells');
    const expiresAt = req.body.expiresAt === undefined ? undefined : queryTimeMs(req.body.expiresAt, 0);
    if (expiresAt !== undefined && expiresAt <= opts.now()) throw new GridPatrolError('GP_ERR_API_VALIDATION', 'body.expiresAt: must be in the future');
    const { token, record } = opts.tokens.issue({ name, role, ...(grids && { grids }), ...(expiresAt !== undefined && { expiresAt }) });
    return reply.code(201).send({ ...view(record), token });
  });

  app.get('/api/v1/tokens', { ...admin, schema: { tags: ['tokens'], querystring: Cursor.extend({ revoked: z.stringbool().default(false) }), response: { 200: listOf(TokenView) } } }, async (req) => {
    const page = opts.tokens.list({ after: req.query.cursor, limit: req.query.limit, includeRevoked: req.query.revoked });
    return { items: page.items.map(view), next: page.next };
  });

  app.delete('/api/v1/tokens/:id', { ...admin, schema: { tags: ['tokens'], params: z.object({ id: z.string().min(1).max(64) }), response: { 200: TokenView } } }, async (req) => {
    const t = opts.tokens.get(req.params.id);
    if (!t) throw new GridPatrolError('GP_ERR_TOKEN_NOT_FOUND', `no token "${req.params.id}"`);
    opts.tokens.revoke(t.id);
    return view(opts.tokens.get(t.id)!);
  });
};

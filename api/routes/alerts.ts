import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AckBody, Alert, AlertTransition, AlertsQuery, ResolveBody } from '../../core/alerts.js';
import { listOf } from '../../core/api.js';
import { actorOf, canSeeCell as visible, type Principal } from '../../core/principal.js';
import { GridPatrolError } from '../../lib/errors.js';
import type { AlertService } from '../../alerts/service.js';
import type { SseHub } from '../../alerts/delivery/sse.js';
import { queryTimeMs } from '../time.js';

export interface AlertRoutesOptions {
  alerts: AlertService;
  sse: SseHub;
}

const IdParams = z.object({ id: z.string().min(1).max(64) });
/** SSE replay on reconnect: at most this many missed transitions are sent from SQLite in one go. */
const REPLAY_LIMIT = 10_000;


/** Alerts, their audit trail, acknowledge/resolve and the live stream (officer). */
export const alertRoutes: FastifyPluginAsyncZod<AlertRoutesOptions> = async (app, opts) => {
  const officer = { onRequest: app.requireRole('officer') };
  const find = (id: string, p: Principal | null) => {
    const a = opts.alerts.find(id);
    if (!a || !visible(p, a.gridId)) throw new GridPatrolError('GP_ERR_ALERT_NOT_FOUND', `no alert "${id}"`);
    return a;
  };

  app.get('/api/v1/alerts', { ...officer, schema: { tags: ['alerts'], querystring: AlertsQuery, response: { 200: listOf(Alert) } } }, async (req) => {
    const q = req.query;
    const p = req.principal;
    if (q.grid !== undefined && !visible(p, q.grid)) return { items: [], next: null };
    const page = opts.alerts.list({
      ...q,
      from: q.from === undefined ? undefined : queryTimeMs(q.from, 0),
      to: q.to === undefined ? undefined : queryTimeMs(q.to, 0),
    });
    return { items: page.items.filter((a) => visible(p, a.gridId)), next: page.next };
  });

  app.get('/api/v1/alerts/stream', { ...officer, schema: { tags: ['alerts'], querystring: z.object({ lastEventId: z.coerce.number().int().min(0).optional() }), produces: ['text/event-stream'] } }, async (req, reply) => {
    const header = req.headers['last-event-id'];
    const lastId = Number(header ?? req.query.lastEventId ?? opts.alerts.lastEventId());
    const p = req.principal;
    const grids = p?.type === 'person' ? p.grids : undefined;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': gridpatrol alert stream\nretry: 2000\n\n');
    // register first, replay second: the hub skips ids the replay already wrote
    const client = { res, grids, lastId: Number.isFinite(lastId) ? lastId : 0 };
    const remove = opts.sse.add(client);
    for (const e of opts.alerts.transitionsSince(client.lastId, REPLAY_LIMIT)) opts.sse.send(client, e);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(keepAlive);
      remove();
    });
  });

  app.get('/api/v1/alerts/:id', { ...officer, schema: { tags: ['alerts'], params: IdParams, response: { 200: Alert } } }, async (req) => find(req.params.id, req.principal));

  app.get('/api/v1/alerts/:id/history', { ...officer, schema: { tags: ['alerts'], params: IdParams, response: { 200: listOf(AlertTransition) } } }, async (req) => {
    find(req.params.id, req.principal);
    return { items: opts.alerts.history(req.params.id), next: null };
  });

  app.post('/api/v1/alerts/:id/ack', { ...officer, schema: { tags: ['alerts'], params: IdParams, body: AckBody.optional(), response: { 200: Alert } } }, async (req) => {
    find(req.params.id, req.principal);
    return opts.alerts.acknowledge(req.params.id, actorOf(req.principal), req.body?.note);
  });

  app.post('/api/v1/alerts/:id/resolve', { ...officer, schema: { tags: ['alerts'], params: IdParams, body: ResolveBody, response: { 200: Alert } } }, async (req) => {
    find(req.params.id, req.principal);
    return opts.alerts.resolve(req.params.id, actorOf(req.principal), req.body.note);
  });
};


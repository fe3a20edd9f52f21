import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AckBody, Alert, AlertTransition, AlertsQuery, ResolveBody } from '../../core/alerts.js';
import { listOf } from '../../core/api.js';
import { actorOf, canSeeCell as visible, type Principal } from '../../core/principal.js';
import { GridPatrolError } from '../../lib/errors.js';
import type { AlertService } from '../../alerts/service.js';
import type { SseClient, SseHub } from '../../alerts/delivery/sse.js';
import { queryTimeMs } from '../time.js';

export interface AlertRoutesOptions {
  alerts: AlertService;
  sse: SseHub;
}

const IdParams = z.object({ id: z.string().min(1).max(64) });
/** SSE replay on reconnect: missed transitions are read from SQLite this many at a time, the socket drained between pages. */
const REPLAY_PAGE = 200;
/** A client that reads nothing for this long while it is replayed to is dropped, as a live one would be (ms). */
export const REPLAY_STALL_MS = 15_000;


/** Alerts, their audit trail, acknowledge/resolve and the live stream (officer). */
export const alertRoutes: FastifyPluginAsyncZod<AlertRoutesOptions> = async (app, opts) => {
  const officer = { onRequest: app.requireRole('officer') };
  // an open stream would keep fastify.close() waiting for ever: end them first (clients come back with Last-Event-ID)
  app.addHook('preClose', (done) => {
    opts.sse.closeAll();
    done();
  });
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
    const header = Number(req.headers['last-event-id']);
    // a Last-Event-ID that is not an id (or none): the query's, else from now on
    const lastId = Number.isSafeInteger(header) && header >= 0 ? header : (req.query.lastEventId ?? opts.alerts.lastEventId());
    const p = req.principal;
    const grids = p?.type === 'person' ? p.grids : undefined;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': gridpatrol alert stream\nretry: 2000\n\n');
    const client: SseClient = { res, grids, lastId, live: false };
    const remove = opts.sse.add(client);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    res.on('close', () => {
      clearInterval(keepAlive);
      remove();
    });
    // Replay what the client missed from SQLite, a page at a time, waiting for the socket to
    // drain between pages (a long backlog must neither flood memory nor get the client dropped
    // as a slow reader). Transitions committed meanwhile are in SQLite too and come with a later
    // page. The page that comes back empty and the switch to live happen in one synchronous
    // step, and transitions are committed and broadcast synchronously, so none falls between.
    try {
      for (let cursor = client.lastId; ;) {
        if (res.destroyed || res.writableEnded) return;
        const page = opts.alerts.transitionsSince(cursor, REPLAY_PAGE);
        if (page.length === 0) {
          client.live = true;
          return;
        }
        for (const e of page) opts.sse.send(client, e);
        cursor = page.at(-1)!.transition.id;
        if (res.writableNeedDrain && !(await drained(res, REPLAY_STALL_MS))) return opts.sse.drop(client);
      }
    } catch (err) {
      req.log.error({ err }, 'alert stream replay failed; the stream is closed');
      res.destroy();
    }
  });

  app.get('/api/v1/alerts/:id', { ...officer, schema: { tags: ['alerts'], params: IdParams, response: { 200: Alert } } }, async (req) => find(req.params.id, req.principal));

  app.get('/api/v1/alerts/:id/history', { ...officer, schema: { tags: ['alerts'], params: IdParams, response: { 200: listOf(AlertTransition) } } }, async (req) => {
    find(req.params.id, req.principal);
    return { items: opts.alerts.history(req.params.id), next: null };
  });

  // a POST without a body is an acknowledgement without a note (Fastify hands the schema null, not undefined)
  app.post('/api/v1/alerts/:id/ack', { ...officer, schema: { tags: ['alerts'], params: IdParams, body: AckBody.nullish(), response: { 200: Alert } } }, async (req) => {
    find(req.params.id, req.principal);
    return opts.alerts.acknowledge(req.params.id, actorOf(req.principal), req.body?.note);
  });

  app.post('/api/v1/alerts/:id/resolve', { ...officer, schema: { tags: ['alerts'], params: IdParams, body: ResolveBody, response: { 200: Alert } } }, async (req) => {
    find(req.params.id, req.principal);
    return opts.alerts.resolve(req.params.id, actorOf(req.principal), req.body.note);
  });
};

/** Resolves true when the response's buffer has drained or it closed, false when neither happened within `timeoutMs`. */
function drained(res: ServerResponse, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      clearTimeout(timer);
      res.off('drain', yes);
      res.off('close', yes);
      resolve(ok);
    };
    const yes = done(true);
    const timer = setTimeout(done(false), timeoutMs);
    res.on('drain', yes);
    res.on('close', yes);
  });
}

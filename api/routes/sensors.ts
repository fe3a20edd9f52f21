import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { EXPENSIVE } from '../plugins/security.js';
import { Cursor, DeviceIdParams, ReadingWindowView, ReadingsQuery, SensorView, listOf } from '../../core/api.js';
import { GridPatrolError } from '../../lib/errors.js';
import type { DeviceRegistry } from '../../storage/devices.js';
import type { LiveState } from '../../storage/live-state.js';
import type { TelemetryStore } from '../../storage/telemetry-store.js';
import { durationMs, iso, readStore, timeRange } from '../time.js';
import { pageOfIds } from './paging.js';

export interface SensorRoutesOptions {
  devices: DeviceRegistry;
  live: LiveState;
  store: TelemetryStore;
  now: () => number;
}

/** Most windows one readings query may produce, so a tiny `every` over a long range cannot flood. */
const MAX_WINDOWS = 10_000;

/** Sensors with their latest readings, and a sensor's readings per window (operator). */
export const sensorRoutes: FastifyPluginAsyncZod<SensorRoutesOptions> = async (app, opts) => {
  const operator = { onRequest: app.requireRole('operator') };

  app.get('/api/v1/sensors', { ...operator, schema: { tags: ['sensors'], querystring: Cursor, response: { 200: listOf(SensorView) } } }, async (req) => {
    const registered = new Map(opts.devices.list({ kind: 'sensor', limit: 1_000_000 }).items.map((d) => [d.id, d]));
    const page = pageOfIds(new Set([...registered.keys(), ...opts.live.sensors.keys()]), req.query.cursor, req.query.limit);
    return {
      next: page.next,
      items: page.ids.map((id) => {
        const d = registered.get(id);
        const s = opts.live.sensors.get(id);
        const readings = [...(s?.readings.values() ?? [])].map((r) => ({ metric: r.metric, value: r.value, unit: r.unit ?? null, ts: iso(r.ts)! }));
        return { id, name: d?.name ?? null, registered: !!d, online: s?.online ?? null, gridId: d?.gridId ?? null, lat: d?.lat ?? null, lon: d?.lon ?? null, lastSeenAt: iso(s?.lastSeenAt), readings };
      }),
    };
  });

  app.get('/api/v1/sensors/:id/readings', { ...operator, config: { rateLimit: EXPENSIVE }, schema: { tags: ['sensors'], params: DeviceIdParams, querystring: ReadingsQuery, response: { 200: listOf(ReadingWindowView) } } }, async (req) => {
    const { id } = req.params;
    if (!opts.devices.get(id) && !opts.live.sensors.has(id)) throw new GridPatrolError('GP_ERR_SENSOR_NOT_FOUND', `no sensor "${id}"`);
    const range = timeRange(req.query, opts.now(), 24 * 3_600_000);
    const everyMs = durationMs(req.query.every);
    if (everyMs <= 0 || (range.to - range.from) / everyMs > MAX_WINDOWS)
      throw new GridPatrolError('GP_ERR_QUERY_RANGE', `every=${req.query.every} makes more than ${MAX_WINDOWS} windows over this range; choose a longer window or a shorter range`);
    const windows = await readStore(opts.store.kind, () => opts.store.readings(id, { ...range, everyMs, metric: req.query.metric }));
    return { items: windows.map((w) => ({ ...w, ts: iso(w.ts)! })), next: null };
  });
};

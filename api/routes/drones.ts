import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { EXPENSIVE } from '../plugins/security.js';
import { Cursor, DeviceIdParams, DroneView, TrackPointView, TrackQuery, listOf } from '../../core/api.js';
import type { TelemetryRecord } from '../../core/records.js';
import { GridPatrolError } from '../../lib/errors.js';
import type { DeviceRegistry } from '../../storage/devices.js';
import type { DroneState, LiveState } from '../../storage/live-state.js';
import type { TelemetryStore, TrackPoint } from '../../storage/telemetry-store.js';
import { iso, readStore, timeRange } from '../time.js';
import { pageOfIds } from './paging.js';

export interface DroneRoutesOptions {
  devices: DeviceRegistry;
  live: LiveState;
  store: TelemetryStore;
  now: () => number;
}

const point = (p: TrackPoint) => ({ ts: iso(p.ts)!, lat: p.lat, lon: p.lon, alt: p.alt, speed: p.speed, heading: p.heading, battery: p.battery, rssi: p.rssi, mode: p.mode, gridId: p.gridId });

function lastView(t: TelemetryRecord) {
  return { ...point(t), seq: t.seq, rssi: t.rssi, sats: t.sats, ...(t.patrolId !== undefined && { patrolId: t.patrolId }) };
}

/** The fleet's last known state and a drone's track (operator). */
export const droneRoutes: FastifyPluginAsyncZod<DroneRoutesOptions> = async (app, opts) => {
  const operator = { onRequest: app.requireRole('operator') };

  app.get('/api/v1/drones', { ...operator, schema: { tags: ['drones'], querystring: Cursor, response: { 200: listOf(DroneView) } } }, async (req) => {
    const registered = new Map(opts.devices.list({ kind: 'drone', limit: 1_000_000 }).items.map((d) => [d.id, d]));
    const ids = new Set([...registered.keys(), ...opts.live.drones.keys()]);
    const page = pageOfIds(ids, req.query.cursor, req.query.limit);
    return {
      next: page.next,
      items: page.ids.map((id) => {
        const d = registered.get(id);
        const s: DroneState | undefined = opts.live.drones.get(id);
        return {
          id, name: d?.name ?? null, registered: !!d, online: s?.online ?? null,
          gridId: s?.telemetry?.gridId ?? null, assignedGridId: d?.gridId ?? null,
          lastSeenAt: iso(s?.lastSeenAt), last: s?.telemetry ? lastView(s.telemetry) : null,
        };
      }),
    };
  });

  app.get('/api/v1/drones/:id/track', { ...operator, config: { rateLimit: EXPENSIVE }, schema: { tags: ['drones'], params: DeviceIdParams, querystring: TrackQuery, response: { 200: listOf(TrackPointView) } } }, async (req) => {
    const { id } = req.params;
    if (!opts.devices.get(id) && !opts.live.drones.has(id)) throw new GridPatrolError('GP_ERR_DRONE_NOT_FOUND', `no drone "${id}"`);
    const range = timeRange(req.query, opts.now(), 3_600_000);
    const points = await readStore(opts.store.kind, () => opts.store.track(id, { ...range, limit: req.query.limit }));
    return { items: points.map(point), next: null };
  });
};

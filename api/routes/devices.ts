import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Cursor, DeviceIdParams, DeviceKindSchema, DeviceRegistration, DeviceView, RegisteredDevice, listOf } from '../../core/api.js';
import { topics } from '../../core/topics.js';
import { GridPatrolError } from '../../lib/errors.js';
import { DeviceError, type Device, type DeviceRegistry } from '../../storage/devices.js';
import { iso } from '../time.js';

export interface DeviceRoutesOptions {
  devices: DeviceRegistry;
  /** the cells that exist, to refuse a registration into an unknown cell */
  cellExists: (gridId: string) => boolean;
}

export function deviceView(d: Device) {
  return { id: d.id, kind: d.kind, gridId: d.gridId ?? null, name: d.name ?? null, lat: d.lat ?? null, lon: d.lon ?? null, disabled: d.disabled, createdAt: iso(d.createdAt)! };
}

function mqttTopics(d: Device): Record<string, string> {
  if (d.kind === 'sensor') return { readings: topics.sensorReadings(d.id), status: topics.sensorStatus(d.id) };
  return { telemetry: topics.droneTelemetry(d.id), events: topics.droneEvents(d.id), status: topics.droneStatus(d.id), commands: topics.droneCommands(d.id) };
}

/** Device registration and listing (admin). */
export const deviceRoutes: FastifyPluginAsyncZod<DeviceRoutesOptions> = async (app, opts) => {
  const admin = { onRequest: app.requireRole('admin') };

  app.post('/api/v1/devices', { ...admin, schema: { tags: ['devices'], body: DeviceRegistration, response: { 201: RegisteredDevice } } }, async (req, reply) => {
    if (req.body.gridId !== undefined && !opts.cellExists(req.body.gridId))
      throw new GridPatrolError('GP_ERR_API_VALIDATION', `body.gridId: no grid cell "${req.body.gridId}"; see GET /api/v1/grids`);
    try {
      const { device, password } = await opts.devices.register(req.body);
      return reply.code(201).send({ ...deviceView(device), password, mqtt: { username: device.id, topics: mqttTopics(device) } });
    } catch (err) {
      if (err instanceof DeviceError && err.code === 'GP_ERR_DEVICE_EXISTS') throw new GridPatrolError('GP_ERR_DEVICE_EXISTS', `a device "${req.body.id}" is already registered; choose another id or DELETE it first`);
      throw err;
    }
  });

  app.get('/api/v1/devices', { ...admin, schema: { tags: ['devices'], querystring: Cursor.extend({ kind: DeviceKindSchema.optional() }), response: { 200: listOf(DeviceView) } } }, async (req) => {
    const page = opts.devices.list({ kind: req.query.kind, after: req.query.cursor, limit: req.query.limit });
    return { items: page.items.map(deviceView), next: page.next };
  });

  const existing = (id: string) => {
    const d = opts.devices.get(id);
    if (!d) throw new GridPatrolError('GP_ERR_DEVICE_NOT_FOUND', `no device "${id}"`);
    return d;
  };

  app.get('/api/v1/devices/:id', { ...admin, schema: { tags: ['devices'], params: DeviceIdParams, response: { 200: DeviceView } } }, async (req) => deviceView(existing(req.params.id)));

  // removing, rotating and disabling close the device's MQTT connections (the broker listens to the registry)
  app.delete('/api/v1/devices/:id', { ...admin, schema: { tags: ['devices'], params: DeviceIdParams, response: { 200: DeviceView } } }, async (req) => {
    const d = existing(req.params.id);
    opts.devices.remove(d.id);
    return deviceView(d);
  });

  app.post('/api/v1/devices/:id/rotate', { ...admin, schema: { tags: ['devices'], params: DeviceIdParams, response: { 200: RegisteredDevice } } }, async (req) => {
    const d = existing(req.params.id);
    const password = await opts.devices.rotate(d.id);
    return { ...deviceView(d), password, mqtt: { username: d.id, topics: mqttTopics(d) } };
  });

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const)
    app.post(`/api/v1/devices/:id/${action}`, { ...admin, schema: { tags: ['devices'], params: DeviceIdParams, response: { 200: DeviceView } } }, async (req) =>
      deviceView(opts.devices.setDisabled(existing(req.params.id).id, disabled)),
    );
};

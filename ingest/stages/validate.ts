import type { z } from 'zod';
import { DetectionEvent, DeviceStatus, DroneTelemetry, SensorReading } from '../../core/telemetry.js';
import type { DeviceChannel } from '../../core/topics.js';
import { refuse, type Refusal } from './types.js';

export type Validated =
  | { channel: 'telemetry'; value: DroneTelemetry }
  | { channel: 'events'; value: DetectionEvent }
  | { channel: 'readings'; value: SensorReading }
  | { channel: 'status'; value: DeviceStatus };

const SCHEMAS = { telemetry: DroneTelemetry, events: DetectionEvent, readings: SensorReading, status: DeviceStatus } as const;

/** validate: the core schema of the topic's channel, and the payload's own id must be the topic's. */
export function validate(item: unknown, channel: DeviceChannel, deviceId: string): Validated | Refusal {
  if (channel === 'commands') return refuse('validate', 'wrong_channel', 'commands are not ingested');
  const schema = SCHEMAS[channel];
  const result = schema.safeParse(item);
  if (!result.success) return refuse('validate', 'schema', describeIssues(result.error, item));
  const value = result.data as Record<string, unknown>;
  const ownId = value.droneId ?? value.sensorId;
  if (ownId !== undefined && ownId !== deviceId)
    return refuse('validate', 'id_mismatch', `payload names device "${String(ownId)}" but was published on ${deviceId}'s topic; they must be equal`);
  return { channel, value } as Validated;
}

/** Zod issues in words: the field, what was received, what is allowed. */
export function describeIssues(error: z.ZodError, input: unknown): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const field = issue.path.length ? issue.path.join('.') : 'payload';
      const got = valueAt(input, issue.path);
      const shown = got === undefined ? 'missing' : `got ${JSON.stringify(got)?.slice(0, 60)}`;
      return `${field}: ${issue.message} (${shown})`;
    })
    .join('; ');
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

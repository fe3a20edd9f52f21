import { z } from 'zod';

/** Device time as sent: epoch milliseconds or an ISO 8601 string with a zone. */
export const DeviceTime = z.union([
  z.number().int().nonnegative().describe('epoch milliseconds'),
  z.iso.datetime({ offset: true }).describe('ISO 8601 date-time with zone'),
]);
export type DeviceTime = z.infer<typeof DeviceTime>;

/** Query time: ISO 8601 or epoch ms, as the contract allows for `from`/`to`. */
export const QueryTime = z.union([
  z.coerce.number().int().nonnegative(),
  z.iso.datetime({ offset: true }),
]).describe('ISO 8601 date-time or epoch milliseconds');

export function toEpochMs(t: DeviceTime): number {
  return typeof t === 'number' ? t : Date.parse(t);
}

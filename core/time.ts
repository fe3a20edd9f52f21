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

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration as people write it: `500ms`, `30s`, `5m`, `4h`, `1d`; parsed to milliseconds. */
export const Duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 5m, 4h')
  .transform((s) => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(s)!;
    return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  });

export function parseDurationMs(s: string): number | null {
  const r = Duration.safeParse(s);
  return r.success ? r.data : null;
}

import { toEpochMs, type DeviceTime } from '../../core/time.js';
import { refuse, type Refusal } from './types.js';

export interface TimeLimits {
  /** device time this far ahead of the server clock is refused (ms) */
  maxFutureMs: number;
  /** device time older than this is refused (ms) */
  maxAgeMs: number;
}

/** normalize: device time to epoch ms, refused when implausible against the server clock. */
export function normalizeTime(ts: DeviceTime, now: number, limits: TimeLimits): number | Refusal {
  const ms = toEpochMs(ts);
  if (!Number.isFinite(ms)) return refuse('normalize', 'ts_invalid', `ts ${JSON.stringify(ts)} is not a time`);
  if (ms > now + limits.maxFutureMs)
    return refuse('normalize', 'ts_future', `ts ${new Date(ms).toISOString()} is ${formatHours(ms - now)} ahead of the server clock; at most ${formatHours(limits.maxFutureMs)} ahead is accepted (check the device clock)`);
  if (ms < now - limits.maxAgeMs)
    return refuse('normalize', 'ts_too_old', `ts ${new Date(ms).toISOString()} is ${formatHours(now - ms)} old; at most ${formatHours(limits.maxAgeMs)} old is accepted (check the device clock)`);
  return ms;
}

function formatHours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48 ? `${(h / 24).toFixed(1)} days` : `${h.toFixed(1)} h`;
}

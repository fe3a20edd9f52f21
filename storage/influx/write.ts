import { HttpError, type InfluxDB, type Point, type WriteApi } from '@influxdata/influxdb-client';
import type { WriteResult } from '../telemetry-store.js';
import type { WriteApiKind } from './http.js';

export interface WriteTuning {
  /** retries the client makes within one write() before handing back `retry` */
  maxRetries: number;
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
  /** lines per HTTP request; a larger batch is sent in several */
  maxBatchLines: number;
}

export interface WriteTarget {
  client: InfluxDB;
  api: WriteApiKind;
  org: string;
  database: string;
}

/** Statuses that say nothing about the records: the server or its configuration is not ready. */
const NOT_THE_RECORDS = new Set([401, 403, 404]);
const MAX_REASON_CHARS = 500;

/**
 * 1.x before 1.8 has no /api/v2/write: its /write takes the database as `db`. The WriteApi's
 * `path` is public and documented as changeable, so the client's batching, gzip, timeouts and
 * retries stay as they are.
 */
export function writePath(api: WriteApiKind, database: string): string | undefined {
  return api === 'v1' ? `/write?db=${encodeURIComponent(database)}&precision=ms` : undefined;
}

/** Retry-After in seconds or as an HTTP date, in ms. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function serverMessage(err: HttpError): string {
  const json = err.json as { error?: unknown; message?: unknown } | undefined;
  const text = [json?.error, json?.message, err.body, err.message].find((m) => typeof m === 'string' && m.length > 0);
  return String(text ?? err.statusMessage ?? '').slice(0, MAX_REASON_CHARS);
}

/**
 * What a failed write means for the batch. 429 and 5xx, network errors and timeouts: try again.
 * 401/403/404 (credentials, missing database or bucket): try again too, since dead-lettering every
 * record would turn a configuration slip into data loss. Other 4xx (400 field type conflict or
 * partial write, 413 too large ...): the records themselves, never accepted as they are.
 */
export function classifyWriteError(err: unknown): Exclude<WriteResult, { status: 'accepted' }> {
  if (err instanceof HttpError) {
    const reason = `HTTP ${err.statusCode}: ${serverMessage(err)}`;
    const status = err.statusCode;
    if (status >= 400 && status < 500 && status !== 429 && !NOT_THE_RECORDS.has(status)) {
      return { status: 'rejected', reason };
    }
    const retryAfterMs = parseRetryAfter(err.headers?.['retry-after']);
    return retryAfterMs === undefined ? { status: 'retry', reason } : { status: 'retry', reason, retryAfterMs };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  return { status: 'retry', reason: `${e.name}${typeof code === 'string' ? ` ${code}` : ''}: ${e.message}`.slice(0, MAX_REASON_CHARS) };
}

/**
 * The client gzips every request body over 1,000 bytes, a batch of 5,000 points is about 1 MB,
 * and zlib runs in libuv's thread pool beside the spool's file writes. Towards an InfluxDB on
 * this machine that CPU buys nothing; towards a remote one it saves most of the bytes. The
 * client's transport knows the host it was given (read defensively: not part of its typed API).
 */
export function gzipThreshold(target: Pick<WriteTarget, 'client'>): number | undefined {
  const host = (target.client.transport as { defaultOptions?: { hostname?: unknown } }).defaultOptions?.hostname;
  return typeof host === 'string' && isLoopback(host) ? Number.MAX_SAFE_INTEGER : undefined;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The client retries exactly these (WriteApiImpl: not an HttpError, or a status of 429 or more). */
function clientRetries(err: Error): boolean {
  return !(err instanceof HttpError) || err.statusCode >= 429;
}

/**
 * Writes one batch through its own WriteApi and resolves once every line is confirmed, or once
 * the batch is decided otherwise. The client sends, gzips (not over loopback) and retries (maxRetries, backoff); its
 * writeSuccess/writeFailed hooks report each attempt, so the outcome of the client's own retries
 * is awaited too. The WriteApi is disposed when the batch is decided: nothing is left retrying
 * in the background behind the spool writer's back.
 */
export function writeBatch(target: WriteTarget, points: readonly Point[], tuning: WriteTuning): Promise<WriteResult> {
  if (points.length === 0) return Promise.resolve({ status: 'accepted' });
  const gzip = gzipThreshold(target);
  return new Promise((resolve) => {
    let confirmed = 0;
    let settled = false;
    let writeApi: WriteApi | undefined;
    const settle = (result: WriteResult): void => {
      if (settled) return;
      settled = true;
      writeApi?.dispose();
      resolve(result);
    };
    writeApi = target.client.getWriteApi(target.org, target.database, 'ms', {
      batchSize: tuning.maxBatchLines,
      flushInterval: 0,
      maxRetries: tuning.maxRetries,
      minRetryDelay: tuning.minRetryDelayMs,
      maxRetryDelay: tuning.maxRetryDelayMs,
      retryJitter: Math.round(tuning.minRetryDelayMs / 2),
      maxRetryTime: 10 * 60_000, // bounded by maxRetries long before this
      maxBufferLines: points.length * 2,
      ...(gzip !== undefined && { gzipThreshold: gzip }),
      writeSuccess(lines) {
        confirmed += lines.length;
        if (confirmed >= points.length) settle({ status: 'accepted' });
      },
      writeFailed(error, _lines, attempt, expires) {
        const verdict = classifyWriteError(error);
        const retriedByClient = verdict.status === 'retry' && verdict.retryAfterMs === undefined &&
          attempt <= tuning.maxRetries && clientRetries(error) && Date.now() < expires;
        if (retriedByClient) return undefined;
        // The client reads Retry-After as milliseconds (the header is seconds): the spool writer
        // honours it instead.
        settle(verdict);
        return Promise.resolve();
      },
      writeRetrySkipped() {
        settle({ status: 'retry', reason: 'InfluxDB client dropped lines from its retry buffer' });
      },
    });
    const path = writePath(target.api, target.database);
    if (path) writeApi.path = path;
    writeApi.writePoints(points);
    // the hooks above decide the outcome; flush's own rejection repeats the first failure
    writeApi.flush().catch(() => undefined);
  });
}

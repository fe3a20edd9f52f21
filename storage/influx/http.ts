import type { Row } from './points.js';
import { fetchWithin } from '../../lib/fetch-within.js';

export type WriteApiKind = 'v1' | 'v2';

/** Where and how reads and control statements go: InfluxQL over `/query`. */
export interface QueryConnection {
  url: string;
  database: string;
  /** the Authorization header value, if any */
  authorization: string | undefined;
  timeoutMs: number;
}

/**
 * The write API a server version speaks: `/api/v2/write` exists from 1.8 on (and in 2.x, 3.x);
 * older 1.x only has `/write`. A server that names no version (a proxy, a cloud front) is
 * assumed current.
 */
export function chooseWriteApi(version: string | null | undefined): WriteApiKind {
  const m = /^v?(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return 'v2';
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 1 || (major === 1 && minor < 8) ? 'v1' : 'v2';
}

/** The major version when the server names one. */
export function majorVersion(version: string | undefined): number | undefined {
  const m = /^v?(\d+)\./.exec(version ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * 1.8+, 2.x and 3.x take `Token <token>` (1.8 as `Token user:password`); older 1.x knows Basic
 * (user:password) and Bearer (a JWT signed with its shared secret).
 */
export function authorization(api: WriteApiKind, token: string | undefined): string | undefined {
  if (!token) return undefined;
  if (api === 'v2') return `Token ${token}`;
  return token.includes(':') ? `Basic ${Buffer.from(token).toString('base64')}` : `Bearer ${token}`;
}

/** GET /ping: whether the server answers, and the version it reports. */
export async function ping(url: string, timeoutMs: number, auth?: string): Promise<{ ok: boolean; version: string | undefined }> {
  const headers: Record<string, string> = auth ? { authorization: auth } : {};
  return fetchWithin(`${url}/ping`, { headers }, timeoutMs, async (res) => {
    await res.arrayBuffer();
    return { ok: res.ok, version: res.headers.get('x-influxdb-version') ?? undefined };
  });
}

interface Series {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}

interface QueryResponse {
  results?: { statement_id?: number; series?: Series[]; error?: string }[];
  error?: string;
}

async function send(conn: QueryConnection, q: string, method: 'GET' | 'POST'): Promise<QueryResponse> {
  const params = new URLSearchParams({ db: conn.database, epoch: 'ms', q });
  const headers: Record<string, string> = { accept: 'application/json' };
  if (conn.authorization) headers.authorization = conn.authorization;
  const init: RequestInit = { method, headers };
  let target = `${conn.url}/query?${params}`;
  if (method === 'POST') {
    // 1.x refuses statements that change the schema over GET
    target = `${conn.url}/query`;
    init.body = params;
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const { res, text } = await fetchWithin(target, init, conn.timeoutMs, async (r) => ({ res: r, text: await r.text() }));
  let body: QueryResponse;
  try {
    body = JSON.parse(text) as QueryResponse;
  } catch {
    throw new Error(`InfluxDB /query answered ${res.status}: ${text.slice(0, 300)}`);
  }
  if (!res.ok || body.error) throw new Error(`InfluxDB /query answered ${res.status}: ${body.error ?? text.slice(0, 300)}`);
  const failed = body.results?.find((r) => r.error);
  if (failed) throw new Error(`InfluxQL error: ${failed.error}`);
  return body;
}

/** Runs one InfluxQL statement and returns its rows, each with its series' tags merged in. */
export async function queryRows(conn: QueryConnection, q: string): Promise<Row[]> {
  const body = await send(conn, q, 'GET');
  const rows: Row[] = [];
  for (const series of body.results?.[0]?.series ?? []) {
    for (const values of series.values ?? []) {
      const row: Row = { ...series.tags };
      series.columns.forEach((c, i) => {
        row[c] = values[i];
      });
      rows.push(row);
    }
  }
  return rows;
}

/** Runs a statement that changes the schema (CREATE DATABASE). */
export async function execute(conn: QueryConnection, statement: string): Promise<void> {
  await send(conn, statement, 'POST');
}

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { DeviceId } from '../../core/telemetry.js';

/** One device's MQTT credentials, as issued by POST /api/v1/devices (the password is shown only then). */
export interface Credential {
  id: string;
  kind: 'drone' | 'sensor';
  password: string;
  gridId?: string;
  /** the seq its next message carries: a later run continues the stream instead of repeating it */
  nextSeq?: number;
}

export interface DeviceToRegister {
  id: string;
  kind: 'drone' | 'sensor';
  gridId?: string;
  lat?: number;
  lon?: number;
}

const CredentialsFile = z.object({
  version: z.literal(1),
  url: z.string().optional(),
  devices: z.record(
    DeviceId,
    z.object({ kind: z.enum(['drone', 'sensor']), password: z.string().min(1), gridId: z.string().optional(), nextSeq: z.number().int().nonnegative().optional() }),
  ),
});

/** Reads a credentials file written by an earlier run (or by hand); null when there is none. */
export function readCredentials(file: string): Map<string, Credential> | null {
  if (!existsSync(file)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`credentials file ${file}: not JSON (${(err as Error).message})`);
  }
  const parsed = CredentialsFile.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new Error(`credentials file ${file}: ${first.path.join('.') || 'file'}: ${first.message} (expected {"version":1,"devices":{"<id>":{"kind":"drone","password":"…"}}})`);
  }
  return new Map(Object.entries(parsed.data.devices).map(([id, d]) => [id, { id, ...d }]));
}

/** Writes (atomically) the credentials of every device; the file holds passwords: mode 0600. */
export function writeCredentials(file: string, creds: Iterable<Credential>, url?: string): void {
  const devices = Object.fromEntries([...creds].map(({ id, ...rest }) => [id, rest]));
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify({ version: 1, ...(url && { url }), devices }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** The admin token: the option, else GRIDPATROL_ADMIN_TOKEN, else ./data/admin-token (where `npm start` keeps it). */
export function defaultToken(option?: string): string | undefined {
  if (option) return option;
  if (process.env.GRIDPATROL_ADMIN_TOKEN) return process.env.GRIDPATROL_ADMIN_TOKEN;
  try {
    return readFileSync('data/admin-token', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether this GridPatrol's device registration takes a sensor's `lat`/`lon` (a later addition
 * to the API): asked of its OpenAPI document, so the simulator sends them only where they are
 * understood.
 */
export async function registrationTakesPosition(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${base(url)}/openapi.json`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return false;
    const doc = (await res.json()) as { paths?: Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } } }> };
    const props = doc.paths?.['/api/v1/devices']?.post?.requestBody?.content?.['application/json']?.schema?.properties ?? {};
    return 'lat' in props && 'lon' in props;
  } catch {
    return false;
  }
}

/**
 * Registers devices through POST /api/v1/devices with the admin token, a few at a time (each
 * registration costs the server a database write). Throws one line a person can act on.
 */
export async function registerDevices(o: {
  url: string;
  token: string;
  devices: readonly DeviceToRegister[];
  withPosition?: boolean;
  concurrency?: number;
  onProgress?: (done: number) => void;
}): Promise<Credential[]> {
  const out: Credential[] = [];
  const register = async (d: DeviceToRegister): Promise<Credential> => {
    const body = { id: d.id, kind: d.kind, ...(d.gridId && { gridId: d.gridId }), ...(o.withPosition && d.lat !== undefined && d.lon !== undefined && { lat: d.lat, lon: d.lon }) };
    let res: Response;
    try {
      res = await fetch(`${base(o.url)}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new Error(`cannot reach GridPatrol at ${o.url} (${(err as Error).cause ?? (err as Error).message}); is it running? (--url)`);
    }
    const answer = (await res.json().catch(() => ({}))) as { password?: string; detail?: string; code?: string };
    if (res.status === 201 && answer.password) return { id: d.id, kind: d.kind, password: answer.password, ...(d.gridId && { gridId: d.gridId }), nextSeq: 1 };
    if (res.status === 401 || res.status === 403) throw new Error(`GridPatrol refused the admin token (${answer.code ?? res.status}): pass --token or set GRIDPATROL_ADMIN_TOKEN`);
    if (res.status === 409)
      throw new Error(`device "${d.id}" is already registered: pass --credentials with the file of the run that registered it, or --prefix to run with new ids`);
    throw new Error(`registering ${d.id}: HTTP ${res.status} ${answer.detail ?? ''}`.trim());
  };
  const n = o.concurrency ?? 8;
  for (let i = 0; i < o.devices.length; i += n) {
    out.push(...(await Promise.all(o.devices.slice(i, i + n).map(register))));
    o.onProgress?.(out.length);
  }
  return out;
}

function base(url: string): string {
  return url.replace(/\/+$/, '');
}

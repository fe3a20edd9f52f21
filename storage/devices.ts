import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DeviceRegistration } from '../core/api.js';
import type { DeviceKind } from '../core/topics.js';
import { GridPatrolError } from '../lib/errors.js';
import type { MetadataDb } from './metadata-db.js';

export interface Device {
  id: string;
  kind: DeviceKind;
  gridId?: string;
  name?: string;
  /** where a fixed sensor stands (or a drone's home), WGS 84 */
  lat?: number;
  lon?: number;
  disabled: boolean;
  /** epoch ms */
  createdAt: number;
}

/** CONTRACT: MQTT username `token` means "the password is an API token", so no device may be called that. */
export const RESERVED_DEVICE_IDS: readonly string[] = ['token'];

export type DeviceErrorCode = 'GP_ERR_DEVICE_EXISTS' | 'GP_ERR_DEVICE_NOT_FOUND' | 'GP_ERR_API_VALIDATION';

/** A catalog error (lib/errors.ts), so the api maps it to problem+json without knowing devices. */
export class DeviceError extends GridPatrolError {
  declare readonly code: DeviceErrorCode;
  constructor(code: DeviceErrorCode, detail: string) {
    super(code, detail);
    this.name = 'DeviceError';
  }
}

/** Why a verification failed, for metrics and logs; never told apart to the device beyond the CONNACK code. */
export type VerifyResult = { ok: true; device: Device } | { ok: false; reason: 'unknown' | 'wrong-password' | 'disabled' };

export interface DeviceListQuery {
  kind?: DeviceKind;
  /** cursor: the last id of the previous page */
  after?: string;
  limit: number;
}

/*
 * Device passwords are 192-bit random secrets issued by us, not chosen by people. A slow KDF
 * protects low-entropy secrets from guessing; against 2^192 possibilities it adds nothing, and
 * it made a reconnect storm cost seconds of CPU per hundred devices: 10,000 devices reconnecting
 * after a restart waited minutes for scrypt (N=2^12, ~10 ms each on two cores), timed out and
 * retried (bench/README.md, Connections). So a password is kept as a salted SHA-256, checked in
 * constant time, as API tokens are. Hashes made by earlier versions (`scrypt$N$r$p$salt$key`)
 * are still accepted and replaced by the SHA-256 form at their first successful check.
 */
const SCRYPT_PREFIX = 'scrypt$';
const PASSWORD_BYTES = 24;

function saltedDigest(password: string, salt: Buffer): Buffer {
  return createHash('sha256').update(salt).update(password).digest();
}

/** `sha256$salt$digest`, base64url. */
function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return ['sha256', salt.toString('base64url'), saltedDigest(password, salt).toString('base64url')].join('$');
}

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

async function checkPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === 'sha256' && parts.length === 3) {
    const expected = Buffer.from(parts[2]!, 'base64url');
    const actual = saltedDigest(password, Buffer.from(parts[1]!, 'base64url'));
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
  const [alg, n, r, p, salt, key] = parts;
  if (alg !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(actual, expected);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

interface Row {
  id: string;
  kind: DeviceKind;
  grid_id: string | null;
  name: string | null;
  lat: number | null;
  lon: number | null;
  disabled: number;
  created_at: number;
  password_hash: string;
}

function toDevice(row: Row): Device {
  const d: Device = { id: row.id, kind: row.kind, disabled: row.disabled === 1, createdAt: row.created_at };
  if (row.grid_id !== null) d.gridId = row.grid_id;
  if (row.name !== null) d.name = row.name;
  if (row.lat !== null && row.lon !== null) Object.assign(d, { lat: row.lat, lon: row.lon });
  return d;
}

export interface DeviceRegistryOptions {
  now?: () => number;
  /** a cached verification is trusted this long (ms); bounds staleness if another process changes a device */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
}

/** How long a revocation is kept for other processes to see (they poll about every second). */
const REVOCATIONS_KEPT_MS = 86_400_000;

/**
 * The registered devices and their MQTT passwords, stored only as salted SHA-256 hashes.
 * Successful verifications are cached (by id and SHA-256 of the password) so a reconnect storm
 * does not even read the database; rotate, disable and remove drop the entry and tell `onRevoked` listeners.
 * Processes sharing the data folder (a separate `broker` and `api`) learn of each other's changes
 * through the `device_revocations` table: `pollRevocations` applies what another process revoked.
 */
export class DeviceRegistry {
  private readonly cache = new Map<string, { digest: Buffer; device: Device; at: number }>();
  /** bumped on every change of a device's credentials or state, so a verification in flight does not cache a stale answer */
  private readonly generation = new Map<string, number>();
  private readonly revokedListeners = new Set<(id: string) => void>();
  /** the newest device_revocations row this registry has applied or written */
  private revocationSeq: number;
  /** rows this registry wrote itself and already applied: skipped by pollRevocations */
  private readonly ownRevocations = new Set<number>();
  private readonly now: () => number;
  private readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;
  private readonly sql;

  constructor(
    db: MetadataDb,
    opts: DeviceRegistryOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.cacheTtlMs = opts.cacheTtlMs ?? 60_000;
    this.cacheMaxEntries = opts.cacheMaxEntries ?? 50_000;
    db.exec(`CREATE TABLE IF NOT EXISTS devices (
      id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('drone', 'sensor')), grid_id TEXT, name TEXT,
      disabled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, password_hash TEXT NOT NULL, lat REAL, lon REAL)`);
    // data folders made before positions existed
    const columns = (db.prepare('PRAGMA table_info(devices)').all() as Array<{ name: string }>).map((c) => c.name);
    if (!columns.includes('lat')) db.exec('ALTER TABLE devices ADD COLUMN lat REAL; ALTER TABLE devices ADD COLUMN lon REAL');
    db.exec('CREATE TABLE IF NOT EXISTS device_revocations (seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, at INTEGER NOT NULL)');
    this.sql = {
      get: db.prepare<[string], Row>('SELECT * FROM devices WHERE id = ?'),
      insert: db.prepare('INSERT INTO devices (id, kind, grid_id, name, disabled, created_at, password_hash, lat, lon) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)'),
      list: db.prepare<{ kind: string | null; after: string | null; limit: number }, Row>(
        'SELECT * FROM devices WHERE (@kind IS NULL OR kind = @kind) AND (@after IS NULL OR id > @after) ORDER BY id LIMIT @limit',
      ),
      remove: db.prepare('DELETE FROM devices WHERE id = ?'),
      setHash: db.prepare('UPDATE devices SET password_hash = ? WHERE id = ?'),
      /** only if the hash is still the one just checked: a rotation in between wins */
      upgradeHash: db.prepare('UPDATE devices SET password_hash = ? WHERE id = ? AND password_hash = ?'),
      setDisabled: db.prepare('UPDATE devices SET disabled = ? WHERE id = ?'),
      addRevocation: db.prepare('INSERT INTO device_revocations (device_id, at) VALUES (?, ?)'),
      pruneRevocations: db.prepare('DELETE FROM device_revocations WHERE at < ?'),
      revocationsAfter: db.prepare<[number], { seq: number; device_id: string }>('SELECT seq, device_id FROM device_revocations WHERE seq > ? ORDER BY seq'),
      lastRevocation: db.prepare('SELECT MAX(seq) FROM device_revocations').pluck(),
    };
    this.change = (fn) => db.transaction(fn)();
    this.revocationSeq = (this.sql.lastRevocation.get() as number | null) ?? 0;
  }

  private readonly change: <T>(fn: () => T) => T;

  /** Registers a device; the password is returned here once and never again. */
  async register(input: DeviceRegistration): Promise<{ device: Device; password: string }> {
    const parsed = DeviceRegistration.safeParse(input);
    if (!parsed.success) throw new DeviceError('GP_ERR_API_VALIDATION', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const { id, kind, gridId, name, lat, lon } = parsed.data;
    if (RESERVED_DEVICE_IDS.includes(id)) throw new DeviceError('GP_ERR_API_VALIDATION', `id: "${id}" is reserved (the MQTT username of API tokens)`);
    if (this.row(id)) throw exists(id);
    const password = randomBytes(PASSWORD_BYTES).toString('base64url');
    const hash = hashPassword(password);
    try {
      this.sql.insert.run(id, kind, gridId ?? null, name ?? null, this.now(), hash, lat ?? null, lon ?? null);
    } catch (err) {
      // a concurrent register of the same id won the race while we hashed
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw exists(id);
      throw err;
    }
    return { device: toDevice(this.row(id)!), password };
  }

  /** The device when the password is its current one and it is enabled; null otherwise. */
  async verify(id: string, password: string): Promise<Device | null> {
    const r = await this.check(id, password);
    return r.ok ? r.device : null;
  }

  /** As `verify`, saying why it failed. A disabled device is reported only to the holder of its password. */
  async check(id: string, password: string): Promise<VerifyResult> {
    const digest = sha256(password);
    const hit = this.cache.get(id);
    if (hit && this.now() - hit.at < this.cacheTtlMs && timingSafeEqual(hit.digest, digest)) return { ok: true, device: hit.device };
    const gen = this.generation.get(id) ?? 0;
    const row = this.row(id);
    if (!row) return { ok: false, reason: 'unknown' };
    if (!(await checkPassword(password, row.password_hash))) return { ok: false, reason: 'wrong-password' };
    // rotated, disabled or removed while the check ran: answer from the new state, and cache nothing stale
    if ((this.generation.get(id) ?? 0) !== gen) return this.check(id, password);
    if (row.disabled === 1) return { ok: false, reason: 'disabled' };
    if (row.password_hash.startsWith(SCRYPT_PREFIX)) this.sql.upgradeHash.run(hashPassword(password), id, row.password_hash);
    const device = toDevice(row);
    this.remember(id, digest, device);
    return { ok: true, device };
  }

  get(id: string): Device | null {
    const row = this.row(id);
    return row ? toDevice(row) : null;
  }

  list(q: DeviceListQuery): { items: Device[]; next: string | null } {
    const rows = this.sql.list.all({ kind: q.kind ?? null, after: q.after ?? null, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit).map(toDevice);
    return { items: page, next: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null };
  }

  remove(id: string): void {
    this.changeAndRevoke(id, () => this.sql.remove.run(id).changes);
  }

  /** A new password; the old one stops working at once (connections using it are told through `onRevoked`). */
  async rotate(id: string): Promise<string> {
    if (!this.row(id)) throw notFound(id);
    const password = randomBytes(PASSWORD_BYTES).toString('base64url');
    const hash = hashPassword(password);
    this.changeAndRevoke(id, () => this.sql.setHash.run(hash, id).changes);
    return password;
  }

  setDisabled(id: string, disabled: boolean): Device {
    this.changeAndRevoke(id, () => this.sql.setDisabled.run(disabled ? 1 : 0, id).changes);
    return this.get(id)!;
  }

  /**
   * Applies the revocations other processes on this database made since the last call (the
   * broker calls it about every second): their cached verifications go and `onRevoked` listeners
   * are told, so a device disabled or rotated through a separate `api` is disconnected here too.
   * Returns how many it applied.
   */
  pollRevocations(): number {
    let applied = 0;
    for (const { seq, device_id: id } of this.sql.revocationsAfter.all(this.revocationSeq)) {
      this.revocationSeq = seq;
      if (this.ownRevocations.delete(seq)) continue;
      this.revoke(id);
      applied++;
    }
    return applied;
  }

  /** Called after a device's credentials or state changed (rotate, disable, enable, remove): the broker drops its connections. */
  onRevoked(listener: (id: string) => void): () => void {
    this.revokedListeners.add(listener);
    return () => this.revokedListeners.delete(listener);
  }

  private row(id: string): Row | undefined {
    return this.sql.get.get(id);
  }

  private remember(id: string, digest: Buffer, device: Device): void {
    this.cache.delete(id);
    if (this.cache.size >= this.cacheMaxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, { digest, device, at: this.now() });
  }

  /** Runs the change (`changes` rows, 0: no such device) with its revocation row in one transaction, then revokes here. */
  private changeAndRevoke(id: string, fn: () => number): void {
    const seq = this.change(() => {
      if (fn() === 0) throw notFound(id);
      this.sql.pruneRevocations.run(this.now() - REVOCATIONS_KEPT_MS);
      return Number(this.sql.addRevocation.run(id, this.now()).lastInsertRowid);
    });
    if (this.ownRevocations.size >= 10_000) this.ownRevocations.clear(); // nobody polls here (an `api` process): at worst a double revoke
    this.ownRevocations.add(seq);
    this.revoke(id);
  }

  private revoke(id: string): void {
    this.cache.delete(id);
    this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
    for (const listener of this.revokedListeners) listener(id);
  }
}

const exists = (id: string) => new DeviceError('GP_ERR_DEVICE_EXISTS', `a device with id "${id}" is already registered`);
const notFound = (id: string) => new DeviceError('GP_ERR_DEVICE_NOT_FOUND', `no device with id "${id}"`);

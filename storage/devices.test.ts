import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceError, DeviceRegistry } from './devices.js';
import { openMetadataDb, type MetadataDb } from './metadata-db.js';

describe('DeviceRegistry', () => {
  let dir: string;
  let db: MetadataDb;
  let devices: DeviceRegistry;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gp-devices-'));
    db = openMetadataDb(join(dir, 'meta.db'));
    devices = new DeviceRegistry(db, { now: () => 1_700_000_000_000 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers a device and returns a random password once', async () => {
    const { device, password } = await devices.register({ id: 'drone-1', kind: 'drone', gridId: 'A1', name: 'North' });
    expect(device).toEqual({ id: 'drone-1', kind: 'drone', gridId: 'A1', name: 'North', disabled: false, createdAt: 1_700_000_000_000 });
    expect(Buffer.from(password, 'base64url').length).toBeGreaterThanOrEqual(24);
    const other = await devices.register({ id: 'drone-2', kind: 'drone' });
    expect(other.password).not.toBe(password);
    expect(other.device).toEqual({ id: 'drone-2', kind: 'drone', disabled: false, createdAt: 1_700_000_000_000 });
  });

  it('stores only a salted SHA-256 of the password', async () => {
    const { password } = await devices.register({ id: 's-1', kind: 'sensor' });
    const { password: again } = await devices.register({ id: 's-2', kind: 'sensor' });
    const hashes = db.prepare('SELECT password_hash FROM devices ORDER BY id').all() as Array<{ password_hash: string }>;
    for (const h of hashes) {
      expect(h.password_hash).toMatch(/^sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      expect(h.password_hash).not.toContain(password);
      expect(h.password_hash).not.toContain(again);
    }
    // salted: the digest is not the bare SHA-256 of the password
    expect(hashes[0]!.password_hash).not.toContain(createHash('sha256').update(password).digest('base64url'));
  });

  it('accepts a scrypt hash of an earlier version and replaces it by the SHA-256 form at the first successful check', async () => {
    const { password } = await devices.register({ id: 'old-1', kind: 'drone' });
    const salt = randomBytes(16);
    const legacy = ['scrypt', 4096, 8, 1, salt.toString('base64url'), scryptSync(password, salt, 32, { N: 4096, r: 8, p: 1 }).toString('base64url')].join('$');
    db.prepare('UPDATE devices SET password_hash = ? WHERE id = ?').run(legacy, 'old-1');
    const fresh = new DeviceRegistry(db, { now: () => 1_700_000_000_000 }); // nothing cached
    expect(await fresh.check('old-1', 'not-the-password')).toEqual({ ok: false, reason: 'wrong-password' });
    expect((db.prepare('SELECT password_hash FROM devices WHERE id = ?').get('old-1') as { password_hash: string }).password_hash).toBe(legacy);
    expect(await fresh.verify('old-1', password)).not.toBeNull();
    const upgraded = (db.prepare('SELECT password_hash FROM devices WHERE id = ?').get('old-1') as { password_hash: string }).password_hash;
    expect(upgraded).toMatch(/^sha256\$/);
    expect(await new DeviceRegistry(db).verify('old-1', password)).not.toBeNull();
    expect(await new DeviceRegistry(db).verify('old-1', 'not-the-password')).toBeNull();
  });

  it('refuses duplicates, invalid and reserved ids with typed errors', async () => {
    await devices.register({ id: 'd1', kind: 'drone' });
    await expect(devices.register({ id: 'd1', kind: 'sensor' })).rejects.toMatchObject({ code: 'GP_ERR_DEVICE_EXISTS', status: 409 });
    await expect(devices.register({ id: 'bad/id', kind: 'drone' })).rejects.toBeInstanceOf(DeviceError);
    await expect(devices.register({ id: 'token', kind: 'drone' })).rejects.toMatchObject({ code: 'GP_ERR_API_VALIDATION' });
  });

  it('refuses a concurrent duplicate registration', async () => {
    const results = await Promise.allSettled([devices.register({ id: 'same', kind: 'drone' }), devices.register({ id: 'same', kind: 'drone' })]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('verifies the current password only, and says why not', async () => {
    const { password } = await devices.register({ id: 'd1', kind: 'drone' });
    expect(await devices.verify('d1', password)).toMatchObject({ id: 'd1', kind: 'drone' });
    expect(await devices.verify('d1', password + 'x')).toBeNull();
    expect(await devices.verify('nobody', password)).toBeNull();
    expect(await devices.check('d1', 'wrong')).toEqual({ ok: false, reason: 'wrong-password' });
    expect(await devices.check('nobody', 'x')).toEqual({ ok: false, reason: 'unknown' });
  });

  it('refuses a disabled device, also from the cache, and accepts it again when enabled', async () => {
    const { password } = await devices.register({ id: 'd1', kind: 'drone' });
    expect(await devices.verify('d1', password)).not.toBeNull();
    expect(devices.setDisabled('d1', true).disabled).toBe(true);
    expect(await devices.verify('d1', password)).toBeNull();
    expect(await devices.check('d1', password)).toEqual({ ok: false, reason: 'disabled' });
    expect(await devices.check('d1', 'wrong')).toEqual({ ok: false, reason: 'wrong-password' });
    devices.setDisabled('d1', false);
    expect(await devices.verify('d1', password)).toMatchObject({ disabled: false });
  });

  it('rotates: the old password stops working at once, even when cached', async () => {
    const { password: old } = await devices.register({ id: 'd1', kind: 'drone' });
    expect(await devices.verify('d1', old)).not.toBeNull();
    const fresh = await devices.rotate('d1');
    expect(fresh).not.toBe(old);
    expect(await devices.verify('d1', old)).toBeNull();
    expect(await devices.verify('d1', fresh)).not.toBeNull();
  });

  it('answers from the new state when a device changed while its password was being checked', async () => {
    const { password } = await devices.register({ id: 'd1', kind: 'drone' });
    const verifying = devices.verify('d1', password);
    devices.setDisabled('d1', true); // lands while the check is awaited
    expect(await verifying).toBeNull();
    expect(await devices.check('d1', password)).toEqual({ ok: false, reason: 'disabled' });
  });

  it('answers a repeated verification from its cache, without reading the database', async () => {
    const { password } = await devices.register({ id: 'd1', kind: 'drone' });
    await devices.verify('d1', password);
    // changed behind the registry's back (as by another process): the cached answer stands until its TTL
    db.prepare("UPDATE devices SET password_hash = 'sha256$x$y' WHERE id = 'd1'").run();
    expect(await devices.verify('d1', password)).not.toBeNull();
    expect(await new DeviceRegistry(db).verify('d1', password)).toBeNull();
  });

  it('tells listeners about rotate, disable and remove, and forgets removed devices', async () => {
    const { password } = await devices.register({ id: 'd1', kind: 'drone' });
    const revoked: string[] = [];
    const stop = devices.onRevoked((id) => revoked.push(id));
    await devices.rotate('d1');
    devices.setDisabled('d1', true);
    devices.remove('d1');
    stop();
    expect(revoked).toEqual(['d1', 'd1', 'd1']);
    expect(devices.get('d1')).toBeNull();
    expect(await devices.verify('d1', password)).toBeNull();
    expect(() => devices.remove('d1')).toThrow(expect.objectContaining({ code: 'GP_ERR_DEVICE_NOT_FOUND' }));
    await expect(devices.rotate('d1')).rejects.toMatchObject({ code: 'GP_ERR_DEVICE_NOT_FOUND' });
    expect(() => devices.setDisabled('d1', true)).toThrow(DeviceError);
  });

  it('applies what another process on the same database revoked, once, and not its own changes again', async () => {
    const { password } = await devices.register({ id: 'drone-1', kind: 'drone' });
    const db2 = openMetadataDb(join(dir, 'meta.db'));
    try {
      const other = new DeviceRegistry(db2); // e.g. the `api` process, while this one is the broker
      const told: string[] = [];
      devices.onRevoked((id) => told.push(id));
      expect(await devices.verify('drone-1', password)).not.toBeNull(); // cached here now
      expect(devices.pollRevocations()).toBe(0);

      other.setDisabled('drone-1', true);
      // until the poll, this process has only its cache: the staleness is bounded by the poll interval
      expect(devices.pollRevocations()).toBe(1);
      expect(told).toEqual(['drone-1']);
      expect(await devices.check('drone-1', password)).toEqual({ ok: false, reason: 'disabled' });
      expect(devices.pollRevocations()).toBe(0);

      other.setDisabled('drone-1', false);
      const rotated = await other.rotate('drone-1');
      expect(devices.pollRevocations()).toBe(2);
      expect(await devices.check('drone-1', password)).toEqual({ ok: false, reason: 'wrong-password' });
      expect(await devices.verify('drone-1', rotated)).not.toBeNull();

      // its own change is applied at once and not again by the poll
      await devices.rotate('drone-1');
      expect(told).toEqual(['drone-1', 'drone-1', 'drone-1', 'drone-1']);
      expect(devices.pollRevocations()).toBe(0);
      expect(other.pollRevocations()).toBe(1);
      expect(() => other.setDisabled('nope', true)).toThrow(expect.objectContaining({ code: 'GP_ERR_DEVICE_NOT_FOUND' }));
      expect(devices.pollRevocations()).toBe(0); // a refused change leaves no revocation
    } finally {
      db2.close();
    }
  });

  it('lists by kind with an id cursor', async () => {
    for (const id of ['a', 'b', 'c', 'd']) await devices.register({ id, kind: 'drone' });
    await devices.register({ id: 's', kind: 'sensor' });
    const first = devices.list({ kind: 'drone', limit: 3 });
    expect(first.items.map((d) => d.id)).toEqual(['a', 'b', 'c']);
    expect(first.next).toBe('c');
    const second = devices.list({ kind: 'drone', after: first.next!, limit: 3 });
    expect(second).toEqual({ items: [expect.objectContaining({ id: 'd' })], next: null });
    expect(devices.list({ limit: 10 }).items).toHaveLength(5);
    expect(devices.list({ kind: 'sensor', limit: 10 }).items.map((d) => d.id)).toEqual(['s']);
  });
});

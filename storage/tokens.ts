import { createHash, randomBytes } from 'node:crypto';
import type { Principal, Role } from '../core/principal.js';
import type { MetadataDb } from './metadata-db.js';

export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  /** cells an officer is limited to; undefined: all */
  grids?: string[];
  /** epoch ms; undefined: never */
  expiresAt?: number;
  createdAt: number;
  revokedAt?: number;
}

interface Row {
  id: string;
  name: string;
  role: Role;
  grids_json: string | null;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
  token_hash: string;
}

/*
 * API tokens are 192-bit random secrets, so a plain SHA-256 of the token is a safe and fast
 * (per request) way to store them: there is nothing to guess, unlike a person's password.
 */
const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

function toToken(r: Row): ApiToken {
  const t: ApiToken = { id: r.id, name: r.name, role: r.role, createdAt: r.created_at };
  if (r.grids_json) t.grids = JSON.parse(r.grids_json) as string[];
  if (r.expires_at !== null) t.expiresAt = r.expires_at;
  if (r.revoked_at !== null) t.revokedAt = r.revoked_at;
  return t;
}

/** API tokens for people and their apps: issued by an admin, shown once, stored hashed, revocable. */
export class TokenStore {
  private readonly sql;

  constructor(db: MetadataDb, private readonly now: () => number = Date.now) {
    db.exec(`CREATE TABLE IF NOT EXISTS api_tokens (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, grids_json TEXT, expires_at INTEGER,
      created_at INTEGER NOT NULL, revoked_at INTEGER, token_hash TEXT NOT NULL UNIQUE)`);
    this.sql = {
      insert: db.prepare('INSERT INTO api_tokens (id, name, role, grids_json, expires_at, created_at, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      byHash: db.prepare<[string], Row>('SELECT * FROM api_tokens WHERE token_hash = ?'),
      byId: db.prepare<[string], Row>('SELECT * FROM api_tokens WHERE id = ?'),
      list: db.prepare<{ after: string | null; limit: number; revoked: number }, Row>(
        'SELECT * FROM api_tokens WHERE (@after IS NULL OR id > @after) AND (@revoked = 1 OR revoked_at IS NULL) ORDER BY id LIMIT @limit',
      ),
      revoke: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    };
  }

  issue(input: { name: string; role: Role; grids?: string[]; expiresAt?: number }): { token: string; record: ApiToken } {
    const id = `tok_${randomBytes(6).toString('hex')}`;
    const token = `gpt_${randomBytes(24).toString('base64url')}`;
    this.sql.insert.run(id, input.name, input.role, input.grids ? JSON.stringify(input.grids) : null, input.expiresAt ?? null, this.now(), hash(token));
    return { token, record: toToken(this.sql.byId.get(id)!) };
  }

  /** The person behind a token; null when unknown, revoked or expired. */
  verify(token: string): Principal | null {
    const row = this.sql.byHash.get(hash(token));
    if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= this.now())) return null;
    const t = toToken(row);
    return { type: 'person', tokenId: t.id, name: t.name, role: t.role, ...(t.grids && { grids: t.grids }) };
  }

  get(id: string): ApiToken | null {
    const r = this.sql.byId.get(id);
    return r ? toToken(r) : null;
  }

  list(q: { after?: string; limit: number; includeRevoked?: boolean }): { items: ApiToken[]; next: string | null } {
    const rows = this.sql.list.all({ after: q.after ?? null, limit: q.limit + 1, revoked: q.includeRevoked ? 1 : 0 });
    const items = rows.slice(0, q.limit).map(toToken);
    return { items, next: rows.length > q.limit ? items[items.length - 1]!.id : null };
  }

  /** true when it was active and is now revoked */
  revoke(id: string): boolean {
    return this.sql.revoke.run(this.now(), id).changes === 1;
  }
}

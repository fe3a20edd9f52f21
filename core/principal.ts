/** Who is calling: a device (MQTT only) or a person with an API token. */
export type Role = 'operator' | 'officer' | 'admin';

export type Principal =
  | { type: 'device'; id: string; kind: 'drone' | 'sensor' }
  | { type: 'person'; tokenId: string; name?: string; role: Role; grids?: string[] }
  /** another GridPatrol process of the deployment (ingest worker, api) connected to the broker */
  | { type: 'service'; name: string };

/**
 * MQTT username of GridPatrol's own processes (password: the admin token). `$` cannot start a
 * device id, so no device can be registered under it.
 */
export const SERVICE_USERNAME = '$gridpatrol';

const RANK: Record<Role, number> = { operator: 1, officer: 2, admin: 3 };

/** Roles include each other upward (CONTRACT): admin ⊇ officer ⊇ operator. */
export function hasRole(p: Principal | null | undefined, needed: Role): boolean {
  return p?.type === 'person' && RANK[p.role] >= RANK[needed];
}

/** An officer limited to some cells sees and acts on those cells only. */
export function canSeeCell(p: Principal | null | undefined, gridId: string): boolean {
  return !(p?.type === 'person' && p.grids && !p.grids.includes(gridId));
}

/** The name recorded in audit trails for a caller. */
export function actorOf(p: Principal | null | undefined): string {
  return p?.type === 'person' ? (p.name ?? p.tokenId) : p?.type === 'device' ? p.id : p?.type === 'service' ? p.name : 'unknown';
}

/** Who is calling: a device (MQTT only) or a person with an API token. */
export type Role = 'operator' | 'officer' | 'admin';

export type Principal =
  | { type: 'device'; id: string; kind: 'drone' | 'sensor' }
  | { type: 'person'; tokenId: string; name?: string; role: Role; grids?: string[] };

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
  return p?.type === 'person' ? (p.name ?? p.tokenId) : p?.type === 'device' ? p.id : 'unknown';
}

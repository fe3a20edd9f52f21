/** Who is calling: a device (MQTT only) or a person with an API token. */
export type Role = 'operator' | 'officer' | 'admin';

export type Principal =
  | { type: 'device'; id: string; kind: 'drone' | 'sensor' }
  | { type: 'person'; tokenId: string; role: Role; grids?: string[] };

const RANK: Record<Role, number> = { operator: 1, officer: 2, admin: 3 };

/** Roles include each other upward (CONTRACT): admin ⊇ officer ⊇ operator. */
export function hasRole(p: Principal | null | undefined, needed: Role): boolean {
  return p?.type === 'person' && RANK[p.role] >= RANK[needed];
}

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * The admin bearer token: GRIDPATROL_ADMIN_TOKEN when set; otherwise generated once, kept in the
 * data folder (mode 0600) and reused. `generated` tells main to print it, once.
 */
export function resolveAdminToken(dataDir: string, configured?: string): { token: string; generated: boolean; file: string } {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (configured) return { token: configured, generated: false, file };
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generated: false, file };
  const token = `gpa_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return { token, generated: true, file };
}

import { Api, ApiError } from './api.js';
import type { InfoView, Role } from './types.js';

const KEY = 'gridpatrol.token';

export interface Session {
  api: Api;
  info: InfoView;
  role: Role;
  /** officers and admins see alerts, rules and the report, and may acknowledge and resolve */
  officer: boolean;
}

/** The token lives in sessionStorage: it is gone when the tab closes, and never in a URL. */
export const savedToken = (): string | null => sessionStorage.getItem(KEY);
export const saveToken = (token: string): void => sessionStorage.setItem(KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(KEY);

/**
 * Checks the token and learns its role from GET /api/v1/info (any role). A token the server does
 * not know is refused here, before anything is drawn.
 */
export async function signIn(token: string): Promise<Session> {
  const api = new Api(token.trim());
  try {
    const info = await api.get<InfoView>('/api/v1/info');
    const role = info.you.role;
    return { api, info, role, officer: role === 'officer' || role === 'admin' };
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw new Error('This token is unknown, revoked or expired.');
    if (err instanceof ApiError && err.status === 429) throw new Error('Too many failed sign-ins from this address; wait a minute.');
    throw err;
  }
}

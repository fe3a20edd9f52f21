import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasRole, type Principal, type Role } from '../../core/principal.js';
import { sendProblem } from '../problem.js';
import { AuthFailureLimiter } from './security.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** onRequest hook (before validation, so a stranger learns nothing of the schema): the caller must hold `role` or a higher one. */
    requireRole(role: Role): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

export interface AuthOptions {
  failures?: AuthFailureLimiter;
  /** null when the token is unknown, revoked or expired */
  verifyToken: (token: string) => Promise<Principal | null>;
}

/** Bearer authentication (CONTRACT: `Authorization: Bearer <token>`), roles included upward. */
export const authPlugin = fp<AuthOptions>(
  async (app, opts) => {
    app.decorateRequest('principal', null);
    const failures = opts.failures ?? new AuthFailureLimiter();
    app.decorate('requireRole', (role: Role) => async (req: FastifyRequest, reply: FastifyReply) => {
      const header = req.headers.authorization;
      if (failures.blocked(req.ip)) return void (await sendProblem(reply, req, 'GP_ERR_API_RATE_LIMITED', 'too many failed authentications from this address; wait a minute'));
      if (!header) return void (await sendProblem(reply, req, 'GP_ERR_AUTH_MISSING', 'send "Authorization: Bearer <token>"'));
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      const principal = m ? await opts.verifyToken(m[1]!) : null;
      if (!principal) {
        failures.fail(req.ip);
        return void (await sendProblem(reply, req, 'GP_ERR_AUTH_INVALID', 'the bearer token is unknown, revoked or expired'));
      }
      if (!hasRole(principal, role)) return void (await sendProblem(reply, req, 'GP_ERR_AUTH_FORBIDDEN', `this route needs the ${role} role`));
      req.principal = principal;
    });
  },
  { name: 'gridpatrol-auth' },
);

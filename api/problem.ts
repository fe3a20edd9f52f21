import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERRORS, GridPatrolError, type ErrorCode } from '../lib/errors.js';

const TYPE_BASE = 'https://gridpatrol.dev/problems/';

/** Sends an RFC 9457 problem; every error of the api goes out through here. */
export function sendProblem(reply: FastifyReply, req: FastifyRequest, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}) {
  const { status, title } = ERRORS[code];
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: TYPE_BASE + code, title, status, detail, code, instance: req.url, requestId: req.id, ...extra });
}

/** One error handler: catalog errors as they are, validation errors with the field, 5xx hidden. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof GridPatrolError) return sendProblem(reply, req, err.code, err.detail, err.extra);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = err.validation.map((v) => ({
        field: `${err.validationContext ?? 'request'}${v.instancePath ? v.instancePath.replaceAll('/', '.') : ''}`,
        message: v.message ?? 'invalid',
      }));
      return sendProblem(reply, req, 'GP_ERR_API_VALIDATION', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, req, 'GP_ERR_API_BODY_TOO_LARGE', `the body is larger than ${app.initialConfig.bodyLimit} bytes`);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return sendProblem(reply, req, 'GP_ERR_API_VALIDATION', err.message);
    req.log.error({ err }, 'request failed');
    return sendProblem(reply, req, 'GP_ERR_INTERNAL', 'the server failed to answer; the request id identifies it in the logs');
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, req, 'GP_ERR_API_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}; see /docs`));
}

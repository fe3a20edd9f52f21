/**
 * The error catalog: every error a caller can see has a code, an HTTP status and a title.
 * The api's error handler turns a GridPatrolError into application/problem+json; README's
 * "Errors" table lists every code (a test checks it).
 */
export const ERRORS = {
  GP_ERR_API_VALIDATION: { status: 400, title: 'The request is not valid' },
  GP_ERR_API_BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  GP_ERR_API_NOT_FOUND: { status: 404, title: 'No such route' },
  GP_ERR_API_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  GP_ERR_AUTH_MISSING: { status: 401, title: 'Authentication required' },
  GP_ERR_AUTH_INVALID: { status: 401, title: 'The token is not valid' },
  GP_ERR_AUTH_FORBIDDEN: { status: 403, title: 'Not allowed for this role' },
  GP_ERR_DEVICE_EXISTS: { status: 409, title: 'A device with this id exists' },
  GP_ERR_DEVICE_NOT_FOUND: { status: 404, title: 'No such device' },
  GP_ERR_DRONE_NOT_FOUND: { status: 404, title: 'No such drone' },
  GP_ERR_SENSOR_NOT_FOUND: { status: 404, title: 'No such sensor' },
  GP_ERR_ALERT_NOT_FOUND: { status: 404, title: 'No such alert' },
  GP_ERR_ALERT_STATE: { status: 409, title: 'The alert is not in a state that allows this' },
  GP_ERR_SILENCE_NOT_FOUND: { status: 404, title: 'No such silence' },
  GP_ERR_TOKEN_NOT_FOUND: { status: 404, title: 'No such token' },
  GP_ERR_QUERY_RANGE: { status: 400, title: 'The time range is not valid' },
  GP_ERR_STORE_UNAVAILABLE: { status: 503, title: 'The telemetry store is unavailable' },
  GP_ERR_SPOOL_FULL: { status: 503, title: 'The spool is at its disk budget' },
  GP_ERR_DATA_UNWRITABLE: { status: 503, title: 'The data folder cannot be written' },
  GP_ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class GridPatrolError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${code}: ${detail}`);
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
  }
}

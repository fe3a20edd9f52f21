import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import { SERVICE_USERNAME } from '../core/principal.js';
import { DeviceId } from '../core/telemetry.js';
import { parseDeviceTopic } from '../core/topics.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { DeviceRegistry } from '../storage/devices.js';
import { isDataUnwritable } from '../storage/write-guard.js';
import type { LoginThrottle } from './login-throttle.js';
import type { ClientSessions } from './sessions.js';
import type { Principal } from './types.js';

export interface AuthenticateDeps {
  devices: DeviceRegistry;
  verifyToken: (token: string) => Promise<Principal | null>;
  /** true for the password GridPatrol's own processes log in with (username SERVICE_USERNAME); absent: no service logins */
  isServiceToken?: (token: string) => boolean;
  sessions: ClientSessions;
  throttle: LoginThrottle;
  /** the connection's remote address (TCP peer, or the WebSocket's socket) */
  remoteOf: (client: Client) => string | undefined;
  metrics: Metrics;
  log: Logger;
}

/** [MQTT-3.2.2.3] CONNACK return codes: 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not authorized. */
type ReturnCode = 2 | 3 | 4 | 5;
type Refusal = { code: ReturnCode; reason: string };
type Outcome = { principal: Principal } | Refusal;

const TOKEN_USERNAME = 'token';
const refuse = (code: ReturnCode, reason: string): Refusal => ({ code, reason });

/**
 * Aedes runs this after preConnect, once per CONNECT, before the session is set up. Calling back
 * (null, true) accepts the connection; an error carrying `returnCode` refuses it with that
 * CONNACK code and closes it. Deny by default: only a registered, enabled device with its current
 * password (username = device id) or a valid API token (username `token`) gets in. Failed logins
 * are counted per remote address (LoginThrottle): refusals are slowed, then the address is locked out.
 */
export function createAuthenticate(deps: AuthenticateDeps): NonNullable<AedesOptions['authenticate']> {
  const log = deps.log.child({ component: 'broker-auth' });

  return (client, username, password, done) => {
    decide(deps, client, username, password).then(
      (outcome) => {
        if ('principal' in outcome) {
          deps.sessions.attach(client, outcome.principal);
          return done(null, true);
        }
        deps.metrics.mqttRefused.inc({ action: 'connect', reason: outcome.reason });
        log.debug({ clientId: client.id, username, reason: outcome.reason }, 'connect refused');
        const delayMs = CREDENTIAL_FAILURES.has(outcome.reason) ? throttleFailure(deps, log, client) : 0;
        if (delayMs > 0) setTimeout(() => done(authError(outcome), null), delayMs);
        else done(authError(outcome), null);
      },
      (err: unknown) => {
        // a paused database was reported once, as ERROR, by its WriteGuard: not again per device
        const reason = isDataUnwritable(err) ? 'data_unwritable' : 'error';
        deps.metrics.mqttRefused.inc({ action: 'connect', reason });
        if (reason === 'error') log.error({ err, clientId: client.id }, 'authentication failed with an error; connect refused');
        else log.debug({ clientId: client.id }, 'connect refused: the data folder cannot be written');
        done(authError(refuse(3, reason)), null);
      },
    );
  };
}

/** Refusals that are guesses at a credential, and count towards a lockout. */
const CREDENTIAL_FAILURES = new Set(['no_credentials', 'bad_username', 'unknown_device', 'bad_password', 'bad_token']);

function throttleFailure(deps: AuthenticateDeps, log: Logger, client: Client): number {
  const address = deps.remoteOf(client) ?? 'unknown';
  const { delayMs, locked } = deps.throttle.failed(address);
  if (locked) log.warn({ address }, 'too many failed MQTT logins from one address: refusing its logins for a while');
  return delayMs;
}

async function decide(deps: AuthenticateDeps, client: Client, username: string | undefined, password: Buffer | undefined): Promise<Outcome> {
  // [MQTT-3.1.3-8] a zero-byte client id needs a clean session: there is no id to keep the session under
  if (deps.sessions.hadEmptyIdWithoutCleanSession(client)) return refuse(2, 'empty_client_id');
  // checked before any password: a locked-out address costs no scrypt
  if (deps.throttle.lockedFor(deps.remoteOf(client) ?? 'unknown') > 0) return refuse(5, 'locked_out');
  if (!username || !password) return refuse(4, 'no_credentials');
  const outcome =
    username === TOKEN_USERNAME ? await person(deps, client, password)
    : username === SERVICE_USERNAME ? service(deps, client, password)
    : await device(deps, client, username, password);
  if ('principal' in outcome && deps.sessions.clientIdHeldByOther(client.id, outcome.principal)) {
    // [MQTT-3.1.4-2] would let this connection take over another principal's session
    return refuse(2, 'client_id_taken');
  }
  return outcome;
}

async function person(deps: AuthenticateDeps, client: Client, password: Buffer): Promise<Outcome> {
  const principal = await deps.verifyToken(password.toString('utf8'));
  if (!principal || principal.type !== 'person') return refuse(4, 'bad_token');
  // people publish nothing but commands: a will is refused rather than dropped silently later
  if (deps.sessions.willOf(client)) return refuse(5, 'will_topic');
  return { principal };
}

function service(deps: AuthenticateDeps, client: Client, password: Buffer): Outcome {
  if (!deps.isServiceToken?.(password.toString('utf8'))) return refuse(4, 'bad_token');
  if (deps.sessions.willOf(client)) return refuse(5, 'will_topic');
  return { principal: { type: 'service', name: client.id } };
}

async function device(deps: AuthenticateDeps, client: Client, username: string, password: Buffer): Promise<Outcome> {
  if (!DeviceId.safeParse(username).success) return refuse(4, 'bad_username');
  const result = await deps.devices.check(username, password.toString('utf8'));
  if (!result.ok) return result.reason === 'disabled' ? refuse(5, 'disabled') : refuse(4, result.reason === 'unknown' ? 'unknown_device' : 'bad_password');
  const principal: Principal = { type: 'device', id: result.device.id, kind: result.device.kind };
  const will = deps.sessions.willOf(client);
  if (will && !isOwnStatusTopic(principal, will.topic)) return refuse(5, 'will_topic');
  return { principal };
}

/** CONTRACT: a device's last will is its own retained status topic. */
function isOwnStatusTopic(p: Extract<Principal, { type: 'device' }>, topic: string): boolean {
  const t = parseDeviceTopic(topic);
  return t !== null && t.kind === p.kind && t.deviceId === p.id && t.channel === 'status';
}

function authError(r: Refusal): AuthenticateError {
  return Object.assign(new Error(`connect refused: ${r.reason}`), { returnCode: r.code }) as unknown as AuthenticateError;
}

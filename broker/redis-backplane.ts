import aedesPersistenceRedis from 'aedes-persistence-redis';
import type { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import mqemitterRedis from 'mqemitter-redis';
import type { Logger } from '../lib/logger.js';

/** how long start-up waits for Redis to answer before giving up (ms) */
export const REDIS_START_TIMEOUT_MS = 10_000;

/**
 * What several Aedes nodes share through one Redis: sessions, retained messages, subscriptions
 * and wills (aedes-persistence-redis), and every published message (mqemitter-redis: a node
 * publishes to Redis and each node, itself included, delivers what comes back to its own clients).
 */
export interface RedisBackplane {
  persistence: ReturnType<typeof aedesPersistenceRedis>;
  mq: ReturnType<typeof mqemitterRedis>;
  /** Resolves once every connection answers; rejects after REDIS_START_TIMEOUT_MS with one line naming GRIDPATROL_REDIS_URL. */
  ready(): Promise<void>;
  /** for /readyz: false while any connection to Redis is down (ioredis keeps reconnecting) */
  health(): { ok: boolean; detail: string };
  /**
   * Waits for `aedesClosed` (Aedes closes `mq` itself), at most a few seconds: with Redis down its
   * queued commands and QUIT would wait for Redis. Then leaves Redis.
   */
  close(aedesClosed: Promise<void>): Promise<void>;
}

/** the health PING's period, and how long without an answer (ms) makes a connected Redis not answering */
const PING_EVERY_MS = 1000;
const SILENT_AFTER_MS = 3000;
/** how long closing waits for what Aedes and the persistence still send to Redis (ms) */
const CLOSE_WAIT_MS = 5_000;

async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** The URL without its password, for logs and messages. */
export function redactRedisUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** A last will as aedes-persistence-redis keeps it: the packet, and the connection that left it. */
export interface StoredWill {
  topic: string;
  clientId: string;
  brokerId: string;
}

export interface BackplaneOptions {
  /** Whether a will left by a dead node may still be published; a will refused here is deleted. */
  keepOrphanWill: (will: StoredWill) => boolean;
}

export function openRedisBackplane(url: string, log: Logger, opts: BackplaneOptions): RedisBackplane {
  const shown = redactRedisUrl(url);
  const rlog = log.child({ component: 'redis', redis: shown });
  // one connection for the persistence, two for the emitter (a subscribed connection can only subscribe)
  const db = new Redis(url, { connectionName: 'gridpatrol-persistence' });
  const sub = db.duplicate({ connectionName: 'gridpatrol-mq-sub' });
  const pub = db.duplicate({ connectionName: 'gridpatrol-mq-pub' });
  const conns = [db, sub, pub];
  let lastError = '';
  let down = false;
  let closing = false;
  for (const c of conns) {
    // ioredis reconnects by itself; an outage is reported once, and its end once
    c.on('error', (err: Error) => {
      lastError = err.message || String(err);
      if (down || closing) return;
      down = true;
      rlog.error({ err: lastError }, 'Redis does not answer: sessions, retained messages and relay to the other broker nodes wait for it');
    });
    c.on('ready', () => {
      if (!down || !conns.every((x) => x.status === 'ready')) return;
      down = false;
      rlog.info('Redis answers again');
    });
  }
  // a Redis that hangs keeps its connections "ready": a PING every second tells that it answers
  let answeredAt = Date.now();
  const probe = setInterval(() => {
    if (db.status === 'ready') db.ping().then(() => (answeredAt = Date.now()), () => {});
  }, PING_EVERY_MS);
  probe.unref();
  const silentMs = () => Date.now() - answeredAt;
  const persistence = aedesPersistenceRedis({ conn: db });
  persistence.streamWill = orphanWills(persistence, db, opts.keepOrphanWill, rlog);
  const mq = mqemitterRedis({ subConn: sub, pubConn: pub });
  // mqemitter-redis re-emits connection errors on `state` (not in its types); unheard they would end
  // the process, and the connections' own handlers above already report them
  (mq as unknown as { state: EventEmitter }).state.on('error', () => {});

  return {
    persistence,
    mq,
    async ready() {
      if (conns.every((c) => c.status === 'ready')) return;
      let timer: NodeJS.Timeout | undefined;
      const allReady = Promise.all(conns.map((c) => (c.status === 'ready' ? undefined : new Promise((resolve) => c.once('ready', resolve)))));
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), REDIS_START_TIMEOUT_MS)));
      const r = await Promise.race([allReady, timedOut]);
      clearTimeout(timer);
      if (r !== 'timeout') return;
      closing = true;
      for (const c of conns) c.disconnect();
      throw new Error(`GRIDPATROL_REDIS_URL ${shown} does not answer after ${REDIS_START_TIMEOUT_MS / 1000} s${lastError ? ` (${lastError})` : ''}: start Redis or fix the setting`);
    },
    health() {
      const connected = conns.every((c) => c.status === 'ready');
      const ok = connected && silentMs() < SILENT_AFTER_MS;
      const why = connected ? ` for ${Math.round(silentMs() / 1000)} s` : lastError ? ` (${lastError})` : '';
      return { ok, detail: ok ? `${shown} answers` : `${shown} does not answer${why}: sessions, retained messages and relay between broker nodes wait` };
    },
    async close(aedesClosed) {
      clearInterval(probe);
      const waitMs = conns.every((c) => c.status === 'ready') ? CLOSE_WAIT_MS : 0;
      await within(aedesClosed, waitMs);
      closing = true;
      await within(persistence.destroy().catch((err: unknown) => rlog.debug({ err }, 'leaving Redis')), waitMs);
      for (const c of conns) c.disconnect();
    },
  };
}

/**
 * Aedes on a live node publishes the wills a dead node left behind (every 4 heartbeats). A will is
 * stored per node and client (`will:<brokerId>:<clientId>`, aedes-persistence-redis), so the will a
 * device left on a dead node is still there after the device reconnected to a live one: publishing
 * it would say "offline" of a device that is online. Those are deleted instead, as are wills the
 * ACL would refuse (refused, Aedes would retry them forever).
 */
function orphanWills(
  persistence: RedisBackplane['persistence'],
  db: Redis,
  keep: BackplaneOptions['keepOrphanWill'],
  log: Logger,
): RedisBackplane['persistence']['streamWill'] {
  const streamWill = persistence.streamWill.bind(persistence);
  async function* filter(brokers: Record<string, number>): AsyncGenerator<StoredWill> {
    const reconnected = new Set<string>();
    for (const key of await db.lrange('will', 0, -1)) {
      const [, brokerId, clientId] = /^will:([^:]+):(.*)$/.exec(key) ?? [];
      if (brokerId && clientId && brokers[brokerId] !== undefined) reconnected.add(decodeURIComponent(clientId));
    }
    for await (const will of streamWill(brokers) as AsyncIterable<StoredWill>) {
      if (!reconnected.has(will.clientId) && keep(will)) {
        yield will;
        continue;
      }
      log.debug({ clientId: will.clientId, deadBroker: will.brokerId }, 'will of a dead node dropped: the client reconnected, or the will is not allowed');
      await persistence.delWill({ id: will.clientId, brokerId: will.brokerId });
    }
  }
  return (brokers) => Readable.from(filter(brokers));
}

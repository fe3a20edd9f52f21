// aedes-persistence-redis ships no types. Its default export builds the same callback/promise
// persistence that Aedes builds in memory by default (aedes-persistence's CallBackPersistence).
declare module 'aedes-persistence-redis' {
  import type { Redis, RedisOptions } from 'ioredis';

  interface AedesPersistenceRedis {
    /** Aedes calls it from listen(); resolves once the subscriptions were read from Redis. */
    setup(broker: unknown): Promise<void>;
    /** Leaves Redis (Aedes does not call it on close). */
    destroy(): Promise<void>;
    /** the wills stored by brokers not in `brokers` (id → last heartbeat, epoch ms) */
    streamWill(brokers: Record<string, number>): import('node:stream').Readable;
    delWill(client: { id: string; brokerId: string }): Promise<unknown>;
  }

  interface Options extends RedisOptions {
    /** a ready-made connection (ioredis Redis or Cluster) instead of one built from the options */
    conn?: Redis;
    /** most queued messages delivered to a persistent session on CONNECT (default 1000) */
    maxSessionDelivery?: number;
    packetTTL?: (packet: unknown) => number;
  }

  function aedesPersistenceRedis(opts?: Options): AedesPersistenceRedis;
  export default aedesPersistenceRedis;
}

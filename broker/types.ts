import type { Aedes } from 'aedes';
import type { Config } from '../core/config.js';
import type { Principal } from '../core/principal.js';
import type { DeviceChannel, DeviceKind } from '../core/topics.js';
import type { Logger } from '../lib/logger.js';
import type { TlsFiles } from '../lib/tls.js';
import type { Metrics } from '../lib/metrics.js';
import type { DeviceRegistry } from '../storage/devices.js';

/** Who is behind an MQTT connection, fixed when it authenticated (one definition, in core/). */
export type { Principal };

/** A publish by a device on one of its own device → broker topics, handed to ingest. */
export interface IncomingDeviceMessage {
  deviceId: string;
  kind: DeviceKind;
  channel: DeviceChannel;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** epoch ms, server clock */
  receivedAt: number;
  /** true when the broker publishes the device's last will after its connection was lost */
  isWill: boolean;
}

export interface BrokerDeps {
  config: Pick<Config, 'host' | 'mqttPort' | 'mqttWsPort' | 'limits'> & Partial<Pick<Config, 'mqttAuth' | 'tls' | 'redis' | 'mqttProxyProtocol'>>;
  /** the certificate and key read from config.tls: MQTT over TLS on its port, and WSS instead of WS */
  tls?: TlsFiles;
  devices: DeviceRegistry;
  /** an API token (MQTT username `token`, the token as password) to the person it was issued to; null when unknown or revoked */
  verifyToken: (token: string) => Promise<Principal | null>;
  /** true for the admin token, with which GridPatrol's own processes log in (username SERVICE_USERNAME); absent: no service logins */
  isServiceToken?: (token: string) => boolean;
  /** resolves once the message is durable (spooled) or dead-lettered; rejects when it cannot be taken (spool full) */
  ingest: (msg: IncomingDeviceMessage) => Promise<void>;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
}

export interface Broker {
  aedes: Aedes;
  /** Starts the TCP, WebSocket (`/mqtt`) and, with TLS, MQTTS listeners; ports 0 pick free ones, the real ones are returned. */
  listen(): Promise<{ mqttPort: number; wsPort: number; mqttsPort: number | null }>;
  /** Stops listening, closes every connection and the broker. Wills are not published for our own shutdown. */
  close(): Promise<void>;
  /** Closes every connection of this device (after its password was rotated or it was disabled or removed). */
  disconnectDevice(id: string): void;
  /** the Redis this node shares with the other broker nodes (for /readyz); null: the broker keeps its state in memory */
  redis: { health(): { ok: boolean; detail: string } } | null;
}

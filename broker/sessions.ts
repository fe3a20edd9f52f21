import type { Client, ConnectPacket } from 'aedes';
import { finished } from 'node:stream';
import type { Principal } from './types.js';

type Will = NonNullable<ConnectPacket['will']>;

const keyOf = (p: Principal) => (p.type === 'device' ? `device:${p.id}` : p.type === 'service' ? `service:${p.name}` : `person:${p.tokenId}`);

/**
 * What the broker knows about each live connection: its principal once authenticated, the will
 * its CONNECT carried, and indexes by device id and MQTT client id. Entries leave with the
 * connection.
 */
export class ClientSessions {
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly wills = new WeakMap<Client, Will>();
  private readonly emptyIdWithoutClean = new WeakSet<Client>();
  private readonly byDevice = new Map<string, Set<Client>>();
  private readonly byClientId = new Map<string, Client>();

  /** Called at preConnect: the will object Aedes later publishes is this very object. */
  rememberWill(client: Client, will: Will | undefined): void {
    if (will) this.wills.set(client, will);
  }

  /**
   * Called at preConnect, before Aedes gives a zero-byte client id a generated one (it does so
   * whatever the clean flag says, which [MQTT-3.1.3-8] forbids for a session that is not clean).
   */
  rememberClientId(client: Client, clientId: string, clean: boolean): void {
    if (clientId === '' && !clean) this.emptyIdWithoutClean.add(client);
  }

  hadEmptyIdWithoutCleanSession(client: Client): boolean {
    return this.emptyIdWithoutClean.has(client);
  }

  willOf(client: Client): Will | undefined {
    return this.wills.get(client);
  }

  /** True when Aedes is publishing this client's last will rather than a PUBLISH it sent. */
  isWill(client: Client, packet: object): boolean {
    return this.wills.get(client) === packet;
  }

  principalOf(client: Client): Principal | undefined {
    return this.principals.get(client);
  }

  /** True when a live connection of another principal holds this MQTT client id (a new CONNECT would take it over). */
  clientIdHeldByOther(clientId: string, principal: Principal): boolean {
    const holder = this.byClientId.get(clientId);
    const held = holder && !holder.closed ? this.principals.get(holder) : undefined;
    return held !== undefined && keyOf(held) !== keyOf(principal);
  }

  attach(client: Client, principal: Principal): void {
    if (client.closed || client.conn.destroyed) return;
    this.principals.set(client, principal);
    this.byClientId.set(client.id, client);
    if (principal.type === 'device') this.index(principal.id, client);
    finished(client.conn, () => this.detach(client, principal));
  }

  clientsOf(deviceId: string): Client[] {
    return [...(this.byDevice.get(deviceId) ?? [])];
  }

  private index(deviceId: string, client: Client): void {
    const set = this.byDevice.get(deviceId) ?? new Set<Client>();
    set.add(client);
    this.byDevice.set(deviceId, set);
  }

  private detach(client: Client, principal: Principal): void {
    if (this.byClientId.get(client.id) === client) this.byClientId.delete(client.id);
    if (principal.type !== 'device') return;
    const set = this.byDevice.get(principal.id);
    set?.delete(client);
    if (set?.size === 0) this.byDevice.delete(principal.id);
  }
}

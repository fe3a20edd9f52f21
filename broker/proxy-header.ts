import type { Socket } from 'node:net';
import { Command, IPv4ProxyAddress, IPv6ProxyAddress, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js';

/**
 * The PROXY protocol (HAProxy's `send-proxy` / `send-proxy-v2`): a load balancer in TCP mode puts
 * one header before the client's bytes saying whom it relays. Only for listeners that nothing but
 * the proxy can reach: any client could send such a header itself.
 * https://www.haproxy.org/download/1.8/doc/proxy-protocol.txt
 */

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** v1: "PROXY TCP6 <39> <39> <5> <5>\r\n" is at most 107 bytes (spec 2.1) */
const V1_MAX_BYTES = 107;
/** v2: 16 bytes, then addresses and TLVs; more than this is not a proxy we know */
const V2_MAX_BYTES = 16 + 2048;
/** a proxy sends its header at once; a connection without one by then is dropped */
export const PROXY_HEADER_TIMEOUT_MS = 5000;

export class ProxyHeaderError extends Error {}

/** The client's address (the proxy's own for a LOCAL or UNKNOWN header: its health checks), and the bytes after the header. */
export interface ProxyHeader {
  remote: string | undefined;
  rest: Buffer;
}

/**
 * Parses a header at the start of `buf`: the header and what follows, `undefined` while more
 * bytes are needed, or a ProxyHeaderError for anything that is not a PROXY header.
 */
export function parseProxyHeader(buf: Buffer, socketRemote: string | undefined): ProxyHeader | undefined {
  if (startsWith(buf, V2_SIGNATURE)) {
    if (buf.length < 16) return undefined;
    const total = 16 + buf.readUInt16BE(14);
    if (total > V2_MAX_BYTES) throw new ProxyHeaderError(`PROXY v2 header of ${total} bytes`);
    if (buf.length < total) return undefined;
    let header: V2ProxyProtocol;
    try {
      header = V2ProxyProtocol.parse(new Uint8Array(buf.subarray(0, total)));
    } catch (err) {
      throw new ProxyHeaderError(`PROXY v2 header: ${(err as Error).message}`);
    }
    const a = header.proxyAddress;
    const remote = header.command === Command.PROXY && a instanceof IPv4ProxyAddress ? a.sourceAddress.address.join('.')
      : header.command === Command.PROXY && a instanceof IPv6ProxyAddress ? ipv6(a.sourceAddress.address)
      : socketRemote;
    return { remote, rest: buf.subarray(total) };
  }
  if (startsWith(buf, V1_PREFIX)) {
    const end = buf.indexOf('\r\n');
    if (end < 0) {
      if (buf.length >= V1_MAX_BYTES) throw new ProxyHeaderError('PROXY v1 header without CRLF in 107 bytes');
      return undefined;
    }
    const line = buf.toString('latin1', 0, end + 2);
    if (line.startsWith('PROXY UNKNOWN')) return { remote: socketRemote, rest: buf.subarray(end + 2) };
    try {
      return { remote: V1ProxyProtocol.parse(line).source.ipAddress, rest: buf.subarray(end + 2) };
    } catch (err) {
      throw new ProxyHeaderError(`PROXY v1 header: ${(err as Error).message}`);
    }
  }
  // not (yet) known to be either: wait only while what came could still be a prefix of one
  if (isPrefixOf(buf, V2_SIGNATURE) || isPrefixOf(buf, V1_PREFIX)) return undefined;
  throw new ProxyHeaderError('no PROXY header (is the listener behind a proxy that sends one?)');
}

/** Reads the header off a new socket: resolves with the client's address once the header is consumed (the socket paused, what followed it put back), rejects otherwise. */
export function readProxyHeader(socket: Socket, timeoutMs = PROXY_HEADER_TIMEOUT_MS): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | null, remote?: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(remote);
    };
    const timer = setTimeout(() => done(new ProxyHeaderError(`no PROXY header within ${timeoutMs} ms`)), timeoutMs);
    const onClose = () => done(new ProxyHeaderError('closed before a PROXY header'));
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let header: ProxyHeader | undefined;
      try {
        header = parseProxyHeader(buf, socket.remoteAddress);
      } catch (err) {
        return done(err as Error);
      }
      if (!header) return;
      socket.pause(); // before the listener goes: a flowing socket would drop what comes next
      if (header.rest.length) socket.unshift(header.rest);
      done(null, header.remote);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.subarray(0, prefix.length).equals(prefix);
}

function isPrefixOf(buf: Buffer, of: Buffer): boolean {
  return buf.length < of.length && of.subarray(0, buf.length).equals(buf);
}

function ipv6(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

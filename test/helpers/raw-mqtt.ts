import { connect, type Socket } from 'node:net';

/** MQTT 3.1.1 packets written by hand, for tests that must send what a client library refuses to. */
function str(s: string | Buffer): Buffer {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** [MQTT-2.2.3] remaining length: 7 bits a byte, high bit continues. */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

export function connectPacket(o: { clientId: string; username?: string; password?: string; clean?: boolean; keepalive?: number }): Buffer {
  let flags = o.clean === false ? 0 : 0x02;
  if (o.username !== undefined) flags |= 0x80;
  if (o.password !== undefined) flags |= 0x40;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(o.keepalive ?? 60);
  const body = Buffer.concat([
    str('MQTT'), Buffer.from([4, flags]), keepalive, str(o.clientId),
    ...(o.username !== undefined ? [str(o.username)] : []),
    ...(o.password !== undefined ? [str(o.password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

export function publishPacket(topic: string, payload: string | Buffer, qos: 0 | 1 = 0, messageId = 1): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  const body = Buffer.concat([str(topic), ...(qos ? [id] : []), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), remainingLength(body.length), body]);
}

export interface RawConnection {
  socket: Socket;
  /** everything the server sent */
  received: Buffer[];
  /** resolves when the server (or anyone) closed the connection */
  closed: Promise<void>;
}

/** A plain TCP connection to the broker; resolves once connected. */
export function rawConnect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, localAddress });
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    // the server's reset is the expected end of a bad connection, not a test failure
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, received, closed }));
    socket.once('error', reject);
  });
}

/** The CONNACK return code in what the server sent, or undefined when there was none. */
export function connackCode(received: Buffer[]): number | undefined {
  const all = Buffer.concat(received);
  return all.length >= 4 && all[0] === 0x20 ? all[3] : undefined;
}

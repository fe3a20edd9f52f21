import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { PassThrough } from 'node:stream';
import { PacketLimitedStream, PacketSizeScanner } from './packet-limit.js';

const publish = (payloadBytes: number) =>
  mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(payloadBytes), qos: 0, dup: false, retain: false });

function feed(scanner: PacketSizeScanner, bytes: Buffer, chunkSize: number): boolean {
  for (let i = 0; i < bytes.length; i += chunkSize) if (!scanner.accept(bytes.subarray(i, i + chunkSize))) return false;
  return true;
}

describe('PacketSizeScanner', () => {
  it('accepts packets up to the limit, however the bytes are split', () => {
    const stream = Buffer.concat([publish(10), publish(0), publish(200), mqttPacket.generate({ cmd: 'pingreq' }), publish(996 - 5)]);
    for (const chunk of [1, 2, 3, 7, 64, 4096]) expect(feed(new PacketSizeScanner(1000), stream, chunk)).toBe(true);
  });

  it('refuses a packet one byte over the limit from its header alone', () => {
    const packet = publish(1000);
    expect(new PacketSizeScanner(packet.length).accept(packet)).toBe(true);
    expect(new PacketSizeScanner(packet.length - 1).accept(packet.subarray(0, 3))).toBe(false);
  });

  it('refuses an oversize packet that follows good ones, split across chunks', () => {
    const stream = Buffer.concat([publish(10), publish(10), publish(5000)]);
    expect(feed(new PacketSizeScanner(1000), stream, 5)).toBe(false);
  });

  it('refuses a remaining length longer than four bytes', () => {
    expect(new PacketSizeScanner(1 << 30).accept(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(false);
  });
});

describe('PacketLimitedStream', () => {
  it('hands the socket what was written in one tick as one write (a PUBACK is three pieces)', async () => {
    const socket = new PassThrough();
    const writes: Buffer[] = [];
    const write = socket.write.bind(socket);
    socket.write = ((chunk: Buffer, ...rest: never[]) => {
      writes.push(chunk);
      return write(chunk, ...rest);
    }) as typeof socket.write;
    const conn = new PacketLimitedStream(socket, 1000, () => {});
    for (const messageId of [1, 2, 3]) mqttPacket.writeToStream({ cmd: 'puback', messageId }, conn);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    expect(Buffer.concat(writes)).toEqual(Buffer.concat([1, 2, 3].map((messageId) => mqttPacket.generate({ cmd: 'puback', messageId }))));
  });
});

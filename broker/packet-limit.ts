import { Duplex } from 'node:stream';

/**
 * Neither Aedes nor mqtt-packet bounds the size of an incoming packet: the parser keeps every
 * byte of a packet until its announced remaining length has arrived (up to 256 MiB). This scanner
 * follows packet boundaries in the raw byte stream and reports a packet as too large as soon as
 * its fixed header announces it, before its body is read.
 */
export class PacketSizeScanner {
  private state: 'type' | 'length' | 'body' = 'type';
  private remaining = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** False when the chunk starts a packet over the limit or a malformed remaining length. */
  accept(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const skip = Math.min(this.remaining, chunk.length - i);
        i += skip;
        this.remaining -= skip;
        if (this.remaining === 0) this.state = 'type';
      } else if (this.state === 'type') {
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (!this.readLengthByte(chunk[i++]!)) {
        return false;
      }
    }
    return true;
  }

  // [MQTT-2.2.3] remaining length: 7 bits per byte, high bit continues, at most 4 bytes
  private readLengthByte(byte: number): boolean {
    this.length += (byte & 0x7f) * this.multiplier;
    this.multiplier *= 128;
    this.lengthBytes++;
    if (byte & 0x80) return this.lengthBytes < 4;
    if (1 + this.lengthBytes + this.length > this.maxPacketBytes) return false;
    this.remaining = this.length;
    this.state = this.length > 0 ? 'body' : 'type';
    return true;
  }
}

/**
 * The connection as Aedes sees it: bytes pass through unbuffered while a scanner watches packet
 * sizes; an oversize packet destroys this connection only.
 */
export class PacketLimitedStream extends Duplex {
  private readonly scanner: PacketSizeScanner;

  constructor(
    private readonly inner: Duplex,
    maxPacketBytes: number,
    onOversize: () => void,
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new PacketSizeScanner(maxPacketBytes);
    inner.on('data', (chunk: Buffer) => {
      if (this.destroyed) return;
      if (!this.scanner.accept(chunk)) {
        onOversize();
        this.destroy(new Error('packet larger than the broker accepts'));
      } else if (!this.push(chunk)) {
        inner.pause();
      }
    });
    // A peer that sends its last packets and hangs up (DISCONNECT, then FIN) ends the socket, which
    // then closes; what is already passed on but not yet read by Aedes must still be read. Only a
    // socket that closes without ending (reset, error) takes this stream down at once.
    let ended = false;
    inner.on('end', () => {
      ended = true;
      this.push(null);
    });
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => {
      if (!ended) this.destroy();
    });
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // the peer hung up: nothing reaches it any more (a PUBACK it did not wait for), but what it sent before is still read
    if (this.inner.writableEnded || this.inner.destroyed) return cb();
    if (this.inner.write(chunk)) cb();
    else this.inner.once('drain', () => cb());
  }

  /**
   * Aedes writes a packet in pieces into a corked stream (mqtt-packet: a PUBACK is three writes)
   * and uncorks on the next tick: the pieces, and every other packet for this connection written
   * in the same tick, go to the socket as one write (one syscall) instead of one each.
   */
  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
    this._write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), chunks[0]!.encoding, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }
}

/** How far below a device's highest seq a late message is still recognised as a repeat or a gap filler. */
export const SEQ_WINDOW = 1024;
const WORDS = SEQ_WINDOW / 32;

export type SeqVerdict = 'new' | 'duplicate';

/**
 * The seq numbers one device stream has sent recently: the highest, and a ring bitset of the
 * SEQ_WINDOW below it (128 bytes a device, so 100,000 devices cost about 13 MB).
 */
class SeqWindow {
  max = -1;
  readonly bits = new Uint32Array(WORDS);

  has(seq: number): boolean {
    const i = seq % SEQ_WINDOW;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  set(seq: number, on: boolean): void {
    const i = seq % SEQ_WINDOW;
    if (on) this.bits[i >>> 5]! |= 1 << (i & 31);
    else this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}

/**
 * dedup: drops a repeated seq of a stream (a QoS 1 redelivery, a device resending) and counts
 * gaps. Late and out-of-order messages inside the window are kept. A seq far below the highest
 * is taken as a device restart (its counter began again). The store's writes are idempotent too,
 * so a repeat that escapes this window (e.g. after our own restart) still lands once.
 */
export class Dedup {
  private readonly streams = new Map<string, SeqWindow>();

  /** `gaps` is how many seq numbers were skipped before this one (0 when none). */
  check(stream: string, seq: number): { verdict: SeqVerdict; gaps: number } {
    let w = this.streams.get(stream);
    if (!w) {
      w = new SeqWindow();
      this.streams.set(stream, w);
    }
    if (seq > w.max) {
      const gaps = w.max < 0 ? 0 : seq - w.max - 1;
      // clear the slots that the window slides past
      for (let s = Math.max(w.max + 1, seq - SEQ_WINDOW + 1); s < seq; s++) w.set(s, false);
      w.max = seq;
      w.set(seq, true);
      return { verdict: 'new', gaps };
    }
    if (seq <= w.max - SEQ_WINDOW) {
      w.bits.fill(0);
      w.max = seq;
      w.set(seq, true);
      return { verdict: 'new', gaps: 0 };
    }
    if (w.has(seq)) return { verdict: 'duplicate', gaps: 0 };
    w.set(seq, true);
    return { verdict: 'new', gaps: 0 };
  }

  /** Un-sees a seq whose record could not be made durable, so that its redelivery is accepted. */
  forget(stream: string, seq: number): void {
    const w = this.streams.get(stream);
    if (w && seq > w.max - SEQ_WINDOW) w.set(seq, false);
  }

  get size(): number {
    return this.streams.size;
  }
}

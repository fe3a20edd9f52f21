/**
 * The publishes a connection sent faster than its rate, held back: each runs not before its
 * time and never before one the same connection sent earlier, so PUBACKs keep the order of
 * the PUBLISHes [MQTT-4.6.0-2]. One timer per throttled connection. Aedes reads nothing more
 * from a connection while one of its packets is held, so a queue holds at most a socket read.
 */
export class PublishThrottle {
  private readonly queues = new WeakMap<object, Array<{ dueAt: number; run: () => void }>>();

  /** real time: this schedules real timers, whatever clock the token bucket runs on */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Holds `run` for `waitMs` (behind what `conn` already has held); false when nothing is held and there is no wait: run it now. */
  hold(conn: object, waitMs: number, run: () => void): boolean {
    const queue = this.queues.get(conn);
    if (!queue && waitMs <= 0) return false;
    const entry = { dueAt: this.now() + Math.max(0, waitMs), run };
    if (queue) {
      queue.push(entry);
      return true;
    }
    this.queues.set(conn, [entry]);
    this.schedule(conn, entry.dueAt);
    return true;
  }

  private schedule(conn: object, dueAt: number): void {
    setTimeout(() => this.drain(conn), Math.max(0, dueAt - this.now()));
  }

  private drain(conn: object): void {
    const queue = this.queues.get(conn)!;
    const t = this.now();
    // a timer may fire a fraction of a ms before performance.now() says it is due
    while (queue.length > 0 && queue[0]!.dueAt <= t + 1) queue.shift()!.run();
    if (queue.length > 0) this.schedule(conn, queue[0]!.dueAt);
    else this.queues.delete(conn);
  }
}

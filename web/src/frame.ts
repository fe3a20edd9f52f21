/**
 * Work done at most once per animation frame. Live data arrives faster than the screen refreshes
 * (200 drones at 1 Hz is 200 messages a second); each source marks what changed and schedules one
 * task under a key, so a burst costs one DOM and map update per frame, and a hidden tab (no frames)
 * holds one pending task per key, not a queue.
 */
export class FrameBatch {
  private readonly tasks = new Map<string, () => void>();
  private requested = false;
  /** for the dashboard test: frames run, total and longest time spent in them (ms) */
  readonly stats = { frames: 0, busyMs: 0, maxMs: 0 };

  schedule(key: string, task: () => void): void {
    this.tasks.set(key, task);
    if (this.requested) return;
    this.requested = true;
    requestAnimationFrame(() => this.run());
  }

  private run(): void {
    this.requested = false;
    const started = performance.now();
    const tasks = [...this.tasks.values()];
    this.tasks.clear();
    for (const t of tasks) {
      try {
        t();
      } catch (err) {
        console.error('dashboard update failed', err);
      }
    }
    const ms = performance.now() - started;
    this.stats.frames++;
    this.stats.busyMs += ms;
    this.stats.maxMs = Math.max(this.stats.maxMs, ms);
  }
}

export const frame = new FrameBatch();

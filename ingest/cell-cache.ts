/**
 * A device's registered cell, remembered for `ttlMs`. The registry answers with a SQLite query
 * (tens of µs); ingest and the rules ask for every record. A cell changes only when a device is
 * removed and registered again, so a cached answer is at most `ttlMs` stale then, and `forget`
 * makes it exact where the caller hears of the removal. At most `maxEntries` devices are kept
 * (the oldest entry goes first).
 */
export class CellCache {
  private readonly entries = new Map<string, { cell: string | undefined; until: number }>();

  constructor(
    private readonly lookup: (deviceId: string) => string | undefined,
    private readonly now: () => number,
    private readonly ttlMs = 10_000,
    private readonly maxEntries = 200_000,
  ) {}

  get(deviceId: string): string | undefined {
    const t = this.now();
    const hit = this.entries.get(deviceId);
    if (hit && hit.until > t) return hit.cell;
    const cell = this.lookup(deviceId);
    if (hit) this.entries.delete(deviceId);
    else if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(deviceId, { cell, until: t + this.ttlMs });
    return cell;
  }

  forget(deviceId: string): void {
    this.entries.delete(deviceId);
  }
}

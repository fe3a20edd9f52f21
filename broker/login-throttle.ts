/**
 * Failed MQTT logins per remote address. From a quarter of `maxFailures` on, each further refusal
 * is held back a little longer (250 ms more each, at most 2 s), so guessing slows down; at
 * `maxFailures` (each within `lockoutMs` of the one before) the address is refused every login,
 * right ones included and without a password check, for `lockoutMs`. Addresses behind one NAT share a count: a
 * misconfigured device can lock out its neighbours, which is why the refusal is counted and logged.
 */
export interface LoginThrottleOptions {
  maxFailures: number;
  lockoutMs: number;
  now: () => number;
  /** addresses tracked at once; the oldest are forgotten past it (memory stays bounded under a spray of addresses) */
  maxAddresses?: number;
}

interface Entry {
  /** epoch ms of the latest failure counted: the count is forgotten after `lockoutMs` without one */
  last: number;
  failures: number;
  lockedUntil: number;
}

const STEP_MS = 250;
const MAX_DELAY_MS = 2_000;

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly slowAfter: number;
  private readonly maxAddresses: number;

  constructor(private readonly opts: LoginThrottleOptions) {
    this.slowAfter = Math.max(1, Math.floor(opts.maxFailures / 4));
    this.maxAddresses = opts.maxAddresses ?? 10_000;
  }

  /** Milliseconds this address stays locked out; 0 when it may log in. */
  lockedFor(address: string): number {
    const e = this.entries.get(address);
    return e ? Math.max(0, e.lockedUntil - this.opts.now()) : 0;
  }

  /** Records a failed login; says how long to hold the refusal and whether the address is now locked out. */
  failed(address: string): { delayMs: number; locked: boolean } {
    const now = this.opts.now();
    let e = this.entries.get(address);
    if (!e || now - e.last > this.opts.lockoutMs) {
      this.entries.delete(address);
      if (this.entries.size >= this.maxAddresses) this.entries.delete(this.entries.keys().next().value!);
      e = { last: now, failures: 0, lockedUntil: 0 };
      this.entries.set(address, e);
    }
    e.failures++;
    e.last = now;
    if (e.failures >= this.opts.maxFailures) {
      e.lockedUntil = now + this.opts.lockoutMs;
      // the count begins again after the lockout
      e.last = e.lockedUntil;
      e.failures = 0;
      return { delayMs: 0, locked: true };
    }
    const over = e.failures - this.slowAfter + 1;
    return { delayMs: over > 0 ? Math.min(MAX_DELAY_MS, over * STEP_MS) : 0, locked: false };
  }
}

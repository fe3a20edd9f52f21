import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.js';

describe('LoginThrottle', () => {
  const make = (maxAddresses?: number) => {
    let t = 0;
    const throttle = new LoginThrottle({ maxFailures: 8, lockoutMs: 60_000, now: () => t, maxAddresses });
    return { throttle, advance: (ms: number) => (t += ms) };
  };

  it('slows from a quarter of the limit, locks at the limit for the lockout time, then forgets', () => {
    const { throttle, advance } = make();
    const delays = Array.from({ length: 7 }, () => throttle.failed('a').delayMs);
    expect(delays).toEqual([0, 250, 500, 750, 1000, 1250, 1500]);
    expect(throttle.failed('a')).toEqual({ delayMs: 0, locked: true });
    expect(throttle.lockedFor('a')).toBe(60_000);
    expect(throttle.lockedFor('b')).toBe(0);
    advance(60_000);
    expect(throttle.lockedFor('a')).toBe(0);
    expect(throttle.failed('a').delayMs).toBe(0);
  });

  it('forgets failures after a quiet lockout time, however slowly they came before', () => {
    const { throttle, advance } = make();
    for (let i = 0; i < 7; i++) (throttle.failed('a'), advance(50_000));
    expect(throttle.failed('a').locked).toBe(true);
    const { throttle: t2, advance: adv2 } = make();
    for (let i = 0; i < 7; i++) t2.failed('a');
    adv2(60_001);
    expect(t2.failed('a')).toEqual({ delayMs: 0, locked: false });
  });

  it('keeps at most maxAddresses, forgetting the oldest', () => {
    const { throttle } = make(2);
    for (let i = 0; i < 8; i++) throttle.failed('a');
    throttle.failed('b');
    throttle.failed('c');
    expect(throttle.lockedFor('a')).toBe(0);
  });
});

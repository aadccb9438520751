// A concurrency limit admits up to its limit, refuses past it without waiting, and frees a slot once per holder.
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../src/core/concurrency-limit.js';

describe('ConcurrencyLimit', () => {
  it('admits `limit` holders, refuses the next, and admits again once one releases (twice counts once)', () => {
    const limit = new ConcurrencyLimit(2);
    const a = limit.tryAcquire();
    const b = limit.tryAcquire();
    expect([a, b].every((r) => typeof r === 'function')).toBe(true);
    expect(limit.tryAcquire()).toBeUndefined();
    a!();
    a!();
    expect(limit.inFlight).toBe(1);
    expect(limit.tryAcquire()).toBeDefined();
    expect(limit.tryAcquire()).toBeUndefined();
  });

  it('refuses a limit that is not a whole number of at least 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new ConcurrencyLimit(bad)).toThrow(RangeError);
  });
});

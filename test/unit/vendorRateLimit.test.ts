import { describe, expect, it } from 'vitest';
import { VendorRateLimit } from '../../src/gateway/webhooks/rateLimit.ts';

describe('webhook rate limit', () => {
  it('rate limit: a vendor gets its burst, then its rate; another vendor is not affected', () => {
    let now = 0;
    const limit = new VendorRateLimit(10, 3, () => now);
    expect([limit.take('seam'), limit.take('seam'), limit.take('seam'), limit.take('seam')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(limit.take('ttlock')).toBe(true);
    now += 100; // 10/s: one token back after 100 ms
    expect([limit.take('seam'), limit.take('seam')]).toEqual([true, false]);
  });
});

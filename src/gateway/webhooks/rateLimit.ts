/**
 * A token bucket per key (a source address, a webhook endpoint): one sender cannot flood the inbox or crowd
 * out another. Vendors retry webhooks answered 429, so refusing is safe; the defaults leave headroom far
 * above the design's 600/s webhook peak. Full buckets are forgotten when many keys are held (addresses are
 * many), so memory stays bounded.
 */
export class VendorRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst = perSecond,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `vendor`; false when its bucket is empty. */
  take(vendor: string): boolean {
    const t = this.now();
    if (this.buckets.size > 50_000) this.forgetFull(t);
    const b = this.buckets.get(vendor) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    this.buckets.set(vendor, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Whether `key` has a token now, without taking it. */
  has(key: string): boolean {
    const b = this.buckets.get(key);
    if (!b) return true;
    return Math.min(this.burst, b.tokens + ((this.now() - b.at) / 1000) * this.perSecond) >= 1;
  }

  private forgetFull(t: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((t - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(k);
  }
}

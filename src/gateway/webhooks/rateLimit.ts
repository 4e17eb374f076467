/**
 * A token bucket per vendor: a vendor (or someone posing as one) cannot flood the inbox. Vendors retry
 * webhooks answered 429, so refusing is safe; the default leaves headroom far above the design's 600/s
 * webhook peak.
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
    const b = this.buckets.get(vendor) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    this.buckets.set(vendor, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

// Per-key rate limit in the gateway's store (Redis when configured, so every gateway counts
// together), as a sliding window counter: the current fixed window's count plus the previous
// window's, weighted by how much of it the sliding window still covers. Plain fixed windows let a
// burst at the end of one window and the start of the next pass twice the limit in a moment; this
// estimate does not, for two counters per key. Over the limit the request gets 429 with
// Retry-After; every answer carries RateLimit-Limit / -Remaining / -Reset.
import type { ApiStore } from "./store";

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the current fixed window ends (at least 1): the soonest the estimate drops by a whole window. */
  resetSeconds: number;
}

export class RateLimiter {
  constructor(
    private readonly store: ApiStore,
    /** Requests per window; 0 disables the limit. */
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  async check(keyId: string): Promise<RateDecision> {
    const now = this.now();
    const window = Math.floor(now / this.windowMs);
    const covered = 1 - (now - window * this.windowMs) / this.windowMs;
    // the current counter lives two windows, so it is still there to be weighed in the next one
    const [{ count }, previous] = await Promise.all([this.store.hit(`rate:${keyId}:${window}`, 2 * this.windowMs), this.store.peek(`rate:${keyId}:${window - 1}`)]);
    const estimate = previous.count * covered + count;
    const resetMs = (window + 1) * this.windowMs - now;
    return { allowed: estimate <= this.limit, limit: this.limit, remaining: Math.max(0, Math.floor(this.limit - estimate)), resetSeconds: Math.max(1, Math.ceil(resetMs / 1000)) };
  }
}

// Per-key rate limit: a fixed window counter per API key id in the gateway's store (Redis when
// configured, so every gateway counts together). Over the limit the request gets 429 with
// Retry-After; every answer carries RateLimit-Limit / -Remaining / -Reset.
import type { ApiStore } from "./store";

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
}

export class RateLimiter {
  constructor(
    private readonly store: ApiStore,
    /** Requests per window; 0 disables the limit. */
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  async check(keyId: string): Promise<RateDecision> {
    const now = Date.now();
    const window = Math.floor(now / this.windowMs);
    const { count } = await this.store.hit(`rate:${keyId}:${window}`, this.windowMs);
    const resetMs = (window + 1) * this.windowMs - now;
    return { allowed: count <= this.limit, limit: this.limit, remaining: Math.max(0, this.limit - count), resetSeconds: Math.max(1, Math.ceil(resetMs / 1000)) };
  }
}

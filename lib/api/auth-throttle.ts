// Failed authentications per client address. The per-key rate limit cannot see a client that has
// no valid key, so a flood of wrong or missing keys (a scanner, a leaked old key in a cron job, a
// guessing attempt) would cost a key lookup each and never slow down. Past `limit` failures in a
// window, every request from that address gets 429 with Retry-After until the window ends, before
// any key is looked up. Failures are counted in the gateway's store (Redis: every gateway counts
// together), in a window that opens at the address's first failure rather than at a clock
// boundary a burst could straddle. Refusing needs no store round trip: a gateway remembers the
// addresses whose failures it saw reach the limit, so a request that authenticates pays nothing;
// another gateway refuses the address from its own first failure there. An IPv6 client is counted
// by its /64, the smallest block a subscriber gets: one host holds 2^64 addresses to rotate through.
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { ipv6Groups } from "../net/internal-addresses";
import type { ApiStore } from "./store";

/** Refused addresses one gateway remembers at most (expired ones go first, then the oldest). */
const MAX_REFUSED = 100_000;

export class AuthFailureThrottle {
  /** Addresses this gateway saw reach the limit, with when their window ends (ms). */
  private readonly refused = new Map<string, number>();

  constructor(
    private readonly store: ApiStore,
    /** Failures per window and address; 0 turns the throttle off. */
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** Whether the address is refused now, and for how long: a map lookup, asked by every request. */
  blocked(address: string): { blocked: boolean; resetSeconds: number } {
    address = throttledBlock(address);
    const until = this.refused.get(address);
    const left = until === undefined ? 0 : until - this.now();
    if (left <= 0) {
      if (until !== undefined) this.refused.delete(address);
      return { blocked: false, resetSeconds: 0 };
    }
    return { blocked: true, resetSeconds: Math.max(1, Math.ceil(left / 1000)) };
  }

  /** Counts one failed authentication; at the limit the address is refused for the rest of its window. */
  async failed(address: string): Promise<void> {
    address = throttledBlock(address);
    const { count, resetMs } = await this.store.hit(`authfail:${address}`, this.windowMs);
    if (count < this.limit) return;
    if (this.refused.size >= MAX_REFUSED) {
      const now = this.now();
      for (const [a, until] of this.refused) if (until <= now) this.refused.delete(a);
      if (this.refused.size >= MAX_REFUSED) this.refused.delete(this.refused.keys().next().value!);
    }
    this.refused.set(address, this.now() + resetMs);
  }
}

/** What failures are counted against: an IPv4 address, or the /64 an IPv6 address is in. */
export function throttledBlock(address: string): string {
  const g = isIP(address) === 6 ? ipv6Groups(address) : undefined;
  return g ? `${g.slice(0, 4).map((x) => x.toString(16)).join(":")}::/64` : address;
}

/**
 * The client's address: the socket's peer, or behind `trustedHops` proxies (a Kubernetes ingress,
 * a load balancer) the address the outermost trusted proxy saw, read from the right of
 * X-Forwarded-For. Entries a client could have written itself (anything left of that) are never
 * believed, and a value that is not an IP address falls back to the nearest trusted one.
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const peer = normalise(req.socket?.remoteAddress ?? "") ?? "unknown";
  if (trustedHops <= 0) return peer;
  const header = req.headers["x-forwarded-for"];
  const forwarded = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((s) => s.trim()).filter(Boolean);
  // nearest first: the peer, then what each trusted proxy says it saw
  const chain = [peer, ...forwarded.reverse()];
  let address = peer;
  for (let i = 1; i <= Math.min(trustedHops, chain.length - 1); i++) {
    const next = normalise(chain[i]!);
    if (!next) break;
    address = next;
  }
  return address;
}

function normalise(raw: string): string | undefined {
  const a = raw.startsWith("::ffff:") && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
  return isIP(a) ? a : undefined;
}

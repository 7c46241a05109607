// Failed authentications per client address. The per-key rate limit cannot see a client that has
// no valid key, so a flood of wrong or missing keys (a scanner, a leaked old key in a cron job, a
// guessing attempt) would cost a key lookup each and never slow down. Past `limit` failures in a
// window, every request from that address gets 429 with Retry-After until the window ends, before
// any key is looked up. The window opens at an address's first failure (a counter with a TTL in
// the gateway's store, so all gateways count together when the store is Redis), not at a clock
// boundary that would let a burst straddle two windows.
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import type { ApiStore } from "./store";

export class AuthFailureThrottle {
  constructor(
    private readonly store: ApiStore,
    /** Failures per window and address; 0 turns the throttle off. */
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** Whether the address has used up its failures for this window, and when that ends. */
  async blocked(address: string): Promise<{ blocked: boolean; resetSeconds: number }> {
    const { count, resetMs } = await this.store.peek(`authfail:${address}`);
    return { blocked: count >= this.limit, resetSeconds: Math.max(1, Math.ceil(resetMs / 1000)) };
  }

  /** Counts one failed authentication. */
  async failed(address: string): Promise<void> {
    await this.store.hit(`authfail:${address}`, this.windowMs);
  }
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

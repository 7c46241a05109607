// The simulated network's keepalive schedule: which connections a tick pings and which it drops.
// Each connection is pinged every K/2 (K = the keepalive window), two pings per window so one
// late pong is not yet a missed keepalive, and dropped when it has not answered for K: a frozen
// client is dropped K to 1.5K after its last pong. The connections are spread over SLOTS ticks of
// K/10, one slot a tick, so the writes come evenly over the period instead of in one burst of
// every connection (at 10,000 connections a burst blocked the network's loop and, a moment
// later, every session node's with the pongs).

export const KEEPALIVE_SLOTS = 5;

export interface KeepaliveTarget {
  readonly id: number;
  readonly lastPongAt: number;
}

export class KeepaliveSchedule<T extends KeepaliveTarget> {
  /** How often tick() is meant to run. */
  readonly tickMs: number;
  private slot = 0;
  private lastTickAt: number;

  constructor(
    private readonly keepaliveMs: number,
    now = Date.now(),
  ) {
    this.tickMs = Math.max(10, Math.floor(keepaliveMs / (2 * KEEPALIVE_SLOTS)));
    this.lastTickAt = now;
  }

  /** The ping period of each connection. */
  get periodMs(): number {
    return this.tickMs * KEEPALIVE_SLOTS;
  }

  tick(now: number, connections: Iterable<T>): { ping: T[]; drop: T[] } {
    // A tick that itself ran late means the process was stalled (a loaded machine, a long
    // synchronous step), so pongs that did arrive may still be unread in the sockets. Judging now
    // would drop live connections: this slot is only pinged, and judged a period later.
    const stalled = now - this.lastTickAt > 2 * this.tickMs;
    this.lastTickAt = now;
    const slot = this.slot;
    this.slot = (slot + 1) % KEEPALIVE_SLOTS;
    const deadline = now - this.keepaliveMs;
    const ping: T[] = [];
    const drop: T[] = [];
    for (const c of connections) {
      if (c.id % KEEPALIVE_SLOTS !== slot) continue;
      if (!stalled && c.lastPongAt < deadline) drop.push(c);
      else ping.push(c);
    }
    return { ping, drop };
  }
}

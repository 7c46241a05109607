// The simulated network's keepalive schedule: which connections a tick pings and which it drops.
// Each connection is pinged every K/2 (K = the keepalive window), two pings per window so one
// late pong is not yet a missed keepalive, and dropped when a ping has gone unanswered for K: a
// frozen client is dropped K to 1.5K after its last pong.
//
// A connection is judged by its own pings, not by the clock alone: when the network's loop is busy
// every tick runs a little late, and 50 ticks that are each 50 ms late (each too little to count as
// a stall, below) stretch the ping period from K/2 to K. Judged by "no pong in the last K", a
// client that answered every ping at once was then dropped because it had not been asked since
// (the Baileys tests, whose libsignal work shares the network's loop, saw ticks 100-400 ms apart,
// pings 5.5-9.6 s apart and connections dropped before their first ping, close 428 to Baileys).
// A real server does not drop a client that answered its pings.
//
// The connections are spread over SLOTS ticks of K/(2 SLOTS), one slot a tick, and each slot keeps
// its own members, so a tick touches only the connections it pings: its work is n/SLOTS whatever
// n is. With the shipped 5 s window that is a tick every 50 ms pinging a fiftieth of the
// connections (200 at 10,000). Before, a tick came every 500 ms, walked every connection to pick
// its fifth and pinged 2,000 in one go; the 2,000 pongs then came back in the same instant, and
// the network's one thread (the test oracle every send's acknowledgement waits for) stalled on
// each burst.

export const KEEPALIVE_SLOTS = 50;
/** No tick runs more often than this, however short the window (tests use windows of 100-300 ms). */
export const KEEPALIVE_TICK_MIN_MS = 10;

export interface KeepaliveTarget {
  readonly id: number;
  /**
   * When the oldest ping the connection has not answered went out; undefined when it has answered
   * every ping. A pong answers every ping sent before it (a WebSocket pong may answer the latest
   * ping only), so the connection was alive then.
   */
  readonly unansweredSince: number | undefined;
}

export class KeepaliveSchedule<T extends KeepaliveTarget> {
  /** How often tick() is meant to run. */
  readonly tickMs: number;
  /** How many ticks make a period (each connection is pinged once a period). */
  readonly slots: number;
  /** Each slot's connections; a connection's slot is its id modulo the slots (ids never change). */
  private readonly members: Set<T>[];
  private slot = 0;
  private lastTickAt: number;

  constructor(
    private readonly keepaliveMs: number,
    now = Date.now(),
  ) {
    // K/2 split into ticks of at least KEEPALIVE_TICK_MIN_MS: as many slots as fit, at most SLOTS
    const half = Math.max(KEEPALIVE_TICK_MIN_MS, Math.floor(keepaliveMs / 2));
    this.slots = Math.max(1, Math.min(KEEPALIVE_SLOTS, Math.floor(half / KEEPALIVE_TICK_MIN_MS)));
    this.tickMs = Math.floor(half / this.slots);
    this.members = Array.from({ length: this.slots }, () => new Set<T>());
    this.lastTickAt = now;
  }

  /** The ping period of each connection. */
  get periodMs(): number {
    return this.tickMs * this.slots;
  }

  /** How many connections are scheduled. */
  get size(): number {
    return this.members.reduce((n, m) => n + m.size, 0);
  }

  /** Schedules a connection: it is pinged at its slot's ticks until removed. */
  add(target: T): void {
    this.members[target.id % this.slots]!.add(target);
  }

  /** The connection is gone: no more pings, no judgement. */
  remove(target: T): void {
    this.members[target.id % this.slots]!.delete(target);
  }

  /**
   * The next slot's turn: its connections with a ping unanswered for K, to drop (they are removed
   * from the schedule), and the others to ping (the caller pings them and records when). Touches
   * only that slot's connections.
   */
  tick(now: number): { ping: T[]; drop: T[] } {
    // A tick that itself ran late means the process was stalled (a loaded machine, a long
    // synchronous step), so pongs that did arrive may still be unread in the sockets. Judging now
    // would drop live connections: this slot is only pinged, and judged a period later. "Late" is
    // K/5 after the previous tick, as when ticks came every K/10: finer ticks must not make a
    // short stall skip more judgements (a frozen client is still dropped by K + K/2).
    const stalled = now - this.lastTickAt > Math.max(2 * this.tickMs, this.keepaliveMs / 5);
    this.lastTickAt = now;
    const slot = this.slot;
    this.slot = (slot + 1) % this.slots;
    // a ping sent at the tick K ago (two periods of punctual ticks) is due now: >=, or a frozen
    // client would wait a third period
    const deadline = now - this.keepaliveMs;
    const ping: T[] = [];
    const drop: T[] = [];
    for (const c of this.members[slot]!) {
      const since = c.unansweredSince;
      if (!stalled && since !== undefined && since <= deadline) drop.push(c);
      else ping.push(c);
    }
    for (const c of drop) this.remove(c);
    return { ping, drop };
  }
}

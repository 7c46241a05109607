// The node's liveness lease and self-fencing (DESIGN section 5).
//
// The lease is renewed every third of its TTL. The node counts its own deadline from the moment it
// *sent* the last successful renewal: deadline = sent + TTL - fenceMargin. Past the deadline it
// fences itself (stops every engine) even though Redis may still hold the lease a little longer,
// so its engines are gone before any other node may be handed its workspaces (which the
// coordinator does only after the lease expired in Redis plus TAKEOVER_MARGIN_MS). A Redis outage
// shorter than the deadline's slack stops nothing. `valid()` reads the clock, not a timer, so a
// process that was frozen (SIGSTOP, a long GC) knows it is fenced the instant it runs again.
import { ulid } from "../ids";
import type { Directory } from "./directory";

export interface LeaseLogger {
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
  error(...a: unknown[]): void;
}

export interface LeaseKeeperOptions {
  directory: Directory;
  node: string;
  ttlMs: number;
  capacity: number;
  weight?: number;
  /** Sessions this node runs (reported with each renewal). */
  sessions: () => number;
  /** Called once when the node must stop acting: stop every engine now. */
  onFence: (why: string) => Promise<void> | void;
  /** Called when the node holds a valid lease again after a fence (or at first registration). */
  onValid?: () => void;
  logger: LeaseLogger;
  now?: () => number;
}

export class LeaseKeeper {
  private epoch = "";
  private deadline = 0;
  private fenced = true;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private renewing = false;
  private stopped = false;
  private readonly now: () => number;
  readonly fenceMarginMs: number;

  constructor(private readonly opts: LeaseKeeperOptions) {
    this.now = opts.now ?? Date.now;
    this.fenceMarginMs = Math.min(2000, Math.floor(opts.ttlMs / 4));
  }

  /** True while this node may act for the workspaces the directory gives it. */
  valid(): boolean {
    return !this.fenced && this.now() < this.deadline;
  }

  /** Milliseconds since the last successful renewal was sent (for operators). */
  age(): number {
    return this.deadline ? this.now() - (this.deadline - this.opts.ttlMs + this.fenceMarginMs) : -1;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.register();
    const every = Math.max(50, Math.floor(this.opts.ttlMs / 3));
    this.timer = setInterval(() => void this.renew(), every);
    this.watchdog = setInterval(() => this.check(), Math.max(25, Math.min(250, Math.floor(this.opts.ttlMs / 20))));
  }

  /** Clean shutdown: the lease and the node record go, so nobody waits for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.watchdog);
    this.fenced = true;
    await this.opts.directory.deregister(this.opts.node, this.epoch).catch((err: Error) => this.opts.logger.warn(`could not drop the lease: ${err.message}`));
  }

  private async register(): Promise<void> {
    const epoch = ulid();
    const sent = this.now();
    await this.opts.directory.register(
      { node: this.opts.node, capacity: this.opts.capacity, weight: this.opts.weight ?? this.opts.capacity, draining: false, epoch, sessions: this.opts.sessions() },
      this.opts.ttlMs,
    );
    this.epoch = epoch;
    this.deadline = sent + this.opts.ttlMs - this.fenceMarginMs;
    this.fenced = false;
    this.opts.logger.info(`lease taken (epoch ${epoch}, ttl ${this.opts.ttlMs} ms)`);
    this.opts.onValid?.();
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    try {
      if (this.fenced) {
        // a fenced node comes back with a new epoch; its engines are already stopped
        await this.register();
        return;
      }
      const sent = this.now();
      const ok = await this.opts.directory.renew(this.opts.node, this.epoch, this.opts.ttlMs, this.opts.sessions());
      if (this.stopped) return;
      if (ok) {
        if (this.now() - sent < this.opts.ttlMs) this.deadline = sent + this.opts.ttlMs - this.fenceMarginMs;
        this.check();
      } else {
        await this.fence("the lease expired or was taken");
      }
    } catch (err) {
      this.opts.logger.warn(`lease renewal failed: ${(err as Error).message}`);
      this.check();
    } finally {
      this.renewing = false;
    }
  }

  private check(): void {
    if (!this.fenced && this.now() >= this.deadline) void this.fence(`no lease renewal for ${this.opts.ttlMs - this.fenceMarginMs} ms`);
  }

  private async fence(why: string): Promise<void> {
    if (this.fenced) return;
    this.fenced = true;
    this.opts.logger.error(`self-fencing: ${why}; stopping every engine`);
    try {
      await this.opts.onFence(why);
    } catch (err) {
      this.opts.logger.error(`fencing failed: ${(err as Error).message}`);
    }
  }
}

// Per-node launch queues: engine starts (a Chromium each, for wwebjs) run at most `concurrency` at a
// time and no closer than `staggerMs` apart, so a reboot or failover never starts hundreds at once.
// One queue per kind of engine (browser, socket): baileys sessions do not wait behind Chromiums.
// Hand-written rather than p-limit/p-queue: those are ESM-only and neither has a start stagger.

export interface LaunchQueueOptions {
  concurrency: number;
  staggerMs: number;
}

export class LaunchQueue {
  private running = 0;
  private lastStartAt = 0;
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: LaunchQueueOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!(opts.concurrency >= 1)) throw new RangeError("concurrency must be >= 1");
  }

  /** Starts waiting to run. */
  get pending(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running;
  }

  /**
   * Runs `task` when a slot is free. `signal` lets a caller leave the queue before its turn
   * (a session stopped while it waited), rejecting with the signal's reason.
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const go = () => {
        signal?.removeEventListener("abort", onAbort);
        this.running++;
        this.lastStartAt = this.now();
        let p: Promise<T>;
        try {
          p = task();
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(resolve, reject).finally(() => {
          this.running--;
          this.pump();
        });
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(go);
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer || this.running >= this.opts.concurrency || this.waiting.length === 0) return;
    const wait = this.lastStartAt + this.opts.staggerMs - this.now();
    if (wait > 0 && this.lastStartAt > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.waiting.shift()!();
    this.pump();
  }
}

/**
 * What an engine's start costs decides which queue it waits in: a browser (a Chromium per session,
 * ~1 s of CPU and 100+ MB) or a socket (one WebSocket: milliseconds). Unknown engines count as
 * browsers, the cautious pace.
 */
export type LaunchKind = "browser" | "socket";
export const LAUNCH_KINDS: readonly LaunchKind[] = ["browser", "socket"];

const SOCKET_ENGINES: ReadonlySet<string> = new Set(["baileys", "simulator"]);

export function launchKindOf(engine: string): LaunchKind {
  return SOCKET_ENGINES.has(engine) ? "socket" : "browser";
}

/** A node's launch queues, one per kind, so held browser starts never hold a socket start. */
export type LaunchQueues = Readonly<Record<LaunchKind, LaunchQueue>>;

export function createLaunchQueues(opts: Record<LaunchKind, LaunchQueueOptions>): LaunchQueues {
  return { browser: new LaunchQueue(opts.browser), socket: new LaunchQueue(opts.socket) };
}

/**
 * The queue a start of `engine` waits in. A single queue (tests, tools) serves every engine; a
 * node's pair is picked by the engine's kind.
 */
export function launchQueueFor(queues: LaunchQueue | LaunchQueues, engine: string): LaunchQueue {
  return queues instanceof LaunchQueue ? queues : queues[launchKindOf(engine)];
}

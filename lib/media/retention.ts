// The media sweeper: deletes media older than MEDIA_RETENTION_DAYS. Ages come from the ids (ULIDs),
// so a sweep is one listing plus deletes. Safe on several nodes at once (deletes are idempotent).
import type { MediaStore } from "./store";

export interface MediaSweeperOptions {
  store: MediaStore;
  /** 0 disables the sweeper. */
  retentionDays: number;
  intervalMs: number;
  logger?: { info(msg: string): void; warn(msg: string): void };
  now?: () => number;
}

export class MediaSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(private readonly opts: MediaSweeperOptions) {}

  start(): void {
    if (this.opts.retentionDays <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sweep().catch((err: Error) => this.opts.logger?.warn(`media sweep failed: ${err.message}`)), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One sweep now; resolves with how many media were deleted. */
  sweep(): Promise<number> {
    this.running ??= (async () => {
      try {
        const cutoff = (this.opts.now ?? Date.now)() - this.opts.retentionDays * 86_400_000;
        const n = await this.opts.store.sweep(cutoff);
        if (n) this.opts.logger?.info(`media sweep: deleted ${n} media older than ${this.opts.retentionDays} days`);
        return n;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}

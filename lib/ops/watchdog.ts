// The resource watchdog of a session node: samples each session's engine memory on an interval
// (wwebjs: PSS of its browser tree), restarts a session above SESSION_MAX_MEMORY_MB (it restores
// from its auth, no QR), and marks the node overloaded above its memory watermark so it takes no
// new sessions before the kernel's OOM killer takes the whole node.
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";

export interface SessionMemory {
  workspaceId: string;
  sessionId: string;
  bytes: number;
}

export interface WatchdogOptions {
  intervalMs: number;
  /** 0 = never restart for memory. */
  sessionLimitBytes: number;
  /** The node's memory limit (cgroup or machine) and the share of it that counts as full. */
  nodeLimitBytes: number;
  watermark: number;
  sample(): Promise<SessionMemory[]>;
  restart(workspaceId: string, sessionId: string, bytes: number): Promise<void>;
  /** Memory of the node process itself. */
  processBytes?: () => number;
  onSample?(samples: SessionMemory[], engineBytes: number): void;
  onOverloaded?(overloaded: boolean, usedBytes: number): void;
  logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
}

export class MemoryWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private overloadedNow = false;
  /** Sessions restarted recently: not again until their engine had time to come back. */
  private readonly cooldown = new Map<string, number>();
  lastUsedBytes = 0;

  constructor(private readonly opts: WatchdogOptions) {}

  get overloaded(): boolean {
    return this.overloadedNow;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const samples = await this.opts.sample();
      const engineBytes = samples.reduce((a, s) => a + s.bytes, 0);
      this.opts.onSample?.(samples, engineBytes);
      const now = Date.now();
      for (const [k, until] of this.cooldown) if (until <= now) this.cooldown.delete(k);
      if (this.opts.sessionLimitBytes > 0) {
        for (const s of samples) {
          const k = `${s.workspaceId}/${s.sessionId}`;
          if (s.bytes <= this.opts.sessionLimitBytes || this.cooldown.has(k)) continue;
          this.cooldown.set(k, now + this.opts.intervalMs * 3);
          this.opts.logger.warn(`watchdog: ${k} uses ${mb(s.bytes)} MB, above its ${mb(this.opts.sessionLimitBytes)} MB limit: restarting it`);
          await this.opts.restart(s.workspaceId, s.sessionId, s.bytes).catch((err: Error) => this.opts.logger.warn(`watchdog: restart of ${k} failed: ${err.message}`));
        }
      }
      const used = (this.opts.processBytes ?? (() => process.memoryUsage().rss))() + engineBytes;
      this.lastUsedBytes = used;
      const over = used > this.opts.watermark * this.opts.nodeLimitBytes;
      if (over !== this.overloadedNow) {
        this.overloadedNow = over;
        const msg = `watchdog: node memory ${mb(used)} MB of ${mb(this.opts.nodeLimitBytes)} MB (watermark ${Math.round(this.opts.watermark * 100)}%)`;
        if (over) this.opts.logger.warn(`${msg}: taking no new sessions`);
        else this.opts.logger.info(`${msg}: taking sessions again`);
        this.opts.onOverloaded?.(over, used);
      }
    } finally {
      this.running = false;
    }
  }
}

const mb = (b: number) => Math.round(b / 1024 / 1024);

/** The memory this node may use: its cgroup limit when it has one, else the machine's. */
export function nodeMemoryLimit(): number {
  for (const f of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    if (!existsSync(f)) continue;
    const raw = readFileSync(f, "utf8").trim();
    const n = Number(raw);
    // "max" or a huge number means no limit
    if (raw !== "max" && Number.isFinite(n) && n > 0 && n < os.totalmem()) return n;
  }
  return os.totalmem();
}

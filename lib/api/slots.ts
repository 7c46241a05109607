// A counting semaphore for work one gateway bounds: large request bodies held in memory at once,
// media fetches in flight. A caller takes a slot (waiting in line for at most a deadline) and gets
// back a release function; releasing twice is harmless, so every exit path may release.

export type Release = () => void;

export class Slots {
  private used = 0;
  private readonly waiting: Array<{ grant: (r: Release) => void; timer?: NodeJS.Timeout }> = [];

  constructor(
    /** Slots in all; 0 = unbounded. */
    readonly size: number,
  ) {}

  get inUse(): number {
    return this.used;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A slot now, or undefined when all are taken. */
  tryAcquire(): Release | undefined {
    if (this.size > 0 && this.used >= this.size) return undefined;
    return this.take();
  }

  /** A slot, waiting in line up to `waitMs`; undefined when none freed up in time. */
  acquire(waitMs: number): Promise<Release | undefined> {
    const now = this.tryAcquire();
    if (now || waitMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const entry: { grant: (r: Release) => void; timer?: NodeJS.Timeout } = { grant: resolve };
      entry.timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(undefined);
      }, waitMs);
      this.waiting.push(entry);
    });
  }

  private take(): Release {
    this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.grant(this.take());
      }
    };
  }
}

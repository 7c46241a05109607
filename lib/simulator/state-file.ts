// Keeps the network's ledger in a JSON file so linked devices, queued messages and dedupe ids
// survive a restart (in embedded mode the network restarts with wafleet, and sessions must stay linked).
// Writes are debounced and atomic (temp file + rename): a crash leaves the previous or the next state, never half of one.
// The whole ledger is written each time, so a write costs what the ledger weighs (every device and
// message: megabytes at 10,000 sessions); the next write waits at least `costFactor` times what the
// last one took, so writing never takes more than about 1/(costFactor + 1) of the process however
// large the ledger grows (the 10,000-session run's network serialised its ledger every 50 ms).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export class StateFile<T> {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  /** When the last write started and how long its snapshot and serialisation took (ms). */
  private lastStart = Number.NEGATIVE_INFINITY;
  private lastCost = 0;

  constructor(
    private readonly path: string,
    /** Produces what to write, called at write time so the latest state is written. */
    private readonly snapshot: () => T,
    private readonly debounceMs = 50,
    private readonly onError: (err: Error) => void = () => {},
    private readonly costFactor = 9,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** How long the next write waits after a change: the debounce, or longer after a costly write. */
  delayMs(): number {
    const earliest = this.lastStart + this.lastCost * (this.costFactor + 1);
    return Math.max(this.debounceMs, earliest - this.now());
  }

  /**
   * The stored state, or undefined if there is none yet. A corrupt file is an error: never silently
   * forget devices. (Not lib/json-file.ts: the oracle depends on nothing of the product but lib/whatsapp.)
   */
  static async read<T>(path: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err: any) {
      if (err?.code === "ENOENT") return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`The simulator state file ${path} is corrupt: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Schedules a write; many changes within the debounce window make one write. */
  markDirty(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.delayMs());
  }

  /** Writes now if anything changed, and waits for every write to finish. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.write();
  }

  private write(): Promise<void> {
    // Chained so two writes never race on the temp file and the last snapshot always lands last.
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const tmp = `${this.path}.${process.pid}.tmp`;
      try {
        await mkdir(dirname(this.path), { recursive: true });
        const start = this.now();
        const text = JSON.stringify(this.snapshot());
        this.lastStart = start;
        this.lastCost = this.now() - start;
        await writeFile(tmp, text);
        await rename(tmp, this.path);
      } catch (err) {
        this.dirty = true;
        this.onError(err as Error);
      }
    });
    return this.writing;
  }
}

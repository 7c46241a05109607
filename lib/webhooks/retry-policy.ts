// How often and how late a failed delivery is tried again: exponential delays with jitter, capped,
// for at most `maxAttempts` attempts. The delays are handed to the event log (JetStream's consumer
// `backoff` and `nak` delays), which schedules the redeliveries; nothing here keeps a timer.
export interface RetryPolicyOptions {
  /** Attempts in all, the first included (default 10). */
  maxAttempts: number;
  /** Delay before the second attempt, in ms (default 2000). */
  baseMs: number;
  /** Longest delay, in ms (default one hour). */
  maxMs: number;
  /** Growth per attempt (default 3). */
  factor?: number;
  /** ± this fraction of each delay at random, so retries of one outage do not arrive together (default 0.2). */
  jitter?: number;
}

export class RetryPolicy {
  readonly maxAttempts: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(private readonly opts: RetryPolicyOptions) {
    this.maxAttempts = Math.max(1, opts.maxAttempts);
    this.factor = opts.factor ?? 3;
    this.jitter = opts.jitter ?? 0.2;
  }

  /** The delay after failed attempt `attempt` (1-based), before jitter. */
  baseDelay(attempt: number): number {
    return Math.min(this.opts.maxMs, this.opts.baseMs * this.factor ** Math.max(0, attempt - 1));
  }

  /** Delays after attempts 1 .. maxAttempts-1: the consumer's backoff list. */
  delays(): number[] {
    return Array.from({ length: Math.max(1, this.maxAttempts - 1) }, (_, i) => this.baseDelay(i + 1));
  }

  /** The jittered delay after failed attempt `attempt`. */
  delayAfter(attempt: number, random: () => number = Math.random): number {
    const d = this.baseDelay(attempt);
    return Math.max(1, Math.round(d * (1 - this.jitter + 2 * this.jitter * random())));
  }

  isLast(attempt: number): boolean {
    return attempt >= this.maxAttempts;
  }
}

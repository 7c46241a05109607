// The event log of embedded mode: one process, so the log lives in memory with the same consumer
// semantics as JetStream (shared named consumers, acks, scheduled redelivery, a delivery cap).
// Nothing survives the process; cluster mode uses log-jetstream.ts. It refuses what JetStream would
// (an event over maxEventBytes, encoded), so embedded mode shows the same limits as a cluster.
import type { WafleetEvent } from "./index";
import { DEFAULT_MAX_EVENT_BYTES, encodeEvent, eventTooLarge, rejectedOf, type AppendOptions, type ConsumeOptions, type EventLog, type LogHandler, type LogMessage, type LogSubscription, type RejectedEvent } from "./log";

interface Entry {
  seq: number;
  event: WafleetEvent;
  replay: number;
}

interface ConsumerState {
  /** Sequences ready for delivery, ascending. */
  ready: number[];
  deliveries: Map<number, number>;
  inFlight: Set<number>;
  timers: Map<number, NodeJS.Timeout>;
  subscribers: Array<{ handler: LogHandler; concurrency: number; running: number }>;
  opts: ConsumeOptions;
  next: number;
}

export interface MemoryEventLogOptions {
  /** Oldest entries are discarded beyond this many (the retention limit). */
  maxMessages?: number;
  /** The largest encoded event accepted (default 256 KiB, as the JetStream log). */
  maxEventBytes?: number;
  /** Called for every refused event (the node counts them in wafleet_event_log_rejected_total). */
  onRejected?: (rejected: RejectedEvent) => void;
  logger?: { warn(msg: string): void };
  /** Called when a handler throws (the message is redelivered after its backoff). */
  onError?: (err: Error) => void;
}

export class MemoryEventLog implements EventLog {
  readonly kind = "memory" as const;
  private readonly entries = new Map<number, Entry>();
  private readonly consumers = new Map<string, ConsumerState>();
  private seq = 0;
  private closed = false;
  private readonly maxMessages: number;
  readonly maxEventBytes: number;

  constructor(private readonly opts: MemoryEventLogOptions = {}) {
    this.maxMessages = opts.maxMessages ?? 100_000;
    this.maxEventBytes = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  }

  async append(event: WafleetEvent, opts: AppendOptions = {}): Promise<void> {
    if (this.closed) throw new Error("event log closed");
    const size = encodeEvent(event).byteLength;
    if (size > this.maxEventBytes) {
      this.opts.logger?.warn(`event log: refused ${event.event} ${event.id} of ${event.workspaceId}/${event.sessionId}: ${size} bytes encoded, the limit is ${this.maxEventBytes}`);
      this.opts.onRejected?.(rejectedOf(event, size, this.maxEventBytes));
      throw eventTooLarge(event, size, this.maxEventBytes);
    }
    const entry: Entry = { seq: ++this.seq, event, replay: opts.replay ?? 0 };
    this.entries.set(entry.seq, entry);
    for (const c of this.consumers.values()) c.ready.push(entry.seq);
    while (this.entries.size > this.maxMessages) {
      const oldest = this.entries.keys().next().value as number;
      this.forget(oldest);
    }
    for (const c of this.consumers.values()) this.pump(c);
  }

  async consume(opts: ConsumeOptions, handler: LogHandler): Promise<LogSubscription> {
    let c = this.consumers.get(opts.name);
    if (!c) {
      // a new durable consumer starts from the beginning of what the log retains
      c = { ready: [...this.entries.keys()], deliveries: new Map(), inFlight: new Set(), timers: new Map(), subscribers: [], opts, next: 0 };
      this.consumers.set(opts.name, c);
    }
    const sub = { handler, concurrency: Math.max(1, opts.concurrency), running: 0 };
    c.subscribers.push(sub);
    this.pump(c);
    const state = c;
    return {
      stop: async () => {
        state.subscribers = state.subscribers.filter((s) => s !== sub);
      },
    };
  }

  async depth(name: string): Promise<number> {
    const c = this.consumers.get(name);
    if (!c) return this.entries.size;
    return c.ready.length + c.inFlight.size + c.timers.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.consumers.values()) {
      for (const t of c.timers.values()) clearTimeout(t);
      c.timers.clear();
      c.subscribers = [];
    }
  }

  private forget(seq: number): void {
    this.entries.delete(seq);
    for (const c of this.consumers.values()) {
      const i = c.ready.indexOf(seq);
      if (i >= 0) c.ready.splice(i, 1);
      c.deliveries.delete(seq);
      const t = c.timers.get(seq);
      if (t) clearTimeout(t);
      c.timers.delete(seq);
    }
  }

  private pump(c: ConsumerState): void {
    while (c.ready.length && !this.closed) {
      // round robin over subscribers with a free slot, as processes sharing a consumer would pull
      const n = c.subscribers.length;
      let sub: ConsumerState["subscribers"][number] | undefined;
      for (let i = 0; i < n; i++) {
        const s = c.subscribers[(c.next + i) % n]!;
        if (s.running < s.concurrency) {
          sub = s;
          c.next = (c.next + i + 1) % n;
          break;
        }
      }
      if (!sub) return;
      const seq = c.ready.shift()!;
      const entry = this.entries.get(seq);
      if (!entry) continue;
      this.deliver(c, sub, entry);
    }
  }

  private deliver(c: ConsumerState, sub: ConsumerState["subscribers"][number], entry: Entry): void {
    const attempt = (c.deliveries.get(entry.seq) ?? 0) + 1;
    c.deliveries.set(entry.seq, attempt);
    c.inFlight.add(entry.seq);
    sub.running++;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      c.inFlight.delete(entry.seq);
      sub.running--;
      return true;
    };
    const schedule = (delayMs: number) => {
      if (attempt >= c.opts.maxDeliver) {
        // the cap reached: the log stops delivering it, as JetStream's max_deliver does
        c.deliveries.delete(entry.seq);
        return;
      }
      const t = setTimeout(() => {
        c.timers.delete(entry.seq);
        if (!this.entries.has(entry.seq)) return;
        insertSorted(c.ready, entry.seq);
        this.pump(c);
      }, Math.max(0, delayMs));
      c.timers.set(entry.seq, t);
    };
    const message: LogMessage = {
      event: entry.event,
      seq: entry.seq,
      attempt,
      replay: entry.replay,
      ack: () => {
        if (settle()) c.deliveries.delete(entry.seq);
        this.pump(c);
      },
      retry: (delayMs) => {
        if (settle()) schedule(delayMs);
        this.pump(c);
      },
      drop: () => {
        if (settle()) c.deliveries.delete(entry.seq);
        this.pump(c);
      },
    };
    sub.handler(message).catch((err: Error) => {
      this.opts.onError?.(err);
      if (settle()) schedule(backoffAt(c.opts.backoffMs, attempt));
      this.pump(c);
    });
  }
}

export function backoffAt(backoffMs: number[], attempt: number): number {
  if (!backoffMs.length) return 1000;
  return backoffMs[Math.min(backoffMs.length - 1, Math.max(0, attempt - 1))]!;
}

function insertSorted(list: number[], v: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > v) i--;
  list.splice(i, 0, v);
}

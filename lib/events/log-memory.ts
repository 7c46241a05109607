// The event log of embedded mode: one process, so the log lives in memory with the same consumer
// semantics as JetStream (shared named consumers, acks, scheduled redelivery, a delivery cap).
// With a journal (log-file.ts) every append is on disk before it resolves and what consumers have
// settled is noted, so a restart (kill -9 included) resumes every undelivered event; cluster mode
// uses log-jetstream.ts. It refuses what JetStream would (an event over maxEventBytes, encoded),
// so embedded mode shows the same limits as a cluster.
import type { WafleetEvent } from "./index";
import { DEFAULT_MAX_EVENT_BYTES, encodeEvent, eventTooLarge, rejectedOf, type AppendOptions, type ConsumeOptions, type EventLog, type LogHandler, type LogMessage, type LogSubscription, type RejectedEvent } from "./log";

export interface LogEntry {
  seq: number;
  event: WafleetEvent;
  replay: number;
}
type Entry = LogEntry;

/** Where a durable memory log writes (log-file.ts). */
export interface EventLogJournal {
  /** Resolves once the entry is durable; a rejection fails the append. */
  appended(entry: LogEntry): Promise<void>;
  /** A consumer takes part: entries wait until it settled them. */
  opened(consumer: string): void;
  /** The consumer is done with `seq` (acknowledged, dropped, or out of deliveries). */
  settled(consumer: string, seq: number): void;
  /** The consumer's delivery count of `seq`, so attempts keep counting after a restart. */
  attempted(consumer: string, seq: number, attempt: number): void;
  /** The entry left the log (retention). */
  forgotten(seq: number): void;
  close(): Promise<void>;
}

/** What a journal held at start: the entries and, per consumer, what it had settled or tried. */
export interface RestoredLog {
  entries: LogEntry[];
  consumers: Map<string, { settled: Set<number>; attempts: Map<number, number> }>;
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
  /** Makes the log durable (log-file.ts). */
  journal?: EventLogJournal;
  /** The journal's content at start. */
  restored?: RestoredLog;
}

export class MemoryEventLog implements EventLog {
  readonly kind = "memory" as const;
  private readonly entries = new Map<number, Entry>();
  private readonly consumers = new Map<string, ConsumerState>();
  private seq = 0;
  private closed = false;
  private readonly maxMessages: number;
  readonly maxEventBytes: number;
  private readonly journal?: EventLogJournal;

  constructor(private readonly opts: MemoryEventLogOptions = {}) {
    this.maxMessages = opts.maxMessages ?? 100_000;
    this.maxEventBytes = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.journal = opts.journal;
    for (const e of opts.restored?.entries ?? []) {
      this.entries.set(e.seq, e);
      this.seq = Math.max(this.seq, e.seq);
    }
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
    // durable first: a consumer never sees an event a crash could take back
    if (this.journal) await this.journal.appended(entry);
    if (this.closed) return;
    this.entries.set(entry.seq, entry);
    for (const c of this.consumers.values()) insertSorted(c.ready, entry.seq);
    while (this.entries.size > this.maxMessages) {
      const oldest = this.entries.keys().next().value as number;
      this.forget(oldest);
    }
    for (const c of this.consumers.values()) this.pump(c);
  }

  async consume(opts: ConsumeOptions, handler: LogHandler): Promise<LogSubscription> {
    let c = this.consumers.get(opts.name);
    if (!c) {
      // a new durable consumer starts from the beginning of what the log retains, less what it
      // settled before a restart
      const before = this.opts.restored?.consumers.get(opts.name);
      const ready = [...this.entries.keys()].filter((seq) => !before?.settled.has(seq)).sort((a, b) => a - b);
      const deliveries = new Map([...(before?.attempts ?? [])].filter(([seq]) => this.entries.has(seq)));
      c = { ready, deliveries, inFlight: new Set(), timers: new Map(), subscribers: [], opts, next: 0 };
      this.consumers.set(opts.name, c);
      this.journal?.opened(opts.name);
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
    await this.journal?.close();
  }

  private forget(seq: number): void {
    this.entries.delete(seq);
    this.journal?.forgotten(seq);
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
    this.journal?.attempted(c.opts.name, entry.seq, attempt);
    const done = () => {
      c.deliveries.delete(entry.seq);
      this.journal?.settled(c.opts.name, entry.seq);
    };
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
        done();
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
        if (settle()) done();
        this.pump(c);
      },
      retry: (delayMs) => {
        if (settle()) schedule(delayMs);
        this.pump(c);
      },
      drop: () => {
        if (settle()) done();
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

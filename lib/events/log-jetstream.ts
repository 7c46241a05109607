// The event log of cluster mode: a JetStream stream (file storage, subjects
// `wafleet.events.<workspace>.<type>`, age and size limits) and durable pull consumers shared by
// every process that consumes under the same name. Appends go through an ordered outbox that keeps
// retrying while NATS is away; the event id is the JetStream message id, so a retried append is
// stored once (within the stream's duplicate window). Each append is a JetStream publish of our own
// over core NATS (jetstream-publish.ts), cheaper than nats.js's request. An event the log cannot
// carry (over maxEventBytes or the server's max_payload) is refused at append and never enters the
// outbox, so it cannot hold back the events behind it.
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConnectionOptions,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from "nats";
import type { WafleetEvent } from "./index";
import { JetStreamPublisher } from "./jetstream-publish";
import { DEFAULT_MAX_EVENT_BYTES, encodeEvent, eventTooLarge, rejectedOf, SUBJECT_PREFIX, subjectOf, type RejectedEvent, type AppendOptions, type ConsumeOptions, type EventLog, type LogHandler, type LogMessage, type LogSubscription } from "./log";

const REPLAY_HEADER = "Wafleet-Replay";

export interface JetStreamEventLogOptions {
  /** The transporter's connection (servers, credentials, TLS: lib/config/connections.ts). */
  connection: ConnectionOptions;
  /** Stream name (default WAFLEET_EVENTS). */
  stream?: string;
  /** Subjects are `<prefix>.<workspace>.<type>` (default wafleet.events). */
  subjectPrefix?: string;
  /** Retention: events older than this are discarded, delivered or not (default 7 days). */
  maxAgeMs?: number;
  /** Retention: the stream's size cap, oldest discarded first (default 1 GiB). */
  maxBytes?: number;
  /** Stream replicas: 3 on a clustered NATS, so losing one server loses no undelivered event. */
  replicas?: number;
  /** Appends waiting for NATS beyond this many are refused (default 100,000). */
  maxOutbox?: number;
  /** How long an unacknowledged delivery is held before redelivery, at least (default 30 s). */
  ackWaitMs?: number;
  /**
   * The largest encoded event accepted (default 256 KiB); the server's max_payload, less room for
   * headers, caps it further once connected.
   */
  maxEventBytes?: number;
  /** Called for every refused event (the node counts them in wafleet_event_log_rejected_total). */
  onRejected?: (rejected: RejectedEvent) => void;
  /** Connection name shown by the server. */
  name?: string;
  logger?: { info(msg: string): void; warn(msg: string): void };
}

/** Room for the message id and replay headers beside the payload within max_payload. */
const HEADER_ROOM = 1024;

interface Pending {
  event: WafleetEvent;
  data: Uint8Array;
  replay: number;
  resolve(): void;
  reject(err: Error): void;
}

export class JetStreamEventLog implements EventLog {
  readonly kind = "jetstream" as const;
  readonly stream: string;
  readonly subjectPrefix: string;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private publisher?: JetStreamPublisher;
  private ready?: Promise<void>;
  private readonly outbox: Pending[] = [];
  private pumping = false;
  private closed = false;
  private readonly subscriptions = new Set<LogSubscription>();
  private readonly ackWaitMs: number;
  private serverMaxPayload = Infinity;

  constructor(private readonly opts: JetStreamEventLogOptions) {
    this.stream = opts.stream ?? "WAFLEET_EVENTS";
    this.subjectPrefix = opts.subjectPrefix ?? SUBJECT_PREFIX;
    this.ackWaitMs = opts.ackWaitMs ?? 30_000;
  }

  /** The configured limit, capped by what the connected NATS server carries in one message. */
  get maxEventBytes(): number {
    return Math.min(this.opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES, this.serverMaxPayload - HEADER_ROOM);
  }

  /** Connects and creates (or updates) the stream. Idempotent; every node may call it. */
  start(): Promise<void> {
    this.ready ??= this.connect().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async connect(): Promise<void> {
    // noAsyncTraces: nats.js captures two stack traces per request in case it times out; appends no
    // longer go through its requests (JetStreamPublisher), the stream and consumer calls still do
    const nc = await connect({ ...this.opts.connection, name: this.opts.name ?? "wafleet-event-log", maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true, noAsyncTraces: true });
    this.nc = nc;
    if (nc.info?.max_payload) this.serverMaxPayload = nc.info.max_payload;
    this.js = nc.jetstream();
    this.publisher = new JetStreamPublisher(nc, { timeoutMs: 2000, inboxPrefix: this.opts.connection.inboxPrefix });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnect") this.opts.logger?.info(`event log: NATS ${s.type}`);
      }
    })().catch(() => undefined);
    await this.withRetry("stream setup", async () => {
      this.jsm = await nc.jetstreamManager();
      await this.ensureStream();
    });
  }

  private async ensureStream(): Promise<void> {
    const jsm = this.jsm!;
    const config = {
      name: this.stream,
      subjects: [`${this.subjectPrefix}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(this.opts.maxAgeMs ?? 7 * 24 * 3600 * 1000),
      max_bytes: this.opts.maxBytes ?? 1024 ** 3,
      duplicate_window: nanos(120_000),
      num_replicas: this.opts.replicas ?? 1,
    };
    try {
      const info = await jsm.streams.info(this.stream);
      if (info.config.max_age !== config.max_age || info.config.max_bytes !== config.max_bytes) await jsm.streams.update(this.stream, { ...info.config, max_age: config.max_age, max_bytes: config.max_bytes });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(config);
      } catch (addErr) {
        // another node created it first
        if (!/already in use|exists/i.test((addErr as Error).message)) throw addErr;
      }
    }
  }

  append(event: WafleetEvent, opts: AppendOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new Error("event log closed"));
    const data = encodeEvent(event);
    if (data.byteLength > this.maxEventBytes) return Promise.reject(this.refuse(event, data.byteLength));
    if (this.outbox.length >= (this.opts.maxOutbox ?? 100_000)) return Promise.reject(new Error(`event log outbox full (${this.outbox.length} events waiting for NATS)`));
    return new Promise<void>((resolve, reject) => {
      this.outbox.push({ event, data, replay: opts.replay ?? 0, resolve, reject });
      void this.pump();
    });
  }

  private refuse(event: WafleetEvent, size: number): Error {
    const limit = this.maxEventBytes;
    this.opts.logger?.warn(`event log: refused ${event.event} ${event.id} of ${event.workspaceId}/${event.sessionId}: ${size} bytes encoded, the limit is ${limit}`);
    this.opts.onRejected?.(rejectedOf(event, size, limit));
    return eventTooLarge(event, size, limit);
  }

  /**
   * Publishes the outbox in order, a window at a time; appends that failed because NATS is away are
   * retried until stored, an append the server refuses for good (too large) is rejected at once.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let pause = 100;
    try {
      while (this.outbox.length && !this.closed) {
        try {
          await this.start();
        } catch (err) {
          this.opts.logger?.warn(`event log: cannot reach NATS: ${(err as Error).message}`);
          await sleep(pause);
          pause = Math.min(pause * 2, 2000);
          continue;
        }
        const window = this.outbox.slice(0, 256);
        const results = await Promise.allSettled(window.map((p) => this.publish(p)));
        // close() has settled the outbox, this window included
        if (this.closed) break;
        const failed: Pending[] = [];
        results.forEach((r, i) => {
          const p = window[i]!;
          if (r.status === "fulfilled") p.resolve();
          else if (isTooLarge(r.reason)) {
            // the server carries less than it announced (or a stream limit): refused, not retried
            const max = this.nc?.info?.max_payload;
            if (max) this.serverMaxPayload = max;
            p.reject(this.refuse(p.event, p.data.byteLength));
          } else failed.push(p);
        });
        this.outbox.splice(0, window.length, ...failed);
        if (failed.length) {
          const why = (results.find((r) => r.status === "rejected" && !isTooLarge(r.reason)) as PromiseRejectedResult).reason as Error;
          this.opts.logger?.warn(`event log: ${failed.length} appends failed (${why.message}); retrying`);
          await sleep(pause);
          pause = Math.min(pause * 2, 2000);
        } else pause = 100;
      }
    } finally {
      this.pumping = false;
    }
  }

  private async publish(p: Pending): Promise<void> {
    const h = natsHeaders();
    if (p.replay) h.set(REPLAY_HEADER, String(p.replay));
    const msgID = p.replay ? `${p.event.id}.replay.${p.replay}` : p.event.id;
    await this.publisher!.publish(subjectOf(p.event, this.subjectPrefix), p.data, msgID, h);
  }

  async consume(opts: ConsumeOptions, handler: LogHandler): Promise<LogSubscription> {
    await this.start();
    // the consumer's own schedule: redelivery of a delivery whose process died (no ack, no nak)
    const backoff = opts.backoffMs.slice(0, Math.max(1, opts.maxDeliver - 1)).map((ms) => nanos(Math.max(ms, this.ackWaitMs)));
    const config: Partial<ConsumerConfig> = {
      durable_name: opts.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: `${this.subjectPrefix}.>`,
      ack_wait: backoff[0] ?? nanos(this.ackWaitMs),
      backoff,
      max_deliver: opts.maxDeliver,
      max_ack_pending: 10_000,
    };
    await this.withRetry("consumer setup", () => this.ensureConsumer(opts.name, config));
    let stopped = false;
    let current: { close(): Promise<void | Error> } | undefined;
    const held = new Set<JsMsg>();
    let running = 0;
    const waiters: Array<() => void> = [];
    const release = () => {
      running--;
      waiters.shift()?.();
    };
    // held deliveries say "still working" well inside the ack wait, so only a dead process's are redelivered
    const heartbeat = setInterval(() => {
      for (const m of held) m.working();
    }, Math.max(100, Math.floor(this.ackWaitMs / 3)));

    const loop = async () => {
      while (!stopped && !this.closed) {
        try {
          const consumer = await this.js!.consumers.get(this.stream, opts.name);
          const messages = await consumer.consume({ max_messages: Math.max(1, opts.concurrency), idle_heartbeat: 5000, expires: 30000 });
          current = messages;
          for await (const m of messages) {
            held.add(m);
            if (running >= opts.concurrency) await new Promise<void>((r) => waiters.push(r));
            running++;
            void this.dispatch(m, handler, held, opts).finally(release);
            if (stopped) break;
          }
        } catch (err) {
          if (stopped || this.closed) break;
          this.opts.logger?.warn(`event log: consumer ${opts.name}: ${(err as Error).message}; resuming`);
          await this.withRetry("consumer setup", () => this.ensureConsumer(opts.name, config)).catch(() => undefined);
        }
        if (!stopped && !this.closed) await sleep(250);
      }
    };
    const done = loop();
    const sub: LogSubscription = {
      stop: async () => {
        stopped = true;
        clearInterval(heartbeat);
        await current?.close().catch(() => undefined);
        // wait for handlers in flight to settle their messages
        while (running > 0) await sleep(20);
        for (const w of waiters.splice(0)) w();
        await done.catch(() => undefined);
        this.subscriptions.delete(sub);
      },
    };
    this.subscriptions.add(sub);
    return sub;
  }

  private async dispatch(m: JsMsg, handler: LogHandler, held: Set<JsMsg>, opts: ConsumeOptions): Promise<void> {
    let event: WafleetEvent;
    try {
      event = JSON.parse(m.string()) as WafleetEvent;
    } catch {
      held.delete(m);
      m.term("malformed event");
      return;
    }
    const settle = (f: () => void) => {
      if (!held.delete(m)) return;
      f();
    };
    const message: LogMessage = {
      event,
      seq: m.seq,
      attempt: m.info.redeliveryCount,
      replay: Number(m.headers?.get(REPLAY_HEADER) || 0),
      ack: () => settle(() => m.ack()),
      retry: (delayMs) => settle(() => m.nak(Math.max(1, Math.round(delayMs)))),
      drop: () => settle(() => m.term()),
    };
    try {
      await handler(message);
    } catch (err) {
      this.opts.logger?.warn(`event log: handler failed for ${event.id}: ${(err as Error).message}`);
      settle(() => m.nak(opts.backoffMs[0] ?? 1000));
    }
  }

  private async ensureConsumer(name: string, config: Partial<ConsumerConfig>): Promise<void> {
    const jsm = this.jsm!;
    try {
      const info = await jsm.consumers.info(this.stream, name);
      const c = info.config;
      const same = c.max_deliver === config.max_deliver && c.ack_wait === config.ack_wait && JSON.stringify(c.backoff ?? []) === JSON.stringify(config.backoff ?? []);
      if (!same) await jsm.consumers.update(this.stream, name, { ack_wait: config.ack_wait, backoff: config.backoff, max_deliver: config.max_deliver, max_ack_pending: config.max_ack_pending });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(this.stream, config);
    }
  }

  async depth(name: string): Promise<number> {
    await this.start();
    try {
      const info = await this.jsm!.consumers.info(this.stream, name);
      return info.num_pending + info.num_ack_pending;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const s = await this.jsm!.streams.info(this.stream);
      return s.state.messages;
    }
  }

  /** Stops consumers, gives the outbox a moment to drain, and closes the connection. */
  async close(flushMs = 2000): Promise<void> {
    for (const s of [...this.subscriptions]) await s.stop();
    const end = Date.now() + flushMs;
    while (this.outbox.length && Date.now() < end && this.nc && !this.nc.isClosed()) await sleep(20);
    this.closed = true;
    for (const p of this.outbox.splice(0)) p.reject(new Error("event log closed"));
    // what still waits for an acknowledgement settles now, not at its timeout, so the pump ends
    this.publisher?.close();
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => this.nc?.close());
  }

  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let pause = 100;
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        // only a server that is away or restarting is worth waiting for; a refusal is final
        if (this.closed || i >= 60 || !isTransient(err)) throw err;
        if (i === 0 || i % 10 === 0) this.opts.logger?.warn(`event log: ${what}: ${(err as Error).message}; retrying`);
        await sleep(pause);
        pause = Math.min(pause * 2, 1000);
      }
    }
  }
}

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "503" || e?.code === "TIMEOUT" || /timeout|no responders|disconnect|closed|not ready|unavailable|connection/i.test(e?.message ?? "");
}

/** The server will never take this message: over max_payload, or over the stream's message size. */
function isTooLarge(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return e?.code === "MAX_PAYLOAD_EXCEEDED" || e?.api_error?.err_code === 10054 || /max(imum)?[ _]payload|message size exceeds maximum/i.test(e?.message ?? "");
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return e?.code === "404" || e?.api_error?.err_code === 10059 || e?.api_error?.err_code === 10014 || /not found/i.test(e?.message ?? "");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

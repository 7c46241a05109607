// A JetStream publish written over core NATS: the message goes to the stream's subject with a reply
// subject on one wildcard inbox of ours, and the stream's acknowledgement (a PubAck, or an API
// error) comes back there. It is what nats.js's `js.publish` does, without the costs nats.js adds to
// every request: a timer each, and a `Cancelled` NatsError with a stack trace built for every
// settled request (9% of a session node's CPU while linking: docs/benchmarks.md, "Fifth round").
// Timeouts are swept by one interval; the subscription outlives reconnects (nats.js resubscribes).
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type NatsError, type Subscription } from "nats";

/** The stream's acknowledgement of a stored (or deduplicated) message. */
export interface PubAck {
  stream: string;
  seq: number;
  /** True when the stream already held this Nats-Msg-Id within its duplicate window (not stored again). */
  duplicate: boolean;
  domain?: string;
}

/** A JetStream API error as the server sends it: `{error: {code, err_code, description}}`. */
export interface JetStreamApiError {
  code: number;
  err_code?: number;
  description?: string;
}

/**
 * A publish that was not acknowledged, shaped as nats.js's errors are (`code`, `api_error`) so a
 * caller tells them apart the same way: "503" (no stream listens on the subject, or JetStream is
 * down), "TIMEOUT", the API error's HTTP-like code, "INVALID_ACK", "CLOSED".
 */
export class JetStreamPublishError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly api_error?: JetStreamApiError,
  ) {
    super(message);
    this.name = "JetStreamPublishError";
  }
}

export interface JetStreamPublisherOptions {
  /** How long an acknowledgement is awaited (default 2000 ms); swept every quarter of it, so up to a quarter later. */
  timeoutMs?: number;
  /** The connection's inbox prefix, where its permissions allow replies (default `_INBOX`). */
  inboxPrefix?: string;
}

interface Waiting {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
  deadline: number;
}

const MSG_ID_HEADER = "Nats-Msg-Id";

export class JetStreamPublisher {
  private readonly timeoutMs: number;
  /** In publish order, so all waiting the same time, the expired ones are at the front. */
  private readonly waiting = new Map<string, Waiting>();
  private sub?: Subscription;
  private prefix = "";
  private sweeper?: ReturnType<typeof setInterval>;
  private next = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: JetStreamPublisherOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  /** Publishes awaiting their acknowledgement. */
  get pending(): number {
    return this.waiting.size;
  }

  /**
   * Publishes `data` to `subject` with `msgID` as its Nats-Msg-Id (set on `headers`, which carry
   * the caller's own headers too) and resolves with the stream's acknowledgement. A message over the
   * server's max_payload is refused at once (nats.js's MAX_PAYLOAD_EXCEEDED). What is published
   * while disconnected is lost when nats.js dials again (it drops its buffer), so it fails with
   * TIMEOUT and the caller retries it under the same msgID.
   */
  publish(subject: string, data: Uint8Array, msgID: string, headers: MsgHdrs): Promise<PubAck> {
    if (this.closed) return Promise.reject(new JetStreamPublishError("publisher closed", "CLOSED"));
    const token = (this.next++).toString(36);
    try {
      if (!this.sub) this.subscribe();
      headers.set(MSG_ID_HEADER, msgID);
      this.nc.publish(subject, data, { reply: this.prefix + token, headers });
    } catch (err) {
      // over max_payload (MAX_PAYLOAD_EXCEEDED), or the connection closed
      return Promise.reject(err as NatsError);
    }
    return new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(10, Math.floor(this.timeoutMs / 4)));
    });
  }

  /** Rejects everything still waiting and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sub && !this.sub.isClosed()) this.sub.unsubscribe();
    this.sub = undefined;
    this.settleAll(new JetStreamPublishError("publisher closed", "CLOSED"));
  }

  private subscribe(): void {
    const inbox = createInbox(this.opts.inboxPrefix);
    this.prefix = `${inbox}.`;
    this.sub = this.nc.subscribe(`${inbox}.*`, { callback: (err, msg) => (err ? this.lost(err) : this.reply(msg)) });
  }

  /** The subscription ended in error (a permissions violation): what waits fails; the next publish subscribes again. */
  private lost(err: Error): void {
    this.sub = undefined;
    this.settleAll(err);
  }

  private reply(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    // a reply after its timeout: the retry carries the same Nats-Msg-Id and gets its own
    if (!w) return;
    this.waiting.delete(token);
    if (msg.data.length === 0) {
      // a status without payload: 503 is "no responders", no stream takes the subject (or JetStream is down)
      const code = msg.headers?.code ?? 0;
      w.reject(new JetStreamPublishError(code === 503 ? "no responders: no stream takes the subject, or JetStream is unavailable" : `status ${code} ${msg.headers?.description ?? ""}`.trim(), String(code || "INVALID_ACK")));
      return;
    }
    let ack: Partial<PubAck> & { error?: JetStreamApiError };
    try {
      ack = JSON.parse(msg.string()) as typeof ack;
    } catch {
      w.reject(new JetStreamPublishError("invalid JetStream acknowledgement", "INVALID_ACK"));
      return;
    }
    if (ack.error) w.reject(new JetStreamPublishError(ack.error.description || `JetStream error ${ack.error.code}`, String(ack.error.code), ack.error));
    else if (!ack.stream) w.reject(new JetStreamPublishError("invalid JetStream acknowledgement", "INVALID_ACK"));
    else w.resolve({ stream: ack.stream, seq: ack.seq ?? 0, duplicate: ack.duplicate === true, ...(ack.domain ? { domain: ack.domain } : {}) });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, w] of this.waiting) {
      if (w.deadline > now) break;
      this.waiting.delete(token);
      w.reject(new JetStreamPublishError(`no JetStream acknowledgement within ${this.timeoutMs} ms`, "TIMEOUT"));
    }
    if (!this.waiting.size) this.stopSweeping();
  }

  private settleAll(err: Error): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    this.stopSweeping();
    for (const w of all) w.reject(err);
  }

  private stopSweeping(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

// Moleculer's NATS transporter, with the packets a node sends in one turn of its event loop handed
// to NATS together. nats.js flushes what it holds once per run of microtasks, so every I/O callback
// that sends (a request's reply, a session's status event, the next callback's event) costs its own
// socket write; on loopback a write also runs the receiver's side of TCP in the sender's time, and
// in a link-phase profile of the session nodes socket writes were the largest single cost (issue 23).
// Held until the loop's check phase (setImmediate), a turn's packets leave in one write, in order.
import { Transporters } from "moleculer";

interface NatsClientLike {
  publish(subject: string, data: Uint8Array): void;
  info?: { max_payload?: number };
}

type Outgoing = { topic: string; data: Buffer };

const NatsTransporter = Transporters.NATS as unknown as new (opts?: unknown) => {
  client: NatsClientLike | null;
  logger: { warn(...args: unknown[]): void };
  send(topic: string, data: Buffer, meta?: unknown): Promise<void>;
  disconnect(): Promise<void> | undefined;
};

export class CoalescingNatsTransporter extends NatsTransporter {
  private outgoing: Outgoing[] = [];
  private scheduled = false;

  override send(topic: string, data: Buffer): Promise<void> {
    if (!this.client) return Promise.resolve();
    // what nats.js's publish would throw, refused here at send as before the coalescing, so that
    // Moleculer handles it as its own: its error log names the action, and `$transit.error` fires
    // (a packet that failed later, in a batch, would only be this transporter's warning)
    const max = this.client.info?.max_payload;
    if (max && data.length > max) return Promise.reject(new Error(`NATS packet to ${topic} is ${data.length} bytes, over the server's max_payload of ${max} (MAX_PAYLOAD_EXCEEDED)`));
    this.outgoing.push({ topic, data });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushOutgoing());
    }
    return Promise.resolve();
  }

  /** Publishes what this turn sent, in order, in one synchronous run (one flush of nats.js). */
  flushOutgoing(): void {
    this.scheduled = false;
    const batch = this.outgoing;
    this.outgoing = [];
    for (const { topic, data } of batch) {
      try {
        this.client?.publish(topic, data);
      } catch (err: any) {
        // what Moleculer's transporter would have thrown to the sender (a closed connection): the
        // packet is lost the same way, the caller's timeout answers for a request
        this.logger.warn(`NATS publish to ${topic} failed: ${err?.message ?? err}`);
      }
    }
  }

  /** A stopping node's last packets (DISCONNECT among them) leave before the connection closes. */
  override disconnect(): Promise<void> | undefined {
    this.flushOutgoing();
    return super.disconnect();
  }
}

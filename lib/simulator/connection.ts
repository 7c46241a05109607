// One client's WebSocket as the network sees it: its phase in the link/resume handshake, the device
// it speaks for, and fault latency applied to what it sends and receives (in order, whatever the latency).
import type { WebSocket } from "ws";
import type { DeviceRecord } from "./ledger";
import type { ServerFrame } from "./protocol";

/** new: no hello yet; linking: showing QRs / a pairing code; ready: authenticated as `device`; closed: gone. */
export type ConnectionPhase = "new" | "linking" | "ready" | "closed";

/** Runs callbacks after a delay, never out of order, even when the delay changes in between. */
class DelayLane {
  private readonly queue: { dueAt: number; run: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  push(delayMs: number, run: () => void): void {
    if (delayMs <= 0 && this.queue.length === 0) {
      run();
      return;
    }
    const last = this.queue[this.queue.length - 1];
    this.queue.push({ dueAt: Math.max(Date.now() + delayMs, last?.dueAt ?? 0), run });
    if (!this.timer) this.arm();
  }

  clear(): void {
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => this.drain(), Math.max(0, this.queue[0].dueAt - Date.now()));
  }

  private drain(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.queue.length && this.queue[0].dueAt <= now) this.queue.shift()!.run();
    if (this.queue.length) this.arm();
  }
}

/** A code the phone typed, waiting for the client that made it to prove it (`code_proof`). */
export interface CodeAttempt {
  id: string;
  settle(ok: boolean): void;
}

export class SimConnection {
  phase: ConnectionPhase = "new";
  device: DeviceRecord | undefined;
  /** The QR this connection shows now (linking phase). */
  qr: { qr: string; expiresAt: number } | undefined;
  qrTimer: NodeJS.Timeout | undefined;
  /**
   * The pairing code this connection shows, bound to the phone it was asked for. `code` is unset when
   * the client made the code itself and keeps it (WhatsApp's link-code companion flow, Baileys): the
   * network then hands a typed code to the connection to prove (`attempt`).
   */
  pairing: { code: string | undefined; phone: string; attempt?: CodeAttempt } | undefined;
  /** When the oldest ping it has not answered went out (undefined: none), for the keepalive (keepalive.ts). */
  unansweredSince: number | undefined;
  private readonly inbound = new DelayLane();
  private readonly outbound = new DelayLane();

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    private readonly latencyMs: () => number,
  ) {
    ws.on("pong", () => {
      this.unansweredSince = undefined;
    });
  }

  get live(): boolean {
    return this.phase !== "closed";
  }

  /** Handles an arriving frame after the fault latency. */
  receive(handle: () => void): void {
    this.inbound.push(this.latencyMs(), () => {
      if (this.live) handle();
    });
  }

  send(frame: ServerFrame): void {
    const text = JSON.stringify(frame);
    this.outbound.push(this.latencyMs(), () => {
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
    });
  }

  /** Stops counting as live now; the socket closes once the frames already sent have gone out. */
  close(code = 1000, reason = ""): void {
    this.markClosed();
    this.outbound.push(this.latencyMs(), () => this.ws.close(code, reason));
  }

  /** Drops the socket at once, as a dead network would. */
  terminate(): void {
    this.dispose();
    this.ws.terminate();
  }

  /** The socket is gone: nothing more to send. */
  dispose(): void {
    this.markClosed();
    this.outbound.clear();
  }

  /** Pings the client; `at` is the keepalive tick's time, which the judgement K later counts from. */
  ping(at: number): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.unansweredSince ??= at;
    this.ws.ping();
  }

  private markClosed(): void {
    this.phase = "closed";
    this.inbound.clear();
    if (this.qrTimer) clearInterval(this.qrTimer);
    this.qrTimer = undefined;
    this.qr = undefined;
    this.pairing = undefined;
  }
}

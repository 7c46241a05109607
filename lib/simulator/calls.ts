// Calls to linked accounts: a contact (or a group's member, for a group call) rings an account; the
// account's linked device may reject it, otherwise it ends unanswered. Linked devices never answer
// calls (WhatsApp Web cannot), so ringing, rejected and missed are the only outcomes kept.
import { randomBytes } from "node:crypto";

export interface SimCall {
  id: string;
  /** The caller, `<phone>@c.us` */
  from: string;
  /** The called account's phone */
  toPhone: string;
  isVideo: boolean;
  isGroup: boolean;
  /** Unix seconds */
  timestamp: number;
  state: "ringing" | "rejected" | "missed";
}

/** How long a call rings before it counts as missed. */
export const RING_MS = 45_000;
const KEEP = 1000;

export class SimCalls {
  private readonly calls = new Map<string, SimCall>();

  ring(from: string, toPhone: string, isVideo: boolean, isGroup: boolean): SimCall {
    const call: SimCall = { id: randomBytes(16).toString("hex").toUpperCase(), from, toPhone, isVideo, isGroup, timestamp: Math.floor(Date.now() / 1000), state: "ringing" };
    this.calls.set(call.id, call);
    // a bounded record: the oldest calls go first
    if (this.calls.size > KEEP) this.calls.delete(this.calls.keys().next().value as string);
    return { ...call };
  }

  /** The account rejects a call ringing it; false for an unknown call, another account's, or one no longer ringing. */
  reject(toPhone: string, callId: string): boolean {
    const call = this.current(callId);
    if (!call || call.toPhone !== toPhone || call.state !== "ringing") return false;
    call.state = "rejected";
    return true;
  }

  get(callId: string): SimCall | undefined {
    const call = this.current(callId);
    return call && { ...call };
  }

  clear(): void {
    this.calls.clear();
  }

  private current(callId: string): SimCall | undefined {
    const call = this.calls.get(callId);
    if (call?.state === "ringing" && Date.now() - call.timestamp * 1000 > RING_MS) call.state = "missed";
    return call;
  }
}

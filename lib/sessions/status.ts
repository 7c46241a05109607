// The session status machine: what the API shows. Desired state (running | stopped) is separate
// and persisted; status is the engine's live condition and is never persisted.

export const SESSION_STATUSES = ["STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED"] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];
export type DesiredState = "running" | "stopped";

const ALLOWED: Record<SessionStatus, readonly SessionStatus[]> = {
  STOPPED: ["STARTING"],
  // a start may fail, be stopped, show a QR, or restore straight to WORKING
  STARTING: ["SCAN_QR_CODE", "WORKING", "FAILED", "STOPPED"],
  // scanned (authenticating), linked, gave up, or stopped
  SCAN_QR_CODE: ["STARTING", "WORKING", "FAILED", "STOPPED"],
  // connection lost (reconnecting), unlinked from the phone (new QR), conflict, or stopped
  WORKING: ["STARTING", "SCAN_QR_CODE", "FAILED", "STOPPED"],
  FAILED: ["STARTING", "STOPPED"],
};

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return from === to || ALLOWED[from].includes(to);
}

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: SessionStatus,
    readonly to: SessionStatus,
  ) {
    super(`Invalid session status transition ${from} -> ${to}`);
    this.name = "InvalidTransitionError";
  }
}

/** Holds one session's status and reports each change once. */
export class StatusMachine {
  private current: SessionStatus = "STOPPED";
  private lastReason: string | undefined;

  constructor(private readonly onChange: (status: SessionStatus, previous: SessionStatus, reason?: string) => void) {}

  get status(): SessionStatus {
    return this.current;
  }

  get reason(): string | undefined {
    return this.lastReason;
  }

  /** Moves to `to`; a repeat of the current status is a no-op; a forbidden move throws. */
  transition(to: SessionStatus, reason?: string): boolean {
    const from = this.current;
    if (from === to) return false;
    if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
    this.current = to;
    this.lastReason = reason;
    this.onChange(to, from, reason);
    return true;
  }
}

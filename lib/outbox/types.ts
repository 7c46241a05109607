// The outbox's vocabulary: an item (one queued message and its life), its states, and the pacing
// policy a session's owner drains it with (DESIGN section 6, issue 22).
import type { SendMessageInput } from "../sessions/params";

export const OUTBOX_STATES = ["queued", "sending", "sent", "failed", "cancelled"] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/** What a client queues: a message as the messages route takes it, plus the outbox's own fields. */
export type OutboxMessage = SendMessageInput;

export interface OutboxItem {
  /** ULID: sortable by enqueue time; list cursors page on it. */
  id: string;
  /** The client's idempotency key: a second enqueue with it answers the first item. */
  key?: string;
  state: OutboxState;
  message: OutboxMessage;
  /** Epoch ms before which the item is not sent. */
  notBefore?: number;
  createdAt: number;
  updatedAt: number;
  /** Send attempts started (a crash mid-send leaves one started and not finished). */
  attempts: number;
  /** The engine's id of the sent message. */
  messageId?: string;
  /** Epoch ms: when its send started (while `sending`), then when the network acknowledged it (`sent`); the pace counts from it. */
  sentAt?: number;
  /** Set once the recipient's device acknowledged the message (a DEVICE or READ ack): the guard's evidence. */
  delivered?: true;
  error?: { code: string; message: string };
}

/**
 * When the ban-risk guard pauses a session's outbox (wa.outbox.paused {reason: "guard: ..."}):
 * WhatsApp's signs of a number under restriction are refused sends, sends that reach its servers
 * and never a device, and disconnects with a restriction reason.
 */
export interface OutboxGuard {
  /** This many sends in a row refused for good (an ERROR ack, ...); 0 = off. */
  refusals: number;
  /** This many of the last 10 sends older than stuckAfterMs still without a DEVICE ack; 0 = off. */
  stuck: number;
  stuckAfterMs: number;
  /** A disconnect for a reason WhatsApp uses for restrictions (TOS_BLOCK, SMB_TOS_BLOCK). */
  restrictions: boolean;
}

/** How many of the most recent aged sends the stuck check looks at. */
export const GUARD_STUCK_WINDOW = 10;

/** How fast and when a session's outbox is drained. */
export interface OutboxPolicy {
  /** Messages per minute at most (the mean gap is 60 s / perMinute, before jitter). */
  perMinute: number;
  /** A random extra wait of 0..jitterMs before each send. */
  jitterMs: number;
  /** Mark the chat seen and show "typing..." for typingMs before each send (when the engine can). */
  typing: boolean;
  typingMs: number;
  /** Sends per local day (the quiet hours' time zone, else UTC) at most; null = no cap. */
  dailyCap: number | null;
  /** No sends from `from` to `to` (HH:MM, local time in timeZone; may wrap midnight); null = none. */
  quietHours: { from: string; to: string; timeZone: string } | null;
  guard: OutboxGuard;
}

export const DEFAULT_OUTBOX_GUARD: OutboxGuard = { refusals: 3, stuck: 5, stuckAfterMs: 10 * 60_000, restrictions: true };

/** Safe defaults for a number that was never told otherwise (documented in docs/outbox.md). */
export const DEFAULT_OUTBOX_POLICY: OutboxPolicy = {
  perMinute: 6,
  jitterMs: 4000,
  typing: true,
  typingMs: 1500,
  dailyCap: 1000,
  quietHours: null,
  guard: DEFAULT_OUTBOX_GUARD,
};

const hhmm = { type: "string", pattern: /^([01][0-9]|2[0-3]):[0-5][0-9]$/, messages: { stringPattern: "expected HH:MM (24 h)" } } as const;

/** fastest-validator props of a policy (PUT .../outbox/policy). */
export const outboxPolicyProps = {
  perMinute: { type: "number", integer: true, min: 1, max: 120 },
  jitterMs: { type: "number", integer: true, min: 0, max: 600_000 },
  typing: { type: "boolean" },
  typingMs: { type: "number", integer: true, min: 0, max: 30_000, optional: true },
  dailyCap: { type: "number", integer: true, min: 1, max: 1_000_000, optional: true, nullable: true },
  quietHours: {
    type: "object",
    optional: true,
    nullable: true,
    strict: true,
    props: { from: hhmm, to: hhmm, timeZone: { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9_+\-/]+$/ } },
  },
  guard: {
    type: "object",
    optional: true,
    strict: true,
    props: {
      refusals: { type: "number", integer: true, min: 0, max: 1000, optional: true },
      stuck: { type: "number", integer: true, min: 0, max: 10, optional: true },
      stuckAfterMs: { type: "number", integer: true, min: 1000, max: 7 * 86_400_000, optional: true },
      restrictions: { type: "boolean", optional: true },
    },
  },
} as const;

export const OUTBOX_BATCH_MAX = 1000;
export const OUTBOX_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

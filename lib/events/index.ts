// Event names and payload types: the one place they are defined (DESIGN section 7).
import { createHash } from "node:crypto";
import { ulid } from "../ids";
import type { AckLevel, EngineMe, EngineMessage } from "../engines/types";
import type { GroupSettings } from "../engines/capabilities";
import type { MediaDescriptor } from "../media/descriptor";
import type { SessionStatus } from "../sessions/status";

/**
 * A received message's media as events carry it: the media store's descriptor (download it from
 * `url`), or, when it could not be stored (larger than MEDIA_MAX_BYTES), what is known and why.
 */
export type EventMedia = MediaDescriptor | { mimetype: string; filename?: string; size: number; error: "MEDIA_TOO_LARGE" | "MEDIA_DOWNLOAD_FAILED" } | { mimetype: string; filename?: string };

/** A message as events carry it: never the media's bytes. */
export type EventMessage = Omit<EngineMessage, "media"> & { media?: EventMedia };

export const EVENTS = {
  sessionStatus: "wa.session.status",
  sessionQr: "wa.session.qr",
  sessionReady: "wa.session.ready",
  sessionDisconnected: "wa.session.disconnected",
  messageReceived: "wa.message.received",
  messageAck: "wa.message.ack",
  messageSent: "wa.message.sent",
  messageEdited: "wa.message.edited",
  messageRevoked: "wa.message.revoked",
  messageReaction: "wa.message.reaction",
  pollVote: "wa.poll.vote",
  presence: "wa.presence",
  groupUpdate: "wa.group.update",
  callReceived: "wa.call.received",
  callRejected: "wa.call.rejected",
  labelUpdate: "wa.label.update",
  outboxSent: "wa.outbox.sent",
  outboxFailed: "wa.outbox.failed",
  outboxPaused: "wa.outbox.paused",
  clusterFailover: "wa.cluster.failover",
  clusterCapacity: "wa.cluster.capacity",
} as const;

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];
export const EVENT_NAMES: readonly EventName[] = Object.values(EVENTS);

export interface EventEnvelope {
  /** ULID: unique, sortable by time; webhook receivers deduplicate on it. */
  id: string;
  workspaceId: string;
  sessionId: string;
  node: string;
  /** ISO 8601 */
  timestamp: string;
}

export interface EventPayloads {
  "wa.session.status": { status: SessionStatus; previous: SessionStatus; reason?: string };
  "wa.session.qr": { qr: string; expiresAt: number };
  "wa.session.ready": { me: EngineMe };
  "wa.session.disconnected": { reason: string };
  "wa.message.received": { message: EventMessage };
  "wa.message.ack": { messageId: string; ack: AckLevel };
  /** An own message sent from another device of the account (the phone included). */
  "wa.message.sent": { message: EventMessage };
  "wa.message.edited": { messageId: string; chatId: string; text: string };
  "wa.message.revoked": { messageId: string; chatId: string };
  /** emoji "" = the reaction was removed */
  "wa.message.reaction": { messageId: string; chatId: string; from: string; emoji: string };
  "wa.poll.vote": { messageId: string; chatId: string; voter: string; options: string[] };
  "wa.presence": { chatId: string; from: string; state: string };
  /**
   * A group the account is in changed: change is create, join, add, leave, remove, promote, demote,
   * subject, description, settings, picture or invite_revoked; `by` did it; `value` the new subject,
   * description or settings.
   */
  "wa.group.update": { groupId: string; change: string; by: string; participants?: string[]; value?: string | GroupSettings };
  "wa.call.received": { callId: string; from: string; isVideo: boolean; isGroup: boolean };
  /** A call was rejected: through the API, or automatically by the session's call policy (`auto`). */
  "wa.call.rejected": { callId: string; from: string; auto: boolean; replied?: boolean };
  /** A WhatsApp Business label was put on a chat or taken off on another device (the phone). */
  "wa.label.update": { chatId: string; labelId: string; change: "added" | "removed" };
  /** An outbox item went out (`messageId`: the engine's id, as in wa.message.ack). */
  "wa.outbox.sent": { id: string; messageId: string; to: string; key?: string };
  /** An outbox item was refused for good (its error's stable code and message). */
  "wa.outbox.failed": { id: string; to: string; key?: string; error: { code: string; message: string } };
  /** The session's outbox stopped draining: asked (reason "requested") or paused by the guard. */
  "wa.outbox.paused": { reason: string };
  "wa.cluster.failover": { node: string; workspaces: string[]; seconds?: number };
  /** A session node crossed a capacity threshold (70% warning, 85% critical) either way. */
  "wa.cluster.capacity": { node: string; level: "ok" | "warning" | "critical"; previous: "ok" | "warning" | "critical"; utilization: number };
}

export type WafleetEvent<N extends EventName = EventName> = EventEnvelope & EventPayloads[N] & { event: N };


export function makeEvent<N extends EventName>(
  name: N,
  scope: { workspaceId: string; sessionId: string; node: string },
  payload: EventPayloads[N],
  now: Date = new Date(),
  id?: string,
): WafleetEvent<N> {
  return { id: id ?? ulid(now.getTime()), event: name, workspaceId: scope.workspaceId, sessionId: scope.sessionId, node: scope.node, timestamp: now.toISOString(), ...payload } as unknown as WafleetEvent<N>;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The event id of a message's event, derived from the message (its WhatsApp id and time): the same
 * message delivered again (after a crash, a catch-up from history) gets the same event id, so the
 * event log and webhook receivers see a duplicate, never a new message. A valid ULID: its time is
 * the message's, its other 80 bits a hash of the session, the event type and the message id.
 */
export function messageEventId(name: EventName, scope: { workspaceId: string; sessionId: string }, messageId: string, timestampSeconds: number): string {
  let time = Math.max(0, Math.min(Math.floor(timestampSeconds * 1000), 2 ** 48 - 1));
  let head = "";
  for (let i = 0; i < 10; i++) {
    head = CROCKFORD[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const digest = createHash("sha256").update(`${scope.workspaceId}\u0000${scope.sessionId}\u0000${name}\u0000${messageId}`).digest();
  let tail = "";
  // 80 bits = 16 characters of 5 bits
  let acc = 0n;
  for (let i = 0; i < 10; i++) acc = (acc << 8n) | BigInt(digest[i]);
  for (let i = 0; i < 16; i++) {
    tail = CROCKFORD[Number(acc & 31n)] + tail;
    acc >>= 5n;
  }
  return head + tail;
}

// Event names and payload types: the one place they are defined (DESIGN section 7).
import { ulid } from "ulid";
import type { AckLevel, EngineMe, EngineMessage } from "../engines/types";
import type { MediaDescriptor } from "../media/descriptor";
import type { SessionStatus } from "../sessions/status";

/**
 * A received message's media as events carry it: the media store's descriptor (download it from
 * `url`), or, when it could not be stored (larger than MEDIA_MAX_BYTES), what is known and why.
 */
export type EventMedia = MediaDescriptor | { mimetype: string; filename?: string; size: number; error: "MEDIA_TOO_LARGE" } | { mimetype: string; filename?: string };

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
): WafleetEvent<N> {
  return { id: ulid(now.getTime()), event: name, workspaceId: scope.workspaceId, sessionId: scope.sessionId, node: scope.node, timestamp: now.toISOString(), ...payload } as unknown as WafleetEvent<N>;
}

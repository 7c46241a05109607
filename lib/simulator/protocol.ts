// Wire protocol between engines (clients) and the simulated WhatsApp network (server).
// JSON text frames over one WebSocket per session at `<WA_SIM_URL>/ws`; liveness is WebSocket
// ping/pong, answered automatically by Node's `ws` and by browsers alike. Its only clients are the
// simulator engine and the fake WhatsApp Web page; WhatsApp's own vocabulary is lib/whatsapp.
import type { AckLevel } from "../whatsapp";

export interface SimCredentials {
  deviceId: string;
  secret: string;
  phone: string;
}

export interface SimMe {
  /** Phone number in international format without `+`, e.g. "15550001111". */
  phone: string;
  /** WhatsApp id of the account, `<phone>@c.us`. */
  wid: string;
  pushname: string;
  /** "smba" for a WhatsApp Business account (as WhatsApp Web's Conn.platform says), else "sim" */
  platform: "sim" | "smba";
}

export interface SimMedia {
  mimetype: string;
  /** base64 */
  data: string;
  filename?: string;
}

export interface SimLocation {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}

export interface SimPoll {
  name: string;
  options: string[];
  multiple: boolean;
}

/** What a message may carry besides its body and media (every field optional). */
export interface SimMessageFields {
  /** The id of the quoted message */
  replyTo?: string;
  /** Person ids mentioned */
  mentions?: string[];
  location?: SimLocation;
  vcard?: string;
  poll?: SimPoll;
  /** Audio media as a voice note */
  voice?: boolean;
}

export interface SimIncomingMessage extends SimMessageFields {
  id: string;
  /** `<phone>@c.us` of the sender, or the group's id for a group message */
  from: string;
  /** A group message's sender, `<phone>@c.us` */
  author?: string;
  /** `<phone>@c.us` of the receiving account */
  to: string;
  body: string;
  /** Unix seconds, as WhatsApp's. */
  timestamp: number;
  media?: SimMedia;
}

/** A message as the network keeps it in an account's history (media without its bytes). */
export interface SimHistoryMessage extends SimMessageFields {
  id: string;
  /** The other party (`<phone>@c.us`) */
  chatId: string;
  from: string;
  to: string;
  /** A group message's sender */
  author?: string;
  fromMe: boolean;
  body: string;
  timestamp: number;
  /** text, image, video, audio, voice, document, location, vcard, poll, revoked */
  type: string;
  media?: { mimetype: string; filename?: string; size: number };
  /** person phone -> emoji */
  reactions?: Record<string, string>;
  /** poll votes: voter phone -> options */
  votes?: Record<string, string[]>;
  edited?: boolean;
  revoked?: boolean;
  /** own messages: the best ack so far */
  ack?: AckLevel;
  /** Order within the account (increases with every message) */
  seq: number;
}

export interface SimChat {
  id: string;
  name: string;
  unreadCount: number;
  timestamp: number;
  lastMessage: SimHistoryMessage | null;
}

export interface SimContact {
  id: string;
  phone: string;
  lid: string;
  name: string | null;
  pushname: string;
  isBusiness: boolean;
  about: string | null;
  pictureUrl: string | null;
  blocked: boolean;
}

/** Something that happened to an account's messages elsewhere (a contact, or its own phone). */
export type SimUpdate =
  | { kind: "reaction"; id: string; chatId: string; from: string; emoji: string }
  | { kind: "edit"; id: string; chatId: string; body: string }
  | { kind: "revoke"; id: string; chatId: string }
  | { kind: "vote"; id: string; chatId: string; voter: string; options: string[] }
  | { kind: "presence"; chatId: string; from: string; state: "typing" | "recording" | "paused" }
  /** An own message sent from the phone (or another device) */
  | { kind: "sent"; message: SimHistoryMessage }
  /** A group the account is (or was) in changed; `by` did it */
  | { kind: "group"; groupId: string; change: string; by: string; participants?: string[]; value?: unknown }
  /** Someone calls the account */
  | { kind: "call"; callId: string; from: string; isVideo: boolean; isGroup: boolean; timestamp: number }
  /** A label was put on a chat or taken off (on the phone, or by another device) */
  | { kind: "label"; chatId: string; labelId: string; on: boolean }
  /** The account's labels changed (made on the phone): all of them now */
  | { kind: "label_defs"; labels: Array<{ id: string; name: string; color: string }> };

/** Queries a ready client may make (each answered by a `result` with the same qid). */
export type SimQuery =
  | { op: "chats"; limit: number; before?: number }
  | { op: "chat"; chatId: string }
  | { op: "messages"; chatId: string; limit: number; before?: number; since?: number; fromMe?: boolean }
  | { op: "message"; id: string }
  /** The bytes of a message's media in the account's history, as WhatsApp's media servers serve them (null: none, or revoked) */
  | { op: "media"; id: string }
  | { op: "react"; id: string; emoji: string }
  | { op: "edit"; id: string; body: string }
  | { op: "revoke"; id: string; forEveryone: boolean }
  | { op: "read"; chatId: string }
  | { op: "presence"; chatId: string; state: "typing" | "recording" | "paused" }
  | { op: "contacts"; limit: number; after?: string }
  | { op: "contact"; id: string }
  | { op: "check"; phones: string[] }
  | { op: "block"; id: string; blocked: boolean }
  | { op: "group_create"; subject: string; participants: string[] }
  | { op: "groups"; limit: number; before?: string }
  | { op: "group"; groupId: string }
  | { op: "group_update"; groupId: string; subject?: string; description?: string; settings?: { announce?: boolean; restrict?: boolean } }
  | { op: "group_leave"; groupId: string }
  | { op: "group_participants"; groupId: string; action: "add" | "remove" | "promote" | "demote"; participants: string[] }
  | { op: "group_invite"; groupId: string }
  | { op: "group_revoke_invite"; groupId: string }
  | { op: "group_join"; code: string }
  | { op: "group_picture_set"; groupId: string; picture: { mimetype: string; data: string } | null }
  | { op: "group_picture"; groupId: string }
  | { op: "call_reject"; callId: string }
  | { op: "labels" }
  /** The labels and which chats carry each: what a business device syncs at login */
  | { op: "label_state" }
  | { op: "chat_labels"; chatId: string }
  | { op: "chat_label"; chatId: string; labelId: string; on: boolean };

/** Frames a client sends. */
export type ClientFrame =
  /** First frame. With `creds` of a linked device: resume; without: ask for a QR. */
  | { t: "hello"; creds?: SimCredentials; client?: string }
  /**
   * Ask for a pairing code for `phone` instead of scanning a QR (only before linking). With `own`, the
   * client made the code itself and keeps it, as WhatsApp's multi-device companions do (the server
   * never sees it): no `code` frame comes back, and a code the phone types is handed to the client to
   * prove (`code_typed`, answered by `code_proof`).
   */
  | { t: "pair_code"; phone: string; own?: boolean }
  /** The client's answer to `code_typed`: whether the typed code is the one it made. */
  | { t: "code_proof"; attempt: string; ok: boolean }
  /** Send a message. `id` is chosen by the client; a resend with the same id is a duplicate. */
  | ({ t: "send"; id: string; to: string; body: string; media?: SimMedia } & SimMessageFields)
  /** A query about the account, or an action on its messages and chats; answered by `result`. */
  | ({ t: "query"; qid: string } & SimQuery)
  /** The client has stored an incoming message; the network forgets it. */
  | { t: "recv_ack"; id: string }
  /** The client has applied an update (by its `uid`); the network forgets it. */
  | { t: "update_ack"; uid: string }
  /** Unlink this device (WhatsApp's "log out"). */
  | { t: "logout" };

/** Frames the server sends. */
export type ServerFrame =
  /** A QR string to show (rotates every `qrRotateMs`; each expires when the next is issued). */
  | { t: "qr"; qr: string; expiresAt: number }
  /** A pairing code for the phone number asked for. */
  | { t: "code"; code: string }
  /** The phone typed `code` for this connection's own-code pairing: prove it (`code_proof`). */
  | { t: "code_typed"; attempt: string; code: string }
  /** The device was linked (by QR or pairing code); store these credentials. */
  | { t: "paired"; creds: SimCredentials; scanned?: string }
  /** The connection is authenticated and in sync; messages may flow. */
  | { t: "ready"; me: SimMe }
  /** Result of a `send`: the server's ack, or an error. */
  | { t: "ack"; id: string; ack: AckLevel; timestamp: number; error?: string }
  /** The answer to a `query`: `data`, or an `error` code (NOT_FOUND, BAD_QUERY, ...). */
  | { t: "result"; qid: string; data?: unknown; error?: string; message?: string }
  /**
   * Something happened elsewhere. Kept for an offline account and redelivered (after its queued
   * messages) until `update_ack` with the same `uid`; a contact's presence has no `uid` (live only).
   */
  | { t: "update"; update: SimUpdate; uid?: string }
  /** A message for this account. Redelivered until `recv_ack`. */
  | { t: "message"; message: SimIncomingMessage }
  /** The device is no longer linked: `LOGOUT` (unlinked from the phone), `UNPAIRED` (unknown credentials). */
  | { t: "logged_out"; reason: "LOGOUT" | "UNPAIRED" }
  /** Another connection took over this device; the server closes this one. */
  | { t: "conflict" }
  /** WhatsApp restricted (banned) the account: the server closes the connection, and refuses it until lifted. */
  | { t: "restricted"; reason: SimRestriction }
  /** A protocol error; the server closes the connection. */
  | { t: "error"; code: string; message: string };

export interface SimStats {
  /** Live WebSocket connections (linked or not). */
  connections: number;
  /** Live connections of linked devices. */
  linkedConnections: number;
  /** Times a second live connection appeared for one linked device. Must stay 0. */
  conflicts: number;
  /** Distinct outgoing messages accepted from accounts. */
  sent: number;
  /** Messages delivered to their recipient (outgoing to contacts, incoming acked by accounts). */
  delivered: number;
  /** Resends of an already accepted message id (dropped, not delivered again). */
  duplicates: number;
  /** Incoming messages waiting for their account to come online and ack them. */
  queued: number;
  /** Updates (reactions, edits, revokes, votes, messages sent from the phone) waiting for their account's ack. */
  queuedUpdates: number;
  /** Linked devices. */
  devices: number;
}

/** The reasons WhatsApp gives when it ends a restricted account's connection (WhatsApp Web's states). */
export const SIM_RESTRICTIONS = ["TOS_BLOCK", "SMB_TOS_BLOCK"] as const;
export type SimRestriction = (typeof SIM_RESTRICTIONS)[number];

export interface SimFaults {
  /** Delay added before the server handles or sends any frame. */
  latencyMs: number;
  /** Probability (0..1) that the server drops a connection when a frame arrives (a flaky network). */
  dropRate: number;
  /**
   * The server loses every update acknowledgement (update_ack) that reaches it, as when the ack died
   * with a connection: the updates stay queued and are sent again after the next reconnect.
   */
  loseUpdateAcks: boolean;
}

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
  platform: "sim";
}

export interface SimMedia {
  mimetype: string;
  /** base64 */
  data: string;
  filename?: string;
}

export interface SimIncomingMessage {
  id: string;
  /** `<phone>@c.us` of the sender */
  from: string;
  /** `<phone>@c.us` of the receiving account */
  to: string;
  body: string;
  /** Unix seconds, as WhatsApp's. */
  timestamp: number;
  media?: SimMedia;
}

/** Frames a client sends. */
export type ClientFrame =
  /** First frame. With `creds` of a linked device: resume; without: ask for a QR. */
  | { t: "hello"; creds?: SimCredentials; client?: string }
  /** Ask for a pairing code for `phone` instead of scanning a QR (only before linking). */
  | { t: "pair_code"; phone: string }
  /** Send a message. `id` is chosen by the client; a resend with the same id is a duplicate. */
  | { t: "send"; id: string; to: string; body: string; media?: SimMedia }
  /** The client has stored an incoming message; the network forgets it. */
  | { t: "recv_ack"; id: string }
  /** Unlink this device (WhatsApp's "log out"). */
  | { t: "logout" };

/** Frames the server sends. */
export type ServerFrame =
  /** A QR string to show (rotates every `qrRotateMs`; each expires when the next is issued). */
  | { t: "qr"; qr: string; expiresAt: number }
  /** A pairing code for the phone number asked for. */
  | { t: "code"; code: string }
  /** The device was linked (by QR or pairing code); store these credentials. */
  | { t: "paired"; creds: SimCredentials }
  /** The connection is authenticated and in sync; messages may flow. */
  | { t: "ready"; me: SimMe }
  /** Result of a `send`: the server's ack, or an error. */
  | { t: "ack"; id: string; ack: AckLevel; timestamp: number; error?: string }
  /** A message for this account. Redelivered until `recv_ack`. */
  | { t: "message"; message: SimIncomingMessage }
  /** The device is no longer linked: `LOGOUT` (unlinked from the phone), `UNPAIRED` (unknown credentials). */
  | { t: "logged_out"; reason: "LOGOUT" | "UNPAIRED" }
  /** Another connection took over this device; the server closes this one. */
  | { t: "conflict" }
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
  /** Linked devices. */
  devices: number;
}

export interface SimFaults {
  /** Delay added before the server handles or sends any frame. */
  latencyMs: number;
  /** Probability (0..1) that the server drops a connection when a frame arrives (a flaky network). */
  dropRate: number;
}

// The one seam between the runtime and WhatsApp: every engine (simulator, wwebjs) implements
// SessionEngine and emits the same events in the same order.
import type { EventEmitter } from "node:events";
import type { AckLevel, MessageType } from "../whatsapp";
import type { Capability, CapabilityVerbs, GroupUpdate, IncomingCall } from "./capabilities";

export type { AckLevel } from "../whatsapp";
export type { Capability } from "./capabilities";

export interface EngineMe {
  /** `<phone>@c.us` */
  wid: string;
  phone: string;
  pushname?: string;
  platform?: string;
}

export interface EngineMedia {
  mimetype: string;
  /** base64 */
  data: string;
  filename?: string;
}

/**
 * A received message's media the engine could not hand over: too large to download, or the download
 * failed. The message still comes, with this in place of the bytes.
 */
export interface EngineMediaUnavailable {
  mimetype: string;
  filename?: string;
  /** bytes, as the message declares them */
  size: number;
  error: "MEDIA_TOO_LARGE" | "MEDIA_DOWNLOAD_FAILED";
}

export interface EngineLocation {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}

export interface EnginePoll {
  name: string;
  options: string[];
  /** More than one option may be chosen. */
  multiple: boolean;
}

export interface EngineMessage {
  id: string;
  from: string;
  to: string;
  body: string;
  /** Unix seconds */
  timestamp: number;
  fromMe: boolean;
  /** What kind of message (text when absent) */
  type?: MessageType;
  /** The chat it belongs to (the other party, or the group); absent: `from` for incoming, `to` for own */
  chatId?: string;
  /** A group message's sender (`from` is then the group) */
  author?: string;
  /** Its media; in history and lists without `data` (descriptor only) */
  media?: EngineMedia | Omit<EngineMedia, "data"> | EngineMediaUnavailable;
  /** The id of the message it quotes */
  replyTo?: string;
  /** Person ids it mentions */
  mentions?: string[];
  location?: EngineLocation;
  /** A shared contact card */
  vcard?: string;
  poll?: EnginePoll;
  /** Reactions, one per person */
  reactions?: Array<{ from: string; emoji: string }>;
  edited?: boolean;
  /** Revoked for everyone (the body is gone) */
  revoked?: boolean;
  /** An outgoing message's ack */
  ack?: AckLevel;
}

export interface MessageContent {
  text?: string;
  media?: EngineMedia;
  caption?: string;
  /** Send audio media as a voice note (push-to-talk). */
  voice?: boolean;
  /** Quote this message of the same chat. */
  replyTo?: string;
  /** Mention these people (their `@<phone>` is expected in the text). */
  mentions?: string[];
  /** Mention every member of the group it goes to; the sessions layer turns it into `mentions`. */
  mentionAll?: boolean;
  /** false: no link preview for a URL in the text. Default true. */
  linkPreview?: boolean;
  location?: EngineLocation;
  /** A contact card (vCard 3.0 text). */
  contact?: { vcard: string };
  poll?: EnginePoll;
}

export interface SendOptions {
  /** A client-chosen message id; engines that cannot choose ids ignore it. */
  messageId?: string;
}

export interface SentMessage {
  id: string;
  to: string;
  ack: AckLevel;
  /** Unix seconds */
  timestamp: number;
}

/**
 * Events (EventEmitter):
 *  - `qr` (qr: string, expiresAt: number)     a QR to scan; repeats on every rotation
 *  - `code` (code: string)                     a pairing code
 *  - `authenticated` ()                        credentials accepted (also on restore)
 *  - `ready` (me: EngineMe)                    connected and in sync
 *  - `message` (msg, receipt?)                 an incoming message (receipt: see MessageReceipt)
 *  - `message_ack` (id: string, ack: AckLevel) an outgoing message's ack changed
 *  - `message_sent` (msg)                      an own message sent from another device (the phone); capability sentEvents
 *  - `message_edited` (id, text, chatId)       a message was edited (by its sender)
 *  - `message_revoked` (id, chatId)            a message was revoked for everyone
 *  - `message_reaction` (id, from, emoji, chatId) a reaction set ("" removed)
 *  - `poll_vote` (id, voter, options, chatId)  a vote on a poll
 *  - `presence` (chatId, state, from)          a contact types, records or stops
 *  - `group_update` (update)                   a group the account is in changed; capability groups
 *  - `call` (call)                             someone calls the account; capability calls
 *  - `label` (chatId, labelId, on)             a label was put on a chat or taken off elsewhere; capability labels
 *  - `disconnected` (reason: string)           CONFLICT, LOGOUT, UNPAIRED, CONNECTION_LOST, ...
 *  - `failed` (error: Error)                   the engine gave up; it is stopped
 */
export interface SessionEngine extends EventEmitter, CapabilityVerbs {
  /** What this engine can do beyond the core (absent: nothing). */
  readonly capabilities?: ReadonlySet<Capability>;
  /** Resolves once the engine shows a QR or is authenticated; rejects if it cannot get there. */
  start(): Promise<void>;
  /** Stops the engine, keeping its auth data. Safe to call at any time, also during start(). */
  stop(): Promise<void>;
  /** Unlinks the device and deletes its auth data. Leaves the engine stopped. */
  logout(): Promise<void>;
  sendMessage(to: string, content: MessageContent, opts?: SendOptions): Promise<SentMessage>;
  requestPairingCode(phone: string): Promise<string>;
  info(): EngineMe | undefined;
  /**
   * Memory this session's engine uses, in bytes (wwebjs: PSS of its browser's process tree), for
   * the watchdog and metrics; undefined when the engine cannot tell (the simulator shares the
   * node's process).
   */
  memoryUsage?(): Promise<number | undefined>;
}

export interface EngineContext {
  workspaceId: string;
  sessionId: string;
  /** The session's `auth/` folder; the engine owns its content. */
  authDir: string;
  /**
   * Asked before every automatic reconnect: false while this node may not act for the session
   * (its cluster lease is in doubt). Engines must not reconnect then; the node stops them soon.
   */
  mayConnect?: () => boolean;
}

export type EngineFactory = ((ctx: EngineContext) => SessionEngine) & {
  /** The engine's name (simulator, wwebjs), shown on a session and in NOT_SUPPORTED errors. */
  engine?: string;
  /** The capabilities every engine of this factory declares. */
  capabilities?: ReadonlySet<Capability>;
  /**
   * Whether the credentials in `authDir` belong to a linked device, read from disk without
   * connecting. A logout of a session that is not connected only connects (to unlink) when this
   * says yes; absent, any content of the folder counts as linked.
   */
  linked?: (authDir: string) => Promise<boolean>;
};

export type EngineEvents = {
  qr: [qr: string, expiresAt: number];
  code: [code: string];
  authenticated: [];
  ready: [me: EngineMe];
  message: [msg: EngineMessage, receipt?: MessageReceipt];
  message_ack: [id: string, ack: AckLevel];
  message_sent: [msg: EngineMessage];
  message_edited: [id: string, text: string, chatId: string];
  message_revoked: [id: string, chatId: string];
  message_reaction: [id: string, from: string, emoji: string, chatId: string];
  poll_vote: [id: string, voter: string, options: string[], chatId: string];
  presence: [chatId: string, state: string, from: string];
  group_update: [update: GroupUpdate];
  call: [call: IncomingCall];
  label: [chatId: string, labelId: string, on: boolean];
  disconnected: [reason: string];
  failed: [error: Error];
};

/**
 * Passed with `message` by engines that can hold back their receipt to WhatsApp: a listener that
 * calls `defer()` takes over the acknowledgement and calls the returned function once the message
 * is durable (in the event log); if it never does, the network redelivers the message. Without a
 * `defer()` the engine acknowledges as soon as the listeners return.
 */
export interface MessageReceipt {
  defer(): () => void;
}

/** Reasons in `disconnected` that mean the device is no longer linked (auth is gone). */
export const UNLINKED_REASONS = new Set(["LOGOUT", "UNPAIRED"]);

/**
 * Reasons in `disconnected` that WhatsApp uses for an account it restricts or bans (WhatsApp Web's
 * TOS_BLOCK / SMB_TOS_BLOCK states; Baileys' 403 `forbidden`, mapped to TOS_BLOCK): the outbox's
 * guard pauses on them.
 */
export const RESTRICTION_REASONS = new Set(["TOS_BLOCK", "SMB_TOS_BLOCK"]);

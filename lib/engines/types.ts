// The one seam between the runtime and WhatsApp: every engine (simulator, wwebjs) implements
// SessionEngine and emits the same events in the same order.
import type { EventEmitter } from "node:events";
import type { AckLevel } from "../whatsapp";

export type { AckLevel } from "../whatsapp";

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

export interface EngineMessage {
  id: string;
  from: string;
  to: string;
  body: string;
  /** Unix seconds */
  timestamp: number;
  fromMe: boolean;
  media?: EngineMedia;
}

export interface MessageContent {
  text?: string;
  media?: EngineMedia;
  caption?: string;
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
 *  - `disconnected` (reason: string)           CONFLICT, LOGOUT, UNPAIRED, CONNECTION_LOST, ...
 *  - `failed` (error: Error)                   the engine gave up; it is stopped
 */
export interface SessionEngine extends EventEmitter {
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

// The baileys engine: a SessionEngine on the Baileys library (WhatsApp's multi-device protocol over
// one WebSocket, no browser), emitting the same events in the same order as the other engines
// (`qr`… or `authenticated` → `ready`). Its auth state lives in `auth/baileys/` (BaileysAuthStore).
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { parseId, parsePhone } from "../../whatsapp";
import { clearDir } from "../auth-folder";
import { EngineError } from "../errors";
import { StartGate } from "../start-gate";
import type { Capability, ChatSummary, EnginePage, GroupChange, GroupPicture, HistoryQuery, PageQuery, ParticipantAction, PresenceState } from "../capabilities";
import type { EngineContext, EngineEvents, EngineMe, EngineMessage, MessageContent, SendOptions, SentMessage, SessionEngine } from "../types";
import { BaileysAuthStore } from "./auth-store";
import { BaileysContacts } from "./contacts";
import { BaileysGroups } from "./groups";
import { OnDemandHistory } from "./history";
import { BaileysLabels } from "./labels";
import { BaileysStore } from "./store";
import { StoreFeed } from "./store-feed";
import { baileysLogger, loadBaileys } from "./library";
import { oneSignalLane } from "./signal-lane";
import type { BaileysLog } from "./library";
import { BAILEYS_MEDIA_MAX_BYTES, MediaAgents, describeMedia, downloadMedia, mediaContentOf, mediaPartOf } from "./media";

export interface BaileysEndpoint {
  /** The WebSocket URL Baileys connects to */
  url: string;
  /** The certificate root the server's Noise certificate must chain to (only set in simulation) */
  root?: Buffer;
  /** The media host's self-signed certificate (PEM), trusted for media only (only set in simulation) */
  mediaCa?: string;
}

export interface BaileysEngineOptions {
  /**
   * Where to connect, asked before every connection: WhatsApp itself in production; in simulation
   * the simulated network's fake server and its root (fetched each time: a restarted network has a new root).
   */
  endpoint: () => Promise<BaileysEndpoint>;
  /** start() rejects if no QR is shown and the session is not ready by then. Default 30000. */
  startTimeoutMs?: number;
  /** sendMessage() rejects if the server has not acknowledged by then. Default 15000. */
  sendTimeoutMs?: number;
  /** How long one QR is shown before Baileys asks for new refs. Default 60000. */
  qrTimeoutMs?: number;
  /** Received media larger than this is not downloaded (the message keeps its descriptor). Default 64 MiB. */
  mediaMaxBytes?: number;
  /** How long a history page waits for the phone's earlier messages (an on-demand history sync). Default: sendTimeoutMs. */
  historyTimeoutMs?: number;
  /** Backoff between reconnect attempts: base doubles per attempt up to max, with jitter. Defaults 500 / 10000. */
  reconnect?: { baseMs?: number; maxMs?: number };
  log?: BaileysLog;
}

type Phase = "stopped" | "connecting" | "linking" | "ready";

interface PendingSend {
  resolve(sent: SentMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  to: string;
  /** Not a message of the chat (a reaction, an edit): no message_ack event. */
  quiet?: boolean;
}

const ACK_RANK = { SERVER: 1, DEVICE: 2, READ: 3, PLAYED: 4 } as const;
const ACKS_KEPT = 10_000;

/** How long a just-linked device waits for its push name (app-state sync) before it is ready without it. */
const PUSHNAME_WAIT_MS = 5000;

/** How long stop() waits for the socket to close before moving on. */
const CLOSE_WAIT_MS = 2000;

/** What the baileys engine does beyond the core: each one tested by the capability suite. */
export const BAILEYS_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>(["chats", "history", "contacts", "labels", "read", "replies", "mentions", "location", "vcard", "polls", "reactions", "edit", "revoke", "presence", "sentEvents", "calls", "groups"]);

/**
 * Messages remembered per session (incoming and own), so a reply can quote them and a reaction or an
 * edit can name them; the oldest forgotten first. Each is its key and a small copy of its content
 * (about 200 bytes), so a thousand sessions keep at most about 100 MB of them.
 */
const RECENT_KEPT = 500;

/** Unread incoming messages remembered per chat, for markRead (the oldest forgotten first). */
const UNREAD_KEPT_PER_CHAT = 1000;

export class BaileysEngine extends EventEmitter<EngineEvents> implements SessionEngine {
  readonly capabilities = BAILEYS_CAPABILITIES;
  /** chat phone -> keys of its incoming messages not yet marked read */
  private readonly unread = new Map<string, any[]>();
  /** Recent messages by id: the chat's phone and Baileys' own message (what a reply quotes). */
  private readonly recent = new Map<string, { chat: string; msg: any }>();
  /** The connection that showed a pairing code (its QRs are void from then on). */
  private codeFor: unknown;
  /** A just-linked device's connection is open and waits for its push name before it is ready. */
  private nameWait: ((name: string) => void) | undefined;
  private nameTimer: NodeJS.Timeout | undefined;

  private stopNameWait(): void {
    clearTimeout(this.nameTimer);
    this.nameTimer = undefined;
    this.nameWait = undefined;
  }
  /** Own polls by id: their secret and options, to read the votes on them. */
  private readonly polls = new Map<string, { secret: Buffer; options: string[] }>();
  private readonly receiptAcks = new Map<string, () => void>();
  private readonly startTimeoutMs: number;
  private readonly sendTimeoutMs: number;
  private readonly qrTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private running = false;
  private phase: Phase = "stopped";
  private generation = 0;
  private sock: any;
  private store: BaileysAuthStore | undefined;
  /** Chats, their recent messages and contacts (lib/engines/baileys/store.ts), open while the engine runs */
  private history: BaileysStore | undefined;
  private readonly feed = new StoreFeed({
    store: () => this.history,
    mePhone: () => String(this.store?.creds?.me?.id ?? "").split(/[:@]/)[0],
    messageOf: (m, mePhone) => engineMessageOf(m, mePhone),
    log: (level, msg) => this.opts.log?.(level, msg),
    onChatLabel: (chatId, labelId, on) => this.emit("label", chatId, labelId, on),
  });
  /** History further back than the store holds, asked of the phone (lib/engines/baileys/history.ts) */
  private readonly onDemand: OnDemandHistory;
  private me: EngineMe | undefined;
  private readonly startGate = new StartGate();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;
  private readonly pendingSends = new Map<string, PendingSend>();
  /** The best ack emitted per recent own message (oldest forgotten first) */
  private readonly acks = new Map<string, number>();
  /** Incoming messages are emitted one at a time, in arrival order, even when media is downloaded. */
  private inbound: Promise<void> = Promise.resolve();
  /** Agents trusting the simulated media host (simulation only), per connection */
  private mediaAgents: MediaAgents | undefined;
  /** Groups and calls (lib/engines/baileys/groups.ts) */
  private readonly groups = new BaileysGroups({
    sock: () => this.readySock(),
    emitGroupUpdate: (u) => this.emit("group_update", u),
    emitCall: (c) => this.emit("call", c),
    ackChanged: (id, status) => this.ackChanged(id, status),
    notifications: () => {
      const store = this.store;
      return store && { heard: (key) => store.heardNotification(key), note: (key, keep) => store.noteNotification(key, keep) };
    },
    log: (level, msg) => this.opts.log?.(level, msg),
  });
  /** Contacts (lib/engines/baileys/contacts.ts): the store's, and what WhatsApp tells of them */
  private readonly contacts = new BaileysContacts({ sock: () => this.readySock(), store: () => this.readStore() });
  readonly listContacts = async (q: PageQuery) => this.contacts.listContacts(q);
  readonly getContact = async (contactId: string) => this.contacts.getContact(contactId);
  readonly checkPhones = async (phones: string[]) => this.contacts.checkPhones(phones);
  readonly setBlocked = async (contactId: string, blocked: boolean) => this.contacts.setBlocked(contactId, blocked);
  /** WhatsApp Business labels (lib/engines/baileys/labels.ts) */
  private readonly labels = new BaileysLabels({
    sock: () => this.readySock(),
    store: () => this.readStore(),
    mePhone: () => String(this.store?.creds?.me?.id ?? "").split(/[:@]/)[0],
    hasAppStateKey: () => Boolean(this.store?.creds?.myAppStateKeyId),
    timeoutMs: 15000,
  });
  readonly listLabels = async () => this.labels.listLabels();
  readonly getChatLabels = async (chatId: string) => this.labels.getChatLabels(chatId);
  readonly setChatLabel = async (chatId: string, labelId: string, on: boolean) => this.labels.setChatLabel(chatId, labelId, on);
  readonly rejectCall = (callId: string) => this.groups.rejectCall(callId);
  readonly createGroup = (subject: string, participants: string[]) => this.groups.createGroup(subject, participants);
  readonly listGroups = (q: PageQuery) => this.groups.listGroups(q);
  readonly getGroup = (groupId: string) => this.groups.getGroup(groupId);
  readonly updateGroup = (groupId: string, change: GroupChange) => this.groups.updateGroup(groupId, change);
  readonly leaveGroup = (groupId: string) => this.groups.leaveGroup(groupId);
  readonly changeParticipants = (groupId: string, action: ParticipantAction, participants: string[]) => this.groups.changeParticipants(groupId, action, participants);
  readonly getInviteCode = (groupId: string) => this.groups.getInviteCode(groupId);
  readonly revokeInviteCode = (groupId: string) => this.groups.revokeInviteCode(groupId);
  readonly joinGroup = (code: string) => this.groups.joinGroup(code);
  readonly setGroupPicture = (groupId: string, picture: GroupPicture | null) => this.groups.setGroupPicture(groupId, picture);
  readonly getGroupPicture = (groupId: string) => this.groups.getGroupPicture(groupId);

  constructor(
    private readonly ctx: EngineContext,
    private readonly opts: BaileysEngineOptions,
  ) {
    super();
    this.startTimeoutMs = opts.startTimeoutMs ?? 30000;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 15000;
    this.qrTimeoutMs = opts.qrTimeoutMs ?? 60000;
    this.backoffBaseMs = opts.reconnect?.baseMs ?? 500;
    this.backoffMaxMs = opts.reconnect?.maxMs ?? 10000;
    this.onDemand = new OnDemandHistory({
      sock: () => this.readySock(),
      timeoutMs: opts.historyTimeoutMs ?? this.sendTimeoutMs,
      messageOf: (m) => engineMessageOf(m, String(this.store?.creds?.me?.id ?? "").split(/[:@]/)[0]),
    });
  }

  start(): Promise<void> {
    if (this.running) return this.startGate.promise ?? Promise.resolve();
    this.running = true;
    this.phase = "connecting";
    this.reconnectAttempts = 0;
    const gen = ++this.generation;
    const promise = this.startGate.open(this.startTimeoutMs, () => this.fail(new EngineError("ENGINE_TIMEOUT", `WhatsApp showed no QR and the session was not ready within ${this.startTimeoutMs} ms`)));
    void this.boot(gen);
    return promise;
  }

  async stop(): Promise<void> {
    await this.shutdown(new EngineError("SESSION_NOT_READY", "The engine was stopped"));
  }

  async logout(): Promise<void> {
    const sock = this.sock;
    const linked = this.phase === "ready" && sock;
    if (linked) {
      // unlink on the server first (answered once it is done), then tear down
      const jid = this.store?.creds?.me?.id;
      try {
        await sock.query({ tag: "iq", attrs: { to: "s.whatsapp.net", type: "set", xmlns: "md" }, content: [{ tag: "remove-companion-device", attrs: { jid, reason: "user_initiated" } }] }, this.sendTimeoutMs);
      } catch (err) {
        this.opts.log?.("warn", `logout: the server did not confirm the unlink: ${(err as Error).message}`);
      }
    }
    await this.shutdown(new EngineError("SESSION_NOT_READY", "The session was logged out"));
    await clearDir(this.ctx.authDir);
  }

  async sendMessage(to: string, content: MessageContent, opts: SendOptions = {}): Promise<SentMessage> {
    const sock = this.sock;
    if (this.phase !== "ready" || !sock) throw new EngineError("SESSION_NOT_READY", "The session is not connected to WhatsApp");
    const target = parseId(to);
    if (target?.kind !== "user" && target?.kind !== "group") throw new EngineError("VALIDATION_ERROR", `Cannot send to ${JSON.stringify(to)}: expected a phone number, <digits>@c.us or a group <digits>@g.us`);
    if (content.voice && !content.media) throw new EngineError("VALIDATION_ERROR", "A voice note needs audio media");
    const payload = this.contentOf(content);
    let quoted: any;
    if (content.replyTo !== undefined) {
      const known = this.recent.get(content.replyTo) ?? this.recent.get(content.replyTo.split("_").pop()!);
      if (!known || known.chat !== chatKeyOf(target)) throw new EngineError("VALIDATION_ERROR", `Message ${content.replyTo} is not one of this chat's recent messages: it cannot be quoted`);
      quoted = known.msg;
    }
    const { generateMessageID } = loadBaileys();
    const id = opts.messageId ?? generateMessageID();
    if (this.pendingSends.has(id)) throw new EngineError("VALIDATION_ERROR", `Message ${id} is already being sent`);
    const isGroup = target.kind === "group";
    const recipient = isGroup ? target.serialized : `${target.user}@c.us`;
    // media is encrypted and uploaded first: the deadline grows by a second per MiB
    const timeoutMs = this.sendTimeoutMs + (content.media ? Math.ceil((content.media.data.length * 3) / 4 / (1024 * 1024)) * 1000 : 0);
    const acked = new Promise<SentMessage>((resolve, reject) => {
      const timer = setTimeout(() => this.settleSend(id, undefined, new EngineError("ENGINE_TIMEOUT", `WhatsApp did not acknowledge message ${id} within ${timeoutMs} ms`)), timeoutMs);
      this.pendingSends.set(id, { resolve, reject, timer, to: recipient });
    });
    // the connection may close while Baileys still encrypts: the rejection waits for our caller
    acked.catch(() => undefined);
    try {
      const sent = await sock.sendMessage(isGroup ? target.serialized : `${target.user}@s.whatsapp.net`, payload, { messageId: id, linkPreview: null, ...(quoted ? { quoted } : {}) });
      if (sent) {
        this.remember(id, chatKeyOf(target), sent);
        // in the history as soon as it is sent (Baileys' own upsert of it comes later, and is merged)
        const stored = engineMessageOf(sent, String(this.store?.creds?.me?.id ?? "").split(/[:@]/)[0]);
        if (stored) await this.history?.addMessages([stored]).catch((err: Error) => this.opts.log?.("error", `the store could not take message ${id}: ${err.message}`));
      }
      const secret = sent?.message?.messageContextInfo?.messageSecret;
      if (secret && content.poll) {
        // what decrypting the votes on it takes (Baileys 7.0.0-rc14 leaves that to its user)
        this.polls.set(id, { secret: Buffer.from(secret), options: content.poll.options });
        if (this.polls.size > RECENT_KEPT) this.polls.delete(this.polls.keys().next().value!);
      }
    } catch (err) {
      this.settleSend(id, undefined, new EngineError("ENGINE_ERROR", `Baileys could not send: ${(err as Error).message}`));
    }
    return acked;
  }

  /** The Baileys content of a message: text (with mentions), a location or a contact card. */
  private contentOf(content: MessageContent): Record<string, unknown> {
    const mentions = (content.mentions ?? []).map((m) => {
      const id = parseId(m);
      if (id?.kind !== "user") throw new EngineError("VALIDATION_ERROR", `Cannot mention ${JSON.stringify(m)}: expected a phone number or <digits>@c.us`);
      return `${id.user}@s.whatsapp.net`;
    });
    const withMentions = mentions.length ? { mentions } : {};
    if (content.media) return { ...mediaContentOf(content.media, content.caption ?? content.text, content.voice), ...withMentions };
    if (content.location) {
      const { latitude, longitude, name, address } = content.location;
      return { location: { degreesLatitude: latitude, degreesLongitude: longitude, ...(name ? { name } : {}), ...(address ? { address } : {}) }, ...withMentions };
    }
    if (content.poll) {
      const { name, options, multiple } = content.poll;
      return { poll: { name, values: options, selectableCount: multiple ? 0 : 1 }, ...withMentions };
    }
    if (content.contact) {
      const displayName = /^FN:(.*)$/m.exec(content.contact.vcard)?.[1]?.trim() ?? "";
      return { contacts: { displayName, contacts: [{ displayName, vcard: content.contact.vcard }] }, ...withMentions };
    }
    const text = content.text ?? content.caption;
    if (typeof text !== "string" || !text) throw new EngineError("VALIDATION_ERROR", "A text message needs text");
    return { text, ...withMentions };
  }

  private remember(id: string, chat: string, msg: any): void {
    this.recent.set(id, { chat, msg: { key: msg.key, message: quotable(msg.message) } });
    if (this.recent.size > RECENT_KEPT) this.recent.delete(this.recent.keys().next().value!);
  }

  /** Reacts to a message the engine saw ("" takes the reaction back); false for a message it does not know. */
  async react(messageId: string, emoji: string): Promise<boolean> {
    const known = this.recentMessage(messageId);
    if (!known) return false;
    await this.sendAcked(known.chat, { react: { text: emoji, key: known.msg.key } });
    return true;
  }

  /** Edits an own text message the engine sent; false for a message it does not know. */
  async editMessage(messageId: string, text: string): Promise<boolean> {
    const known = this.recentMessage(messageId);
    if (!known) return false;
    if (!known.msg.key?.fromMe) throw new EngineError("MESSAGE_NOT_EDITABLE", "Only own messages can be edited");
    await this.sendAcked(known.chat, { text, edit: known.msg.key });
    await this.history?.updateMessage(storeChatOf(known.chat), known.msg.key.id, (m) => {
      m.body = text;
      m.edited = true;
    });
    return true;
  }

  /** Shows the account typing, recording or neither in a chat; resolves once WhatsApp has it. */
  async sendPresence(chatId: string, state: PresenceState): Promise<void> {
    const sock = this.readySock();
    const target = parseId(chatId);
    if (target?.kind !== "user") throw new EngineError("VALIDATION_ERROR", `Cannot show presence in ${JSON.stringify(chatId)}: expected a phone number or <digits>@c.us`);
    await sock.sendPresenceUpdate(state === "typing" ? "composing" : state, `${target.user}@s.whatsapp.net`);
    // a chatstate has no answer: a round trip after it returns once the server handled both
    await sock.query({ tag: "iq", attrs: { to: "s.whatsapp.net", type: "get", xmlns: "w:p" }, content: [{ tag: "ping", attrs: {} }] }, this.sendTimeoutMs);
  }

  private readySock(): any {
    if (this.phase !== "ready" || !this.sock) throw new EngineError("SESSION_NOT_READY", "The session is not connected to WhatsApp");
    return this.sock;
  }

  private recentMessage(messageId: string): { chat: string; msg: any } | undefined {
    this.readySock();
    return this.recent.get(messageId) ?? this.recent.get(messageId.split("_").pop()!);
  }

  /** Sends a message stanza and waits for the server's ack (an error in it rejects). */
  private async sendAcked(chat: string, payload: Record<string, unknown>): Promise<void> {
    const sock = this.readySock();
    const { generateMessageID } = loadBaileys();
    const id = generateMessageID();
    const acked = new Promise<SentMessage>((resolve, reject) => {
      const timer = setTimeout(() => this.settleSend(id, undefined, new EngineError("ENGINE_TIMEOUT", `WhatsApp did not acknowledge ${id} within ${this.sendTimeoutMs} ms`)), this.sendTimeoutMs);
      this.pendingSends.set(id, { resolve, reject, timer, to: chat.endsWith("@g.us") ? chat : `${chat}@c.us`, quiet: true });
    });
    acked.catch(() => undefined);
    try {
      await sock.sendMessage(chat.endsWith("@g.us") ? chat : `${chat}@s.whatsapp.net`, payload, { messageId: id });
    } catch (err) {
      this.settleSend(id, undefined, new EngineError("ENGINE_ERROR", `Baileys could not send: ${(err as Error).message}`));
    }
    await acked;
  }

  /** Marks a chat's incoming messages read (read receipts); resolves once the server acknowledged them. */
  async markRead(chatId: string): Promise<boolean> {
    const sock = this.sock;
    if (this.phase !== "ready" || !sock) throw new EngineError("SESSION_NOT_READY", "The session is not connected to WhatsApp");
    const target = parseId(chatId);
    if (target?.kind !== "user" && target?.kind !== "group") throw new EngineError("VALIDATION_ERROR", `Cannot mark ${JSON.stringify(chatId)} read: expected a phone number, <digits>@c.us or a group <digits>@g.us`);
    const chat = chatKeyOf(target);
    const keys = this.unread.get(chat);
    if (!keys?.length) return this.unread.has(chat);
    const first = keys[0].id as string;
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.receiptAcks.delete(first);
        reject(new EngineError("ENGINE_TIMEOUT", `WhatsApp did not acknowledge the read receipt within ${this.sendTimeoutMs} ms`));
      }, this.sendTimeoutMs);
      this.receiptAcks.set(first, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await sock.readMessages(keys);
    await acked;
    this.unread.set(chat, []);
    await this.history?.updateChat(target.kind === "group" ? target.serialized : `${target.user}@c.us`, { unread: 0 });
    return true;
  }

  /**
   * Links by phone number: Baileys makes the code (WhatsApp's link-code flow, the server never sees
   * it) and the phone it is typed on proves it. From then on this connection shows no QR; when it
   * ends (the code expired with it), the next connection shows QRs again.
   */
  /**
   * Deletes a message the engine saw (false for one it does not know): for everyone with a REVOKE
   * protocolMessage (resolves on the server's ack), or for this account only with WhatsApp's
   * app-state patch (`deleteMessageForMe`), resolved once the server took it.
   */
  async deleteMessage(messageId: string, forEveryone: boolean): Promise<boolean> {
    const known = this.recentMessage(messageId);
    if (!known) return false;
    if (forEveryone) {
      if (!known.msg.key?.fromMe) throw new EngineError("VALIDATION_ERROR", "Only own messages can be deleted for everyone");
      await this.sendAcked(known.chat, { delete: known.msg.key });
      await this.history?.updateMessage(storeChatOf(known.chat), known.msg.key.id, (m) => {
        m.body = "";
        m.revoked = true;
        delete m.media;
      });
    } else {
      await this.deleteForMe(known.chat, known.msg.key);
    }
    this.recent.delete(known.msg.key.id);
    if (!forEveryone) await this.history?.removeMessage(storeChatOf(known.chat), known.msg.key.id);
    return true;
  }

  /** Deletes a message for this account only: WhatsApp's app-state patch, once the phone has shared its key. */
  private async deleteForMe(chat: string, key: any): Promise<void> {
    const sock = this.readySock();
    const deadline = Date.now() + this.sendTimeoutMs;
    // the phone shares its app-state key right after linking: a delete just after may wait for it
    while (!this.store?.creds?.myAppStateKeyId) {
      if (Date.now() > deadline) throw new EngineError("ENGINE_TIMEOUT", "WhatsApp has not shared the app-state key a delete for me needs");
      await new Promise((r) => setTimeout(r, 100));
      if (this.sock !== sock) throw new EngineError("SESSION_NOT_READY", "The connection to WhatsApp closed");
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EngineError("ENGINE_TIMEOUT", `WhatsApp did not take the delete within ${this.sendTimeoutMs} ms`)), this.sendTimeoutMs);
    });
    const jid = chat.endsWith("@g.us") ? chat : `${chat}@s.whatsapp.net`;
    const patch = sock.chatModify({ deleteForMe: { key, timestamp: Math.floor(Date.now() / 1000), deleteMedia: false } }, jid);
    patch.catch(() => undefined);
    try {
      await Promise.race([patch, expired]);
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError("ENGINE_ERROR", `WhatsApp refused the delete: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async requestPairingCode(phoneInput: string): Promise<string> {
    const sock = this.sock;
    if (this.phase !== "linking" || !sock) throw new EngineError("QR_NOT_AVAILABLE", "A pairing code can only be asked for while the session waits to be linked");
    const phone = parsePhone(phoneInput);
    if (!phone) throw new EngineError("VALIDATION_ERROR", `Not a phone number: ${JSON.stringify(phoneInput)}`);
    this.codeFor = sock;
    let code: string;
    try {
      code = await sock.requestPairingCode(phone);
    } catch (err) {
      if (this.codeFor === sock) this.codeFor = undefined;
      throw new EngineError("ENGINE_ERROR", `Baileys could not ask for a pairing code: ${(err as Error).message}`);
    }
    if (this.sock !== sock) throw new EngineError("QR_NOT_AVAILABLE", "The connection closed while the pairing code was asked for");
    this.emit("code", code);
    return code;
  }

  // --- chats and history, from the engine's own store ---

  async listChats(q: PageQuery): Promise<EnginePage<ChatSummary>> {
    return this.readStore().listChats(q);
  }

  async getChat(chatId: string): Promise<ChatSummary | undefined> {
    return this.readStore().getChat(chatId);
  }

  /** A page of a chat's messages: the store's, then the phone's earlier ones (an on-demand history sync) past the store's oldest. */
  async listMessages(chatId: string, q: HistoryQuery): Promise<EnginePage<EngineMessage> | undefined> {
    return this.onDemand.page(this.readStore(), chatId, q);
  }

  async getMessage(messageId: string): Promise<EngineMessage | undefined> {
    return this.readStore().getMessage(messageId);
  }

  /** The store, while the engine runs (it is closed once stopped: another node may own the session). */
  private readStore(): BaileysStore {
    if (!this.history) throw new EngineError("SESSION_NOT_READY", "The session is not running");
    return this.history;
  }

  info(): EngineMe | undefined {
    return this.me ? { ...this.me } : undefined;
  }

  // --- the connection ---

  private async boot(gen: number): Promise<void> {
    try {
      this.store ??= await BaileysAuthStore.open(this.ctx.authDir);
      this.history ??= await BaileysStore.open(this.ctx.authDir, { log: (level, msg) => this.opts.log?.(level, msg) });
      if (gen !== this.generation) return;
      await this.connect(gen);
    } catch (err) {
      if (gen === this.generation) this.fail(new EngineError("ENGINE_ERROR", `The baileys engine could not start: ${(err as Error).message}`));
    }
  }

  private async connect(gen: number): Promise<void> {
    const endpoint = await this.opts.endpoint();
    if (gen !== this.generation || !this.running) return;
    const b = loadBaileys();
    // Only the simulated network's root is ever set here, and only in simulation (see the factory).
    if (endpoint.root) b.WA_CERT_DETAILS.PUBLIC_KEY = endpoint.root;
    const store = this.store!;
    this.phase = store.linked ? "connecting" : "linking";
    this.mediaAgents?.close();
    this.mediaAgents = endpoint.mediaCa ? new MediaAgents(endpoint.mediaCa) : undefined;
    const sock = b.makeWASocket({
      ...(this.mediaAgents ? { fetchAgent: this.mediaAgents.fetchAgent } : {}),
      waWebSocketUrl: endpoint.url,
      version: b.DEFAULT_CONNECTION_CONFIG.version,
      auth: store.state(),
      // a send and a decryption must not interleave on one contact's session (signal-lane.ts)
      makeSignalRepository: oneSignalLane(b.DEFAULT_CONNECTION_CONFIG.makeSignalRepository),
      logger: baileysLogger(this.opts.log),
      printQRInTerminal: false,
      markOnlineOnConnect: false,
      syncFullHistory: false,
      // the phone's first history sync after linking (chats, their recent messages, push names) feeds
      // the store; RECENT/FULL are declined, so Baileys does not hold a first connection's events
      // for up to 20 s waiting for them (its AwaitingInitialSync asks about RECENT)
      // (ON_DEMAND, the phone's answer to the engine's own request for a chat's earlier messages, is read by history.ts)
      shouldSyncHistoryMessage: (n: { syncType?: number }) => n.syncType === b.proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP || n.syncType === b.proto.HistorySync.HistorySyncType.PUSH_NAME,
      fireInitQueries: false,
      generateHighQualityLinkPreview: false,
      linkPreviewImageThumbnailWidth: 0,
      qrTimeout: this.qrTimeoutMs,
      connectTimeoutMs: 20000,
    });
    this.sock = sock;
    sock.ev.on("creds.update", (update: { me?: { name?: string } }) => {
      if (this.sock !== sock) return;
      void store.saveCreds(update).catch((err: Error) => this.opts.log?.("error", `cannot save Baileys creds: ${err.message}`));
      // the push name arrives by app-state sync (the phone's setting), after the connection opened
      const name = update.me?.name;
      if (name && name !== "~") {
        if (this.me) this.me.pushname = name;
        this.nameWait?.(name);
      }
    });
    sock.ev.on("connection.update", (u: any) => {
      if (this.sock === sock) this.onConnectionUpdate(gen, sock, u);
    });
    sock.ev.on("messages.upsert", (u: any) => {
      if (this.sock === sock) this.onMessages(u);
    });
    this.groups.attach(sock, () => this.sock === sock);
    this.feed.attach(sock, () => this.sock === sock);
    this.onDemand.attach(sock, () => this.sock === sock);
    sock.ev.on("messages.update", (ups: any[]) => {
      if (this.sock !== sock) return;
      for (const u of ups) {
        const edited = u.update?.message?.editedMessage?.message;
        if (edited && !u.key?.fromMe) {
          const chat = personOf(u.key.remoteJid ?? "");
          this.emit("message_edited", u.key.id, edited.conversation || edited.extendedTextMessage?.text || "", chat);
        } else if (u.update?.messageStubType === loadBaileys().WAMessageStubType.REVOKE && u.update.message === null && !u.key?.fromMe) {
          // a contact deleted their message for everyone
          this.recent.delete(u.key.id);
          this.emit("message_revoked", u.key.id, personOf(u.key.remoteJidAlt?.endsWith("@s.whatsapp.net") ? u.key.remoteJidAlt : (u.key.remoteJid ?? "")));
        } else if (u.key?.fromMe) this.ackChanged(u.key.id, u.update?.status);
      }
    });
    sock.ev.on("messages.reaction", (rs: any[]) => {
      if (this.sock !== sock) return;
      for (const r of rs) {
        const by = r.reaction?.key;
        if (!by || by.fromMe || !r.key?.id) continue;
        const from = personOf(by.participant || by.remoteJid || "");
        this.emit("message_reaction", r.key.id, from, r.reaction.text ?? "", from);
      }
    });
    sock.ev.on("presence.update", (p: { id: string; presences: Record<string, { lastKnownPresence: string }> }) => {
      if (this.sock !== sock) return;
      for (const [who, { lastKnownPresence: k }] of Object.entries(p.presences ?? {})) {
        const state = k === "composing" ? "typing" : k === "recording" ? "recording" : k === "paused" || k === "available" ? "paused" : undefined;
        if (state) this.emit("presence", personOf(p.id), state, personOf(who));
      }
    });
    sock.ws.on("CB:ack,class:receipt", (node: any) => {
      const done = this.receiptAcks.get(node.attrs?.id);
      if (done && (node.attrs.type === "read" || node.attrs.type === "read-self")) {
        this.receiptAcks.delete(node.attrs.id);
        done();
      }
    });
    // the server's <ack> of a message is what SERVER means; Baileys emits no event for it
    sock.ws.on("CB:ack,class:message", (node: any) => {
      const id = node.attrs?.id;
      if (!id) return;
      if (node.attrs.error === "403" && String(node.attrs.from ?? "").endsWith("@g.us")) this.settleSend(id, undefined, new EngineError("GROUP_NOT_ADMIN", `WhatsApp refused message ${id}: only admins may send messages to this group`));
      else if (node.attrs.error) this.settleSend(id, undefined, new EngineError("ENGINE_ERROR", `WhatsApp refused message ${id} (error ${node.attrs.error}${node.attrs.reason ? `: ${node.attrs.reason}` : ""})`));
      else this.settleSend(id, Number(node.attrs.t) || Math.floor(Date.now() / 1000));
    });
  }

  private onConnectionUpdate(gen: number, sock: any, u: any): void {
    if (gen !== this.generation) return;
    // a connection that shows a pairing code shows no QR any more
    if (u.qr && this.codeFor !== sock) {
      this.phase = "linking";
      this.emit("qr", u.qr, Date.now() + this.qrTimeoutMs);
      this.startGate.settle();
    }
    if (u.connection === "open") {
      const creds = this.store!.creds;
      const phone = String(creds.me?.id ?? "").split(/[:@]/)[0];
      const store = this.store!;
      const announce = (pushname: string | undefined) => {
        this.stopNameWait();
        if (gen !== this.generation || this.sock !== sock) return;
        // ready (WORKING) promises that the link outlives this process: a node killed right after a
        // link must leave the linked creds on disk, or the survivor that restores the session shows a QR
        void store.credsWritten().then(() => {
          if (gen !== this.generation || this.sock !== sock) return;
          this.me = { wid: `${phone}@c.us`, phone, ...(pushname ? { pushname } : {}), ...(creds.platform ? { platform: creds.platform } : {}) };
          this.phase = "ready";
          this.reconnectAttempts = 0;
          this.emit("authenticated");
          this.emit("ready", { ...this.me });
          this.startGate.settle();
        });
      };
      // a device just linked learns its push name from the phone's app state, right after it opens:
      // ready waits for it a little, as WhatsApp Web's ready waits for its first sync
      const known = creds.me?.name && creds.me.name !== "~" ? String(creds.me.name) : undefined;
      if (known) announce(known);
      else {
        this.nameTimer = setTimeout(() => announce(undefined), PUSHNAME_WAIT_MS);
        this.nameWait = announce;
      }
    }
    if (u.connection === "close") this.onClose(gen, sock, u.lastDisconnect?.error);
  }

  private onClose(gen: number, sock: any, error: any): void {
    const { DisconnectReason } = loadBaileys();
    const code: number | undefined = error?.output?.statusCode;
    const wasReady = this.phase === "ready";
    this.stopNameWait();
    this.sock = undefined;
    this.me = undefined;
    // what Baileys said (e.g. "Connection was lost": its keepalive; "Connection Terminated": the
    // server's end), so a failed send says why the socket went
    const why = closeCause(error, code);
    this.failSends(new EngineError("SESSION_NOT_READY", `The connection to WhatsApp closed${why}`));
    this.onDemand.fail(new EngineError("SESSION_NOT_READY", `The connection to WhatsApp closed${why}`));
    if (!this.running || gen !== this.generation) return;
    this.opts.log?.(wasReady ? "warn" : "debug", `connection closed${why}`);
    void sock;
    if (code === DisconnectReason.connectionReplaced) {
      this.emit("disconnected", "CONFLICT");
      void this.shutdown(new EngineError("SESSION_NOT_READY", "Another connection took over this device"));
      return;
    }
    if (code === DisconnectReason.loggedOut) {
      // unlinked from the phone while connected, or the server no longer knows these credentials
      this.emit("disconnected", wasReady ? "LOGOUT" : "UNPAIRED");
      void this.relink(gen);
      return;
    }
    if (code === DisconnectReason.forbidden) {
      // WhatsApp banned or restricted the account (WhatsApp Web calls it TOS_BLOCK): reconnecting cannot help
      this.emit("disconnected", "TOS_BLOCK");
      this.fail(new EngineError("ENGINE_ERROR", "WhatsApp ended the session: TOS_BLOCK"));
      return;
    }
    if (code === DisconnectReason.restartRequired) return this.scheduleReconnect(gen, 0);
    if (wasReady) this.emit("disconnected", "CONNECTION_LOST");
    this.scheduleReconnect(gen);
  }

  /** The device is no longer linked: forget its auth and show a new QR. */
  private async relink(gen: number): Promise<void> {
    const old = this.store;
    const oldHistory = this.history;
    this.store = undefined;
    this.history = undefined;
    await Promise.all([old?.close(), oldHistory?.close()]);
    // stopped meanwhile (a move, a drain): the folder may be another node's by now; its engine will
    // find the device unlinked itself
    if (gen !== this.generation || !this.running) return;
    await clearDir(this.ctx.authDir);
    if (gen !== this.generation || !this.running) return;
    this.store = await BaileysAuthStore.open(this.ctx.authDir);
    this.history = await BaileysStore.open(this.ctx.authDir, { log: (level, msg) => this.opts.log?.(level, msg) });
    this.scheduleReconnect(gen, 0);
  }

  private scheduleReconnect(gen: number, delayMs?: number): void {
    if (gen !== this.generation || !this.running) return;
    this.phase = "connecting";
    const attempt = this.reconnectAttempts++;
    const wait = delayMs ?? Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (gen !== this.generation || !this.running) return;
      // the node's lease gate: a fenced node never reconnects a device another node may own now
      if (this.ctx.mayConnect && !this.ctx.mayConnect()) return this.scheduleReconnect(gen);
      void this.connect(gen).catch((err: Error) => {
        this.opts.log?.("warn", `reconnect failed: ${err.message}`);
        this.scheduleReconnect(gen);
      });
    }, wait);
  }

  /**
   * An own message's status moved on. Baileys reports it in `messages.update`, or folded into the
   * message's own upsert when a receipt arrives while its events are buffered: both come here, and
   * each level is emitted once, in order.
   */
  private ackChanged(id: string, status: number | undefined): void {
    const ack = ackOf(status);
    if (!ack || !id) return;
    const rank = ACK_RANK[ack];
    if ((this.acks.get(id) ?? ACK_RANK.SERVER) >= rank) return;
    for (const level of ["DEVICE", "READ", "PLAYED"] as const) {
      if (ACK_RANK[level] > (this.acks.get(id) ?? ACK_RANK.SERVER) && ACK_RANK[level] <= rank) this.emit("message_ack", id, level);
    }
    this.acks.set(id, rank);
    if (this.acks.size > ACKS_KEPT) this.acks.delete(this.acks.keys().next().value!);
  }

  private onMessages(u: { type: string; messages: any[] }): void {
    for (const m of u.messages) if (m.key?.fromMe && m.status !== undefined) this.ackChanged(m.key.id, m.status);
    if (u.type !== "notify") return;
    const mePhone = String(this.store?.creds?.me?.id ?? "").split(/[:@]/)[0];
    for (const m of u.messages) {
      if (!m.message) continue;
      const content = loadBaileys().normalizeMessageContent(m.message) ?? m.message;
      // reactions, edits and votes arrive as messages of their own: they are events, not messages
      if (content.pollUpdateMessage) {
        if (!m.key?.fromMe) this.onVote(m, content.pollUpdateMessage, mePhone);
        continue;
      }
      if (content.reactionMessage || content.protocolMessage) continue;
      if (m.key?.fromMe) {
        // an own message this engine did not send: typed on the phone (or another device)
        if (this.acks.has(m.key.id) || this.pendingSends.has(m.key.id)) continue;
        const to = personOf(m.key.remoteJidAlt?.endsWith("@s.whatsapp.net") ? m.key.remoteJidAlt : m.key.remoteJid ?? "");
        this.remember(m.key.id, to.endsWith("@g.us") ? to : to.split("@")[0], m);
        this.emit("message_sent", { id: m.key.id, from: `${mePhone}@c.us`, to, timestamp: Number(m.messageTimestamp) || Math.floor(Date.now() / 1000), fromMe: true, chatId: to, ...fieldsOf(m.message) });
        continue;
      }
      const jid: string = m.key.remoteJidAlt && m.key.remoteJidAlt.endsWith("@s.whatsapp.net") ? m.key.remoteJidAlt : m.key.remoteJid;
      const from = jid?.endsWith("@s.whatsapp.net") ? `${jid.split("@")[0].split(":")[0]}@c.us` : jid;
      // a group's post: from the group, by its author
      const author = from?.endsWith("@g.us") ? personOf(m.key.participantAlt?.endsWith("@s.whatsapp.net") ? m.key.participantAlt : (m.key.participant ?? "")) : undefined;
      const msg: EngineMessage = { id: m.key.id, from, to: `${mePhone}@c.us`, timestamp: Number(m.messageTimestamp) || Math.floor(Date.now() / 1000), fromMe: false, chatId: from, ...(author ? { author } : {}), ...fieldsOf(m.message) };
      const chatPhone = author ? from : from.split("@")[0];
      this.remember(m.key.id, chatPhone, m);
      const unread = this.unread.get(chatPhone) ?? [];
      unread.push(m.key);
      if (unread.length > UNREAD_KEPT_PER_CHAT) unread.shift();
      this.unread.set(chatPhone, unread);
      this.emitIncoming(msg, loadBaileys().normalizeMessageContent(m.message) ?? m.message);
    }
  }

  /** Emits an incoming message in arrival order, its media downloaded first (a failed download keeps the message, without bytes). */
  private emitIncoming(msg: EngineMessage, content: any): void {
    const media = mediaPartOf(content);
    if (!media) {
      this.inbound = this.inbound.then(() => void this.emit("message", msg));
      return;
    }
    const dispatcher = this.mediaAgents?.dispatcher;
    const maxBytes = this.opts.mediaMaxBytes ?? BAILEYS_MEDIA_MAX_BYTES;
    const timeoutMs = this.sendTimeoutMs + Math.ceil(Number(media.part.fileLength ?? 0) / (1024 * 1024)) * 1000;
    this.inbound = this.inbound.then(async () => {
      try {
        msg.media = await downloadMedia(media, { dispatcher, maxBytes, timeoutMs });
      } catch (err) {
        const code = (err as { code?: string }).code === "MEDIA_TOO_LARGE" ? "MEDIA_TOO_LARGE" : "MEDIA_DOWNLOAD_FAILED";
        this.opts.log?.("warn", `the media of message ${msg.id} was not downloaded (${code}): ${(err as Error).message}`);
        msg.media = { ...describeMedia(media), size: Number(media.part.fileLength ?? 0) || 0, error: code };
      }
      this.emit("message", msg);
    });
  }

  /** A contact's vote on an own poll: decrypted with the poll's secret, its option hashes named. */
  private onVote(m: any, update: any, mePhone: string): void {
    const pollId = update.pollCreationMessageKey?.id;
    const poll = pollId ? this.polls.get(pollId) : undefined;
    if (!poll || !update.vote) return;
    const { decryptPollVote } = loadBaileys();
    const voterJid = m.key.remoteJidAlt?.endsWith("@s.whatsapp.net") ? m.key.remoteJidAlt : m.key.remoteJid;
    const voterPhone = String(voterJid ?? "").split(/[:@]/)[0];
    try {
      const vote = decryptPollVote(update.vote, { pollCreatorJid: `${mePhone}@s.whatsapp.net`, pollMsgId: pollId, pollEncKey: poll.secret, voterJid: `${voterPhone}@s.whatsapp.net` });
      const byHash = new Map(poll.options.map((o) => [createHash("sha256").update(o).digest("hex"), o]));
      const options = (vote.selectedOptions ?? []).map((h: Uint8Array) => byHash.get(Buffer.from(h).toString("hex"))).filter((o: string | undefined): o is string => o !== undefined);
      this.emit("poll_vote", pollId, `${voterPhone}@c.us`, options, `${voterPhone}@c.us`);
    } catch (err) {
      this.opts.log?.("warn", `a vote on poll ${pollId} could not be read: ${(err as Error).message}`);
    }
  }

  private settleSend(id: string, timestamp: number | undefined, err?: Error): void {
    const p = this.pendingSends.get(id);
    if (!p) return;
    this.pendingSends.delete(id);
    clearTimeout(p.timer);
    if (err) return p.reject(err);
    p.resolve({ id, to: p.to, ack: "SERVER", timestamp: timestamp! });
    if (p.quiet) return;
    this.emit("message_ack", id, "SERVER");
    this.acks.set(id, Math.max(this.acks.get(id) ?? 0, ACK_RANK.SERVER));
  }

  private failSends(err: Error): void {
    for (const id of [...this.pendingSends.keys()]) this.settleSend(id, undefined, err);
  }

  private fail(err: Error): void {
    this.emit("failed", err);
    void this.shutdown(err);
  }

  /** Stops everything: no reconnect, the socket closed, the store closed (nothing written after). */
  private async shutdown(err: Error): Promise<void> {
    this.running = false;
    this.phase = "stopped";
    this.generation++;
    this.me = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopNameWait();
    this.startGate.reject(err);
    this.failSends(err);
    this.onDemand.fail(err);
    const sock = this.sock;
    this.sock = undefined;
    if (sock) {
      const ws = sock.ws;
      const closed = ws?.isClosed ? Promise.resolve() : new Promise<void>((resolve) => {
        const t = setTimeout(resolve, CLOSE_WAIT_MS);
        ws.once("close", () => {
          clearTimeout(t);
          resolve();
        });
      });
      try {
        sock.end(undefined);
      } catch {
        // already ended
      }
      await closed;
      sock.ev.removeAllListeners();
    }
    this.mediaAgents?.close();
    this.mediaAgents = undefined;
    const store = this.store;
    const history = this.history;
    this.store = undefined;
    this.history = undefined;
    // the writes Baileys asked for before the stop land (they are the device's: its creds, its keys),
    // unless the node lost its lease: then another node may own the session and its folder now
    const fenced = this.ctx.mayConnect !== undefined && !this.ctx.mayConnect();
    await Promise.all([store?.close(fenced ? "discard" : "flush"), history?.close()]);
  }
}

/** What a reply needs of a message it quotes: its text, place or card, nothing heavier. */
function quotable(message: any): Record<string, unknown> {
  const { normalizeMessageContent } = loadBaileys();
  const c = normalizeMessageContent(message) ?? message ?? {};
  if (c.extendedTextMessage) return { extendedTextMessage: { text: c.extendedTextMessage.text ?? "" } };
  if (c.locationMessage) {
    const { degreesLatitude, degreesLongitude, name, address } = c.locationMessage;
    return { locationMessage: { degreesLatitude, degreesLongitude, name, address } };
  }
  if (c.contactMessage) return { contactMessage: { displayName: c.contactMessage.displayName, vcard: c.contactMessage.vcard } };
  return { conversation: c.conversation ?? "" };
}

/** How the engine's memories name a chat: a person by their phone, a group by its id (`<digits>@g.us`). */
const chatKeyOf = (id: { kind: string; user: string; serialized: string }) => (id.kind === "group" ? id.serialized : id.user);

/** The store's chat id of a chat as the engine's memories name it (a phone, or a group id). */
const storeChatOf = (chat: string) => (chat.endsWith("@g.us") ? chat : `${chat}@c.us`);

/** `<phone>@s.whatsapp.net` -> `<phone>@c.us` (LIDs as they are). */
const personOf = (jid: string) => (jid.endsWith("@s.whatsapp.net") ? `${jid.split("@")[0].split(":")[0]}@c.us` : jid);

/**
 * A WhatsApp message (live, own, or from history sync) in the engine's terms, for the store; undefined
 * for what is no chat message (protocol messages, reactions, votes, stubs).
 */
function engineMessageOf(m: any, mePhone: string): EngineMessage | undefined {
  if (!m?.message || !m.key?.id) return undefined;
  const content = loadBaileys().normalizeMessageContent(m.message) ?? m.message;
  if (content.protocolMessage || content.reactionMessage || content.pollUpdateMessage || (content.senderKeyDistributionMessage && Object.keys(content).length === 1)) return undefined;
  const timestamp = Number(m.messageTimestamp) || Math.floor(Date.now() / 1000);
  const chat = personOf(m.key.remoteJidAlt?.endsWith("@s.whatsapp.net") ? m.key.remoteJidAlt : (m.key.remoteJid ?? ""));
  if (!chat || chat.endsWith("@broadcast") || chat === "status@broadcast") return undefined;
  const fields = fieldsOf(m.message);
  if (m.key.fromMe) return { id: m.key.id, from: `${mePhone}@c.us`, to: chat, timestamp, fromMe: true, chatId: chat, ...fields, ...(ackOf(m.status) ? { ack: ackOf(m.status) } : {}) };
  const author = chat.endsWith("@g.us") ? personOf(m.key.participantAlt?.endsWith("@s.whatsapp.net") ? m.key.participantAlt : (m.key.participant ?? "")) : undefined;
  return { id: m.key.id, from: chat, to: `${mePhone}@c.us`, timestamp, fromMe: false, chatId: chat, ...(author ? { author } : {}), ...fields };
}

/** What a received WhatsApp message says, in the engine's terms: body, type, reply, mentions, location, card. */
function fieldsOf(message: any): Partial<EngineMessage> & { body: string } {
  const { normalizeMessageContent } = loadBaileys();
  const m = normalizeMessageContent(message) ?? message;
  const media = mediaPartOf(m);
  const inner = m.extendedTextMessage ?? m.locationMessage ?? m.contactMessage ?? m.pollCreationMessage ?? m.pollCreationMessageV3 ?? media?.part;
  const ctx = inner?.contextInfo;
  const out: Partial<EngineMessage> & { body: string } = { body: m.conversation || m.extendedTextMessage?.text || media?.part.caption || "" };
  if (media) {
    out.type = media.messageType;
    out.media = describeMedia(media);
  }
  if (ctx?.stanzaId) out.replyTo = ctx.stanzaId;
  if (ctx?.mentionedJid?.length) out.mentions = (ctx.mentionedJid as string[]).map(personOf);
  if (m.locationMessage) {
    const l = m.locationMessage;
    out.type = "location";
    out.location = { latitude: l.degreesLatitude, longitude: l.degreesLongitude, ...(l.name ? { name: l.name } : {}), ...(l.address ? { address: l.address } : {}) };
  } else if (m.pollCreationMessage || m.pollCreationMessageV2 || m.pollCreationMessageV3) {
    const p = m.pollCreationMessage ?? m.pollCreationMessageV2 ?? m.pollCreationMessageV3;
    out.type = "poll";
    out.poll = { name: p.name ?? "", options: (p.options ?? []).map((o: any) => o.optionName ?? ""), multiple: (p.selectableOptionsCount ?? 0) !== 1 };
  } else if (m.contactMessage?.vcard) {
    out.type = "vcard";
    out.vcard = m.contactMessage.vcard;
  }
  return out;
}

function ackOf(status: number | undefined): "DEVICE" | "READ" | "PLAYED" | undefined {
  switch (status) {
    case 3:
      return "DEVICE";
    case 4:
      return "READ";
    case 5:
      return "PLAYED";
    default:
      return undefined;
  }
}

/** " (<Baileys's reason>, <status code>)" for a closed socket's error, or "" when it gave none. */
export function closeCause(error: unknown, code: number | undefined): string {
  const message = error instanceof Error ? error.message : undefined;
  const parts = [message, code !== undefined ? String(code) : undefined].filter((p): p is string => !!p);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

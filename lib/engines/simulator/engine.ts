// The simulator engine: a SessionEngine that is a client of the simulated WhatsApp network over one
// real WebSocket, emitting whatsapp-web.js's events in its order (`qr`… or `authenticated` → `ready`).
import { EventEmitter } from "node:events";
import { rm } from "node:fs/promises";
import path from "node:path";
import { WebSocket } from "ws";
import { ulid } from "../../ids";
// the simulated network's wire protocol: this engine is its client
import type { ClientFrame, ServerFrame, SimChat, SimContact, SimCredentials, SimHistoryMessage, SimIncomingMessage, SimMe, SimQuery, SimUpdate } from "../../simulator/protocol";
import type { MessageType } from "../../whatsapp";
import { parseId, parsePhone, userJid } from "../../whatsapp";
import type {
  Capability,
  ChatSummary,
  ContactInfo,
  EnginePage,
  GroupChange,
  GroupInfo,
  GroupPicture,
  GroupSettings,
  HistoryQuery,
  Label,
  PageQuery,
  ParticipantAction,
  ParticipantResult,
  PhoneCheck,
  PresenceState,
} from "../capabilities";
import { CAPABILITIES } from "../capabilities";
import { clearDir, writeFileAtomic } from "../auth-folder";
import { EngineError } from "../errors";
import { StartGate } from "../start-gate";
import type { EngineContext, EngineEvents, EngineMe, EngineMessage, MessageContent, SendOptions, SentMessage, SessionEngine } from "../types";
import { CREDS_FILE, isCreds, readCredsSync } from "./credentials";

export interface SimulatorEngineOptions {
  /** `http://host:port` of the simulated network; the engine connects to `<url>/ws`. */
  url: string;
  /** start() rejects if no QR is shown and the session is not ready by then. Default 30000. */
  startTimeoutMs?: number;
  /** sendMessage() (and requestPairingCode()) reject if the network has not acknowledged by then. Default 15000. */
  sendTimeoutMs?: number;
  /** Backoff between reconnect attempts: base doubles per attempt up to max, with jitter. Defaults 500 / 10000. */
  reconnect?: { baseMs?: number; maxMs?: number };
}

/** stopped: not running; connecting: (re)connecting or waiting to; linking: showing QRs; ready: authenticated and in sync. */
type Phase = "stopped" | "connecting" | "linking" | "ready";

interface PendingSend {
  frame: Extract<ClientFrame, { t: "send" }>;
  promise: Promise<SentMessage>;
  resolve(sent: SentMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** How long stop() and logout() wait for the socket to close before cutting it. */
const CLOSE_WAIT_MS = 2000;
/** Update ids remembered to recognise a redelivery (an ack lost with its connection). */
const HEARD_UPDATES_KEPT = 10000;

/** The simulator is the oracle: it declares every capability. */
export const SIMULATOR_CAPABILITIES: ReadonlySet<Capability> = new Set(CAPABILITIES);

export class SimulatorEngine extends EventEmitter<EngineEvents> implements SessionEngine {
  readonly capabilities = SIMULATOR_CAPABILITIES;
  private readonly wsUrl: string;
  private readonly credsPath: string;
  private readonly startTimeoutMs: number;
  private readonly sendTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;

  private running = false;
  private phase: Phase = "stopped";
  /** Bumped by every start and stop, so continuations of an older run do nothing. */
  private generation = 0;
  private ws: WebSocket | undefined;
  private lastSocketError: Error | undefined;
  /** The socket on which `authenticated` was emitted, so each authenticated connection emits it once. */
  private authenticatedOn: WebSocket | undefined;
  private openedSinceStart = false;
  private reconnectAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private creds: SimCredentials | undefined;
  private me: EngineMe | undefined;
  private readonly startGate = new StartGate();
  private codeWaiters: Waiter<string>[] = [];
  private readonly pendingSends = new Map<string, PendingSend>();
  private readonly queries = new Map<string, Waiter<unknown>>();
  private readonly heardUpdates = new Set<string>();
  private nextQid = 1;
  /** Frames and socket closes are handled one at a time, in arrival order, even when a handler awaits disk. */
  private inbound: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: EngineContext,
    opts: SimulatorEngineOptions,
  ) {
    super();
    const url = new URL(opts.url);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.pathname = `${url.pathname.replace(/\/$/, "")}/ws`;
    this.wsUrl = url.toString();
    this.credsPath = path.join(ctx.authDir, CREDS_FILE);
    this.startTimeoutMs = opts.startTimeoutMs ?? 30000;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 15000;
    this.backoffBaseMs = opts.reconnect?.baseMs ?? 500;
    this.backoffMaxMs = opts.reconnect?.maxMs ?? 10000;
  }

  start(): Promise<void> {
    if (this.running) return this.startGate.promise ?? Promise.resolve();
    this.running = true;
    this.phase = "connecting";
    this.openedSinceStart = false;
    this.reconnectAttempts = 0;
    this.lastSocketError = undefined;
    ++this.generation;
    const promise = this.startGate.open(this.startTimeoutMs, () => this.fail(new EngineError("ENGINE_TIMEOUT", `The simulated network showed no QR and the session was not ready within ${this.startTimeoutMs} ms`)));
    this.boot();
    return promise;
  }

  async stop(): Promise<void> {
    await this.closeSocket(this.shutdown(new EngineError("SESSION_NOT_READY", "The engine was stopped")));
  }

  async logout(): Promise<void> {
    const ws = this.ws;
    const linked = this.phase === "ready" && ws?.readyState === WebSocket.OPEN;
    // Detach first, so the network's LOGOUT reply and close are not taken for a remote unlink or a lost connection.
    this.shutdown(new EngineError("SESSION_NOT_READY", "The session was logged out"));
    if (linked && ws) {
      const closed = this.waitForClose(ws, CLOSE_WAIT_MS);
      ws.send(JSON.stringify({ t: "logout" } satisfies ClientFrame));
      await closed;
    } else {
      await this.closeSocket(ws);
    }
    this.creds = undefined;
    await clearDir(this.ctx.authDir);
  }

  sendMessage(to: string, content: MessageContent, opts: SendOptions = {}): Promise<SentMessage> {
    if (this.phase !== "ready") return Promise.reject(new EngineError("SESSION_NOT_READY", "The session is not connected to WhatsApp"));
    const target = parseId(to);
    if (target?.kind !== "user" && target?.kind !== "lid" && target?.kind !== "group") {
      return Promise.reject(new EngineError("VALIDATION_ERROR", `Cannot send to ${JSON.stringify(to)}: expected a phone number, <digits>@c.us, <digits>@lid or a group <digits>@g.us`));
    }
    const id = opts.messageId ?? `SIM${ulid()}`;
    const existing = this.pendingSends.get(id);
    if (existing) return existing.promise;

    const frame: PendingSend["frame"] = { t: "send", id, to: target.kind === "user" ? userJid(target.user) : target.serialized, body: content.text ?? content.caption ?? "" };
    if (content.media) frame.media = { ...content.media };
    if (content.voice) frame.voice = true;
    if (content.replyTo) frame.replyTo = content.replyTo;
    if (content.mentions?.length) frame.mentions = [...content.mentions];
    if (content.location) frame.location = { ...content.location };
    if (content.contact) frame.vcard = content.contact.vcard;
    if (content.poll) frame.poll = { ...content.poll, options: [...content.poll.options] };
    let pending!: PendingSend;
    const promise = new Promise<SentMessage>((resolve, reject) => {
      const timer = setTimeout(() => this.settleSend(id, new EngineError("ENGINE_TIMEOUT", `The network did not acknowledge message ${id} within ${this.sendTimeoutMs} ms`)), this.sendTimeoutMs);
      pending = { frame, promise: undefined as unknown as Promise<SentMessage>, resolve, reject, timer };
    });
    pending.promise = promise;
    this.pendingSends.set(id, pending);
    this.transmit(frame);
    return promise;
  }

  requestPairingCode(phoneInput: string): Promise<string> {
    if (this.phase !== "linking") return Promise.reject(new EngineError("QR_NOT_AVAILABLE", "A pairing code can only be asked for while the session waits to be linked"));
    const phone = parsePhone(phoneInput);
    if (!phone) return Promise.reject(new EngineError("VALIDATION_ERROR", `Not a phone number: ${JSON.stringify(phoneInput)}`));
    return new Promise<string>((resolve, reject) => {
      const waiter: Waiter<string> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.codeWaiters = this.codeWaiters.filter((w) => w !== waiter);
          reject(new EngineError("ENGINE_TIMEOUT", `No pairing code within ${this.sendTimeoutMs} ms`));
        }, this.sendTimeoutMs),
      };
      this.codeWaiters.push(waiter);
      this.transmit({ t: "pair_code", phone });
    });
  }

  info(): EngineMe | undefined {
    return this.me ? { ...this.me } : undefined;
  }

  // --- capabilities: queries the network answers about the account ---

  async listChats(q: PageQuery): Promise<EnginePage<ChatSummary>> {
    const r = await this.query<{ items: SimChat[]; next?: number }>({ op: "chats", limit: q.limit, before: positionOf(q.before) });
    return { items: r.items.map(chatOf), next: r.next === undefined ? undefined : String(r.next) };
  }

  async getChat(chatId: string): Promise<ChatSummary | undefined> {
    const r = await this.query<SimChat | null>({ op: "chat", chatId });
    return r ? chatOf(r) : undefined;
  }

  async listMessages(chatId: string, q: HistoryQuery): Promise<EnginePage<EngineMessage> | undefined> {
    const r = await this.query<{ items: SimHistoryMessage[]; next?: number } | null>({ op: "messages", chatId, limit: q.limit, before: positionOf(q.before), since: q.since, fromMe: q.fromMe });
    return r ? { items: r.items.map(messageOf), next: r.next === undefined ? undefined : String(r.next) } : undefined;
  }

  async getMessage(messageId: string): Promise<EngineMessage | undefined> {
    const r = await this.query<SimHistoryMessage | null>({ op: "message", id: messageId });
    return r ? messageOf(r) : undefined;
  }

  react(messageId: string, emoji: string): Promise<boolean> {
    return this.query<boolean>({ op: "react", id: messageId, emoji });
  }

  editMessage(messageId: string, text: string): Promise<boolean> {
    return this.query<boolean>({ op: "edit", id: messageId, body: text });
  }

  deleteMessage(messageId: string, forEveryone: boolean): Promise<boolean> {
    return this.query<boolean>({ op: "revoke", id: messageId, forEveryone });
  }

  markRead(chatId: string): Promise<boolean> {
    return this.query<boolean>({ op: "read", chatId });
  }

  async sendPresence(chatId: string, state: PresenceState): Promise<void> {
    await this.query<boolean>({ op: "presence", chatId, state });
  }

  async listContacts(q: PageQuery): Promise<EnginePage<ContactInfo>> {
    const r = await this.query<{ items: SimContact[]; next?: string }>({ op: "contacts", limit: q.limit, after: q.before });
    return { items: r.items.map(contactOf), next: r.next };
  }

  async getContact(contactId: string): Promise<ContactInfo | undefined> {
    const r = await this.query<SimContact | null>({ op: "contact", id: contactId });
    return r ? contactOf(r) : undefined;
  }

  checkPhones(phones: string[]): Promise<PhoneCheck[]> {
    return this.query<PhoneCheck[]>({ op: "check", phones });
  }

  setBlocked(contactId: string, blocked: boolean): Promise<boolean> {
    return this.query<boolean>({ op: "block", id: contactId, blocked });
  }

  // groups

  createGroup(subject: string, participants: string[]): Promise<{ group: GroupInfo; participants: ParticipantResult[] }> {
    return this.query<{ group: GroupInfo; participants: ParticipantResult[] }>({ op: "group_create", subject, participants });
  }

  async listGroups(q: PageQuery): Promise<EnginePage<GroupInfo>> {
    if (q.before !== undefined && !/^\d{1,24}@g\.us$/.test(q.before)) throw new EngineError("VALIDATION_ERROR", "Invalid cursor");
    const r = await this.query<{ items: GroupInfo[]; next?: string }>({ op: "groups", limit: q.limit, before: q.before });
    return { items: r.items, next: r.next };
  }

  async getGroup(groupId: string): Promise<GroupInfo | undefined> {
    return (await this.query<GroupInfo | null>({ op: "group", groupId })) ?? undefined;
  }

  async updateGroup(groupId: string, change: GroupChange): Promise<GroupInfo | undefined> {
    return (await this.query<GroupInfo | null>({ op: "group_update", groupId, ...change })) ?? undefined;
  }

  async leaveGroup(groupId: string): Promise<boolean> {
    return (await this.query<boolean | null>({ op: "group_leave", groupId })) === true;
  }

  async changeParticipants(groupId: string, action: ParticipantAction, participants: string[]): Promise<ParticipantResult[] | undefined> {
    return (await this.query<ParticipantResult[] | null>({ op: "group_participants", groupId, action, participants })) ?? undefined;
  }

  async getInviteCode(groupId: string): Promise<string | undefined> {
    return (await this.query<string | null>({ op: "group_invite", groupId })) ?? undefined;
  }

  async revokeInviteCode(groupId: string): Promise<string | undefined> {
    return (await this.query<string | null>({ op: "group_revoke_invite", groupId })) ?? undefined;
  }

  async joinGroup(code: string): Promise<string | undefined> {
    return (await this.query<GroupInfo | null>({ op: "group_join", code }))?.id;
  }

  async setGroupPicture(groupId: string, picture: GroupPicture | null): Promise<boolean> {
    return (await this.query<boolean | null>({ op: "group_picture_set", groupId, picture })) === true;
  }

  async getGroupPicture(groupId: string): Promise<GroupPicture | null | undefined> {
    // the network answers "no picture" and "not a member" alike (null): ask for the group first
    if (!(await this.getGroup(groupId))) return undefined;
    const p = await this.query<(GroupPicture & { sha256?: string }) | null>({ op: "group_picture", groupId });
    return p ? { mimetype: p.mimetype, data: p.data } : null;
  }

  // calls and labels

  rejectCall(callId: string): Promise<boolean> {
    return this.query<boolean>({ op: "call_reject", callId });
  }

  listLabels(): Promise<Label[]> {
    return this.query<Label[]>({ op: "labels" });
  }

  async getChatLabels(chatId: string): Promise<Label[] | undefined> {
    return (await this.query<Label[] | null>({ op: "chat_labels", chatId })) ?? undefined;
  }

  async setChatLabel(chatId: string, labelId: string, on: boolean): Promise<"ok" | "no_chat" | "no_label"> {
    return (await this.query<"ok" | "no_chat" | "no_label" | null>({ op: "chat_label", chatId, labelId, on })) ?? "no_chat";
  }

  private query<T>(q: SimQuery): Promise<T> {
    if (this.phase !== "ready") return Promise.reject(new EngineError("SESSION_NOT_READY", "The session is not connected to WhatsApp"));
    const qid = String(this.nextQid++);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.queries.delete(qid);
        reject(new EngineError("ENGINE_TIMEOUT", `The network did not answer within ${this.sendTimeoutMs} ms`));
      }, this.sendTimeoutMs);
      this.queries.set(qid, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.transmit({ t: "query", qid, ...q } as ClientFrame);
    });
  }

  private onResult(frame: Extract<ServerFrame, { t: "result" }>): void {
    const w = this.queries.get(frame.qid);
    if (!w) return;
    this.queries.delete(frame.qid);
    clearTimeout(w.timer);
    if (frame.error === "NOT_FOUND") w.resolve(null);
    else if (frame.error) w.reject(new EngineError(QUERY_ERRORS[frame.error] ?? "ENGINE_ERROR", `${frame.error}: ${frame.message ?? ""}`));
    else w.resolve(frame.data);
  }

  /**
   * What happened to the account's messages elsewhere. The network keeps each update (but a
   * contact's presence) until acknowledged, and sends it again after a reconnect if the ack was
   * lost: an update already heard is acknowledged again, not emitted twice.
   */
  private onUpdate(u: SimUpdate, uid: string | undefined): void {
    if (uid !== undefined) {
      const heard = this.heardUpdates.has(uid);
      this.heardUpdates.add(uid);
      if (this.heardUpdates.size > HEARD_UPDATES_KEPT) this.heardUpdates.delete(this.heardUpdates.values().next().value!);
      this.transmit({ t: "update_ack", uid });
      if (heard) return;
    }
    this.emitUpdate(u);
  }

  private emitUpdate(u: SimUpdate): void {
    switch (u.kind) {
      case "reaction":
        this.notify("message_reaction", u.id, u.from, u.emoji, u.chatId);
        return;
      case "edit":
        this.notify("message_edited", u.id, u.body, u.chatId);
        return;
      case "revoke":
        this.notify("message_revoked", u.id, u.chatId);
        return;
      case "vote":
        this.notify("poll_vote", u.id, u.voter, u.options, u.chatId);
        return;
      case "presence":
        this.notify("presence", u.chatId, u.state, u.from);
        return;
      case "sent":
        this.notify("message_sent", messageOf(u.message));
        return;
      case "group":
        this.notify("group_update", { groupId: u.groupId, change: u.change, by: u.by, ...(u.participants ? { participants: [...u.participants] } : {}), ...(u.value !== undefined ? { value: u.value as string | GroupSettings } : {}) });
        return;
      case "call":
        this.notify("call", { callId: u.callId, from: u.from, isVideo: u.isVideo, isGroup: u.isGroup, timestamp: u.timestamp });
        return;
      case "label":
        this.notify("label", u.chatId, u.labelId, u.on);
        return;
      case "label_defs":
        return; // the simulator engine asks the network for labels each time
    }
  }

  // --- connection ---

  /** Reads the stored credentials (none: the network shows QRs) and connects, within start(). */
  private boot(): void {
    try {
      this.creds = readCredsSync(this.credsPath);
      this.connect();
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private connect(): void {
    // the network never negotiates compression: offering it only built a header and an extension
    // object per connection (a failover opens hundreds at once)
    const ws = new WebSocket(this.wsUrl, { handshakeTimeout: Math.min(this.startTimeoutMs, 10000), perMessageDeflate: false });
    this.ws = ws;
    this.phase = "connecting";
    ws.on("open", () => {
      if (ws !== this.ws) return;
      this.openedSinceStart = true;
      this.transmit({ t: "hello", creds: this.creds, client: "wafleet-simulator-engine" });
    });
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return;
      }
      this.enqueue(() => this.onFrame(ws, frame));
    });
    ws.on("error", (err) => {
      this.lastSocketError = err; // 'close' follows and decides what to do
    });
    ws.on("close", () => this.enqueue(() => this.onClose(ws)));
  }

  private enqueue(task: () => void | Promise<void>): void {
    this.inbound = this.inbound.then(task).catch((err) => this.fail(err));
  }

  private transmit(frame: ClientFrame): void {
    const ws = this.ws;
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  private async onFrame(ws: WebSocket, frame: ServerFrame): Promise<void> {
    if (ws !== this.ws || !this.running) return;
    switch (frame.t) {
      case "qr":
        this.phase = "linking";
        this.reconnectAttempts = 0;
        this.notify("qr", frame.qr, frame.expiresAt);
        this.settleStart();
        return;
      case "code": {
        this.notify("code", frame.code);
        const waiters = this.codeWaiters.splice(0);
        for (const w of waiters) {
          clearTimeout(w.timer);
          w.resolve(frame.code);
        }
        return;
      }
      case "paired":
        return this.onPaired(ws, frame.creds);
      case "ready":
        return this.onReady(ws, frame.me);
      case "message":
        return this.onMessage(frame.message);
      case "ack":
        if (frame.ack === "ERROR") this.settleSend(frame.id, sendErrorOf(frame.error));
        else if (frame.ack !== "PENDING") this.settleSend(frame.id, undefined, { ack: frame.ack, timestamp: frame.timestamp });
        this.notify("message_ack", frame.id, frame.ack);
        return;
      case "logged_out":
        return this.onLoggedOut(ws, frame.reason);
      case "conflict": {
        // Another connection owns this device now: never fight over it, stop for good.
        const sock = this.shutdown(new EngineError("ENGINE_ERROR", "Another connection took over this WhatsApp device (conflict)"));
        this.notify("disconnected", "CONFLICT");
        void this.closeSocket(sock);
        return;
      }
      case "restricted": {
        // WhatsApp banned or restricted the account: reconnecting cannot help, as with WhatsApp Web's TOS_BLOCK
        const err = new EngineError("ENGINE_ERROR", `WhatsApp ended the session: ${frame.reason}`);
        const hadStart = this.startGate.pending;
        const sock = this.shutdown(err);
        this.notify("disconnected", frame.reason);
        if (!hadStart) this.notify("failed", err);
        void this.closeSocket(sock);
        return;
      }
      case "result":
        return this.onResult(frame);
      case "update":
        return this.onUpdate(frame.update, frame.uid);
      case "error":
        return; // the network closes the socket next; onClose reconnects
    }
  }

  private async onPaired(ws: WebSocket, creds: SimCredentials): Promise<void> {
    if (!isCreds(creds)) throw new Error("The network sent a paired frame without valid credentials");
    const gen = this.generation;
    await writeFileAtomic(this.credsPath, JSON.stringify(creds));
    this.creds = creds;
    if (gen !== this.generation || ws !== this.ws) return;
    this.authenticatedOn = ws;
    this.notify("authenticated");
  }

  private onReady(ws: WebSocket, me: SimMe): void {
    this.me = { wid: me.wid, phone: me.phone, pushname: me.pushname, platform: me.platform };
    this.phase = "ready";
    this.reconnectAttempts = 0;
    if (this.authenticatedOn !== ws) {
      this.authenticatedOn = ws;
      this.notify("authenticated");
    }
    if (!this.running || ws !== this.ws) return;
    this.notify("ready", { ...this.me });
    this.settleStart();
    // Sends still waiting for their SERVER ack went out on a connection that died: same frame, same id,
    // so the network drops it as a duplicate if the first one did arrive.
    for (const p of this.pendingSends.values()) this.transmit(p.frame);
  }

  private onMessage(m: SimIncomingMessage): void {
    const msg: EngineMessage = { id: m.id, from: m.from, to: m.to, body: m.body, timestamp: m.timestamp, fromMe: false, chatId: m.from, type: incomingTypeOf(m) };
    if (m.author) msg.author = m.author;
    if (m.media) msg.media = { ...m.media };
    copyFields(m, msg);
    // A listener that throws has not taken the message: no ack, so the network redelivers it. A
    // listener that defers acknowledges once the message is durable (the sessions runtime: once it
    // is in the event log), on the socket it came from.
    const ws = this.ws;
    let deferred = false;
    const receipt = {
      defer: () => {
        deferred = true;
        return () => {
          if (ws && ws === this.ws) this.transmit({ t: "recv_ack", id: m.id });
        };
      },
    };
    if (this.notify("message", msg, receipt) && !deferred) this.transmit({ t: "recv_ack", id: m.id });
  }

  private async onLoggedOut(ws: WebSocket, reason: "LOGOUT" | "UNPAIRED"): Promise<void> {
    const gen = this.generation;
    this.ws = undefined;
    this.phase = "connecting";
    this.me = undefined;
    this.creds = undefined;
    this.authenticatedOn = undefined;
    this.rejectInFlight(new EngineError("SESSION_NOT_READY", `The device was unlinked (${reason})`));
    void this.closeSocket(ws);
    await rm(this.credsPath, { force: true });
    if (gen !== this.generation) return;
    this.notify("disconnected", reason);
    // Like WhatsApp Web, which shows a fresh QR in the same browser after an unlink.
    if (gen === this.generation) this.connect();
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws || !this.running) return;
    this.ws = undefined;
    this.authenticatedOn = undefined;
    const was = this.phase;
    this.phase = "connecting";
    this.rejectCodeWaiters(new EngineError("SESSION_NOT_READY", "The connection to the network was lost"));
    this.rejectQueries(new EngineError("SESSION_NOT_READY", "The connection to the network was lost"));
    if (this.startGate.pending && !this.openedSinceStart) {
      const why = this.lastSocketError?.message ?? "connection closed";
      this.fail(new EngineError("ENGINE_ERROR", `Cannot connect to the simulated WhatsApp network at ${this.wsUrl}: ${why}`));
      return;
    }
    const gen = this.generation;
    if (was === "ready" || was === "linking") this.notify("disconnected", "CONNECTION_LOST");
    if (gen === this.generation) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(this.reconnectAttempts, 30));
    this.reconnectAttempts++;
    // Equal jitter: never hammer the network, and never all sessions of a node at the same instant.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.running || this.ws) return;
      // the node's lease gate: a fenced node never reconnects a device another node may now own
      if (this.ctx.mayConnect && !this.ctx.mayConnect()) this.scheduleReconnect();
      else this.connect();
    }, delay);
  }

  // --- lifecycle helpers ---

  /** Ends the run now: no reconnects, waiters rejected with `why`. Returns the socket for the caller to close. */
  private shutdown(why: Error): WebSocket | undefined {
    this.running = false;
    this.generation++;
    this.phase = "stopped";
    this.me = undefined;
    this.authenticatedOn = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.startGate.reject(why);
    this.rejectInFlight(why);
    const ws = this.ws;
    this.ws = undefined;
    return ws;
  }

  /** Gives up: start() rejects with `err` (if pending), `failed` is emitted, the engine is stopped. */
  private fail(err: Error): void {
    if (!this.running) return;
    const hadStart = this.startGate.pending;
    void this.closeSocket(this.shutdown(err));
    if (!hadStart) this.notify("failed", err);
  }

  private settleStart(): void {
    this.startGate.settle();
  }

  private settleSend(id: string, err: Error | undefined, ok?: { ack: SentMessage["ack"]; timestamp: number }): void {
    const p = this.pendingSends.get(id);
    if (!p) return;
    this.pendingSends.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve({ id, to: p.frame.to, ack: ok!.ack, timestamp: ok!.timestamp });
  }

  private rejectInFlight(why: Error): void {
    for (const id of [...this.pendingSends.keys()]) this.settleSend(id, why);
    this.rejectCodeWaiters(why);
    this.rejectQueries(why);
  }

  private rejectQueries(why: Error): void {
    for (const [qid, w] of [...this.queries]) {
      this.queries.delete(qid);
      clearTimeout(w.timer);
      w.reject(why);
    }
  }

  private rejectCodeWaiters(why: Error): void {
    for (const w of this.codeWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(why);
    }
  }

  private closeSocket(ws: WebSocket | undefined): Promise<void> {
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = this.waitForClose(ws, CLOSE_WAIT_MS);
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    return closed;
  }

  /** Resolves when `ws` has closed, cutting it after `ms` if the other side never completes the close. */
  private waitForClose(ws: WebSocket, ms: number): Promise<void> {
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, ms);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Emits without letting a listener's exception break the engine's state machine (it would land
   * in the frame chain). Returns false if a listener threw.
   */
  private notify<K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]): boolean {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
      return true;
    } catch {
      return false;
    }
  }
}

/** The network's refusals of a query, as the API shows them (anything else: ENGINE_ERROR). */
const QUERY_ERRORS: Record<string, EngineError["code"]> = {
  VALIDATION_ERROR: "VALIDATION_ERROR",
  NOT_ADMIN: "GROUP_NOT_ADMIN",
  GROUP_FULL: "GROUP_FULL",
  NOT_BUSINESS: "LABELS_NOT_AVAILABLE",
};

/** A page position from the API (the network's sequence number), or undefined when absent; garbage never reaches the network. */
function positionOf(before: string | undefined): number | undefined {
  if (before === undefined) return undefined;
  if (!/^\d{1,15}$/.test(before)) throw new EngineError("VALIDATION_ERROR", "Invalid cursor");
  return Number(before);
}

function copyFields(from: { replyTo?: string; mentions?: string[]; location?: EngineMessage["location"]; vcard?: string; poll?: EngineMessage["poll"] }, to: EngineMessage): void {
  if (from.replyTo) to.replyTo = from.replyTo;
  if (from.mentions?.length) to.mentions = [...from.mentions];
  if (from.location) to.location = { ...from.location };
  if (from.vcard) to.vcard = from.vcard;
  if (from.poll) to.poll = { ...from.poll, options: [...from.poll.options] };
}

function incomingTypeOf(m: SimIncomingMessage): MessageType {
  if (m.poll) return "poll";
  if (m.location) return "location";
  if (m.vcard) return "vcard";
  if (m.media) {
    const kind = /^image\//.test(m.media.mimetype) ? "image" : /^video\//.test(m.media.mimetype) ? "video" : /^audio\//.test(m.media.mimetype) ? "audio" : "document";
    return kind === "audio" && m.voice ? "voice" : kind;
  }
  return "text";
}

function messageOf(m: SimHistoryMessage): EngineMessage {
  const msg: EngineMessage = { id: m.id, from: m.from, to: m.to, body: m.body, timestamp: m.timestamp, fromMe: m.fromMe, chatId: m.chatId, type: m.type as MessageType };
  if (m.author) msg.author = m.author;
  if (m.media) msg.media = { ...m.media };
  copyFields(m, msg);
  if (m.reactions) msg.reactions = Object.entries(m.reactions).map(([phone, emoji]) => ({ from: userJid(phone), emoji }));
  if (m.edited) msg.edited = true;
  if (m.revoked) msg.revoked = true;
  if (m.ack) msg.ack = m.ack;
  return msg;
}

function chatOf(c: SimChat): ChatSummary {
  return { id: c.id, name: c.name, isGroup: c.id.endsWith("@g.us"), unreadCount: c.unreadCount, timestamp: c.timestamp, lastMessage: c.lastMessage ? messageOf(c.lastMessage) : null };
}

function contactOf(c: SimContact): ContactInfo {
  return { id: c.id, phone: c.phone, lid: `${c.lid}@lid`, name: c.name, pushname: c.pushname, isBusiness: c.isBusiness, about: c.about, pictureUrl: c.pictureUrl, blocked: c.blocked };
}

/** The network's refusal of a send, as the API should show it: bad content 400, a blocked contact 409. */
function sendErrorOf(error: string | undefined): EngineError {
  if (error?.startsWith("BAD_FIELDS") || error?.startsWith("BAD_RECIPIENT")) return new EngineError("VALIDATION_ERROR", error);
  if (error?.startsWith("BLOCKED")) return new EngineError("CONTACT_BLOCKED", error);
  if (error?.startsWith("NOT_ADMIN")) return new EngineError("GROUP_NOT_ADMIN", error);
  if (error?.startsWith("GROUP_NOT_FOUND")) return new EngineError("GROUP_NOT_FOUND", error);
  return new EngineError("ENGINE_ERROR", error ?? "The network rejected the message");
}

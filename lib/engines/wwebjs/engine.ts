// The wwebjs engine: whatsapp-web.js 1.34.7 on one system Chromium per session, with LocalAuth in
// the session's auth/ folder, plus what the library does not do: a deadline around initialize(),
// browser crash detection with bounded restarts, process-group kills (no orphans), stale profile
// locks released before launch, a fresh options object per client, and `takeoverOnConflict` off.
import { EventEmitter } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Call, Chat, Contact, GroupChat, GroupNotification, Message, PollVote, Reaction } from "whatsapp-web.js";
import { Client, LocalAuth } from "whatsapp-web.js";
import type { AckLevel } from "../../whatsapp";
import { ackLevelOf, parseId, parsePhone } from "../../whatsapp";
import { clearDir, exists, writeFileAtomic } from "../auth-folder";
import { EngineError } from "../errors";
import type { LaunchQueue } from "../launch-queue";
import { StartGate } from "../start-gate";
import type { Capability, ChatSummary, ContactInfo, EnginePage, GroupChange, GroupInfo, GroupPicture, GroupSettings, GroupUpdate, HistoryQuery, Label, PageQuery, ParticipantAction, ParticipantResult, ParticipantStatus, PhoneCheck, PresenceState } from "../capabilities";
import type { EngineContext, EngineEvents, EngineFactory, EngineMe, EngineMessage, MessageContent, SendOptions, SentMessage, SessionEngine } from "../types";
import type { LaunchedChromium } from "./chromium";
import { CLIENT_CHROME_ARGS, LEAN_CHROME_ARGS, type ChromeSandbox, isAlive, killChromiumUsing, killProcessGroup, launchChromium, releaseProfile, treePss, waitGone, withSandboxFlag } from "./chromium";
import { missedMessages, Watermarks } from "./catch-up";
import { type HistoryPosition, historyPage } from "./history";
import { watchChatStates } from "./presence";
import { type SendIntent, SendIntents } from "./send-intents";
import { engineMessageOf, sendArgsOf } from "./message-content";
import { pageWatchdogScript } from "./page-watchdog";

export type WebVersionCache = { type: "none" } | { type: "local"; path: string; strict?: boolean } | { type: "remote"; remotePath: string; strict?: boolean };

export interface WwebjsEngineOptions {
  /** The Chromium binary (CHROME_PATH). */
  chromePath: string;
  /** Chromium flags; default LEAN_CHROME_ARGS (CHROME_ARGS replaces them). `--no-sandbox` is added when running as root. */
  chromeArgs?: readonly string[];
  /** Flags added to `chromeArgs` whatever they are (e.g. what the fake page needs). */
  extraChromeArgs?: readonly string[];
  /** Chromium's own sandbox (CHROME_SANDBOX, default "auto": on unless running as root). */
  sandbox?: ChromeSandbox;
  headless?: boolean;
  /** start() fails with ENGINE_TIMEOUT if no QR is shown and the session is not ready by then. Default 60000. */
  startTimeoutMs?: number;
  /** sendMessage() and requestPairingCode() fail with ENGINE_TIMEOUT after this. Default 15000. */
  sendTimeoutMs?: number;
  /** How long a stop waits for Chromium to close by itself (flushing the profile) before SIGKILL. Default 5000. */
  closeTimeoutMs?: number;
  /** Restarts after a browser crash: at most `maxAttempts` in a row, backoff base doubling to max, with jitter. */
  restart?: { maxAttempts?: number; baseMs?: number; maxMs?: number; stableMs?: number };
  /** How long a QR is announced as valid (WhatsApp rotates refs every 20 s after the first). Default 20000. */
  qrLifetimeMs?: number;
  /** Relaunches after a crash go through this queue (the node's launch budget); first starts go through the session actor's. */
  relaunchQueue?: LaunchQueue;
  /** Pin a WhatsApp Web version (with a `local` or `remote` cache). */
  webVersion?: string;
  /** Default `{type: 'none'}`: the live page, no request interception. */
  webVersionCache?: WebVersionCache;
  /** A script evaluated in the page before WhatsApp Web's own (the fake page's configuration). */
  evalOnNewDoc?: string;
  /**
   * The page-side watchdog (lib/engines/page-watchdog.ts): the engine beats every `beatMs` while
   * its node may connect, and the page cuts WhatsApp Web off after `deadlineMs` without a beat.
   * Off when absent.
   */
  pageWatchdog?: { deadlineMs: number; beatMs: number; checkMs: number };
  log?: (level: "info" | "warn" | "error", msg: string) => void;
}

/** stopped; launching Chromium and the page; linking (QR/code shown); ready; reconnecting (WhatsApp's socket is down); restarting after a crash. */
type Phase = "stopped" | "launching" | "linking" | "ready" | "reconnecting" | "restarting";

/** One Chromium and one Client: a crash or an unlink ends the run; the engine may start another. */
interface Run {
  chromium?: LaunchedChromium;
  client?: Client;
  /** Set when we (or the library, on CONFLICT) end the browser: its exit is no crash. */
  expectedExit: boolean;
  authenticated: boolean;
  /** The page watchdog's heartbeat timer, whether a beat is on its way, and the CDP session it uses. */
  beat?: NodeJS.Timeout;
  beating?: boolean;
  cdp?: import("puppeteer").CDPSession;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Written on ready, removed on unlink: a QR while it exists means WhatsApp forgot this device (UNPAIRED). */
const LINKED_MARKER = "wafleet-linked.json";
/** whatsapp-web.js's state names after which it destroys the client itself. */
const UNLINKED_STATES = new Set(["UNPAIRED", "UNPAIRED_IDLE"]);
const RECONNECTING_STATES = new Set(["OPENING", "TIMEOUT", "PAIRING"]);
const EARLY_ACKS_KEPT = 1000;

/**
 * What this engine declares beyond the core: only capabilities implemented through
 * whatsapp-web.js's own methods AND proven by the contract suite against the fake WhatsApp Web
 * page (each one needs the WA modules those methods use on the page).
 */
export const WWEBJS_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>(["chats", "history", "contacts", "replies", "mentions", "reactions", "edit", "revoke", "location", "vcard", "polls", "presence", "read", "sentEvents", "groups", "calls", "labels"]);

/** Calls heard of and not yet rejected, kept to reject by id (a bounded memory: old ones go first). */
const RINGING_MAX = 100;

export class WwebjsEngine extends EventEmitter<EngineEvents> implements SessionEngine {
  readonly capabilities = WWEBJS_CAPABILITIES;
  private readonly opts: Required<Omit<WwebjsEngineOptions, "webVersion" | "evalOnNewDoc" | "log" | "restart" | "chromeArgs" | "extraChromeArgs" | "relaunchQueue" | "pageWatchdog" | "sandbox">> & WwebjsEngineOptions;
  private readonly restartPolicy: { maxAttempts: number; baseMs: number; maxMs: number; stableMs: number };
  private readonly profileDir: string;
  private readonly markerPath: string;
  private readonly chromeArgs: readonly string[];

  private running = false;
  private phase: Phase = "stopped";
  /** Bumped by every start and stop, so continuations of an older run do nothing. */
  private generation = 0;
  private run: Run | undefined;
  /** The launch step in flight (profile release + Chromium start); stop() waits for it. */
  private launchStep: Promise<unknown> | undefined;
  private readonly startGate = new StartGate();
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private readyAt = 0;
  private linkedBefore = false;
  private me: EngineMe | undefined;
  private readonly ackWaiters = new Map<string, Waiter<AckLevel>>();
  private readonly earlyAcks = new Map<string, AckLevel>();
  /** Per-chat watermarks of durable incoming messages (catch-up after a crash in the ack gap). */
  private readonly watermarks: Watermarks;
  /** Incoming messages this engine already emitted in its life (a catch-up and a live delivery may meet). */
  private readonly emitted = new Set<string>();
  private historyChain: Promise<unknown> = Promise.resolve();
  /** Sends under an Idempotency-Key: what was attempted, and what it sent. */
  private readonly intents: SendIntents;
  /** Ids of messages this engine sent (the others with fromMe came from the phone or another device). */
  private readonly ownSends = new Set<string>();
  private sendsInFlight = 0;
  private afterSends: Array<() => void> = [];
  /** Incoming messages are emitted one at a time, in arrival order, even when media is downloaded. */
  private inbound: Promise<void> = Promise.resolve();
  /** Label changes this engine made itself (`chatId|labelId|on`): not announced as `label` events. */
  private readonly ownLabelChanges = new Set<string>();
  /** Calls the library announced (its Call objects, which reject themselves), by id. */
  private readonly ringing = new Map<string, Call>();
  /** Group notifications are announced one at a time, in arrival order. */
  private groupEvents: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: EngineContext,
    opts: WwebjsEngineOptions,
  ) {
    super();
    this.opts = {
      headless: true,
      startTimeoutMs: 60000,
      sendTimeoutMs: 15000,
      closeTimeoutMs: 5000,
      qrLifetimeMs: 20000,
      webVersionCache: { type: "none" },
      ...opts,
    };
    this.restartPolicy = { maxAttempts: 5, baseMs: 1000, maxMs: 30000, stableMs: 60000, ...opts.restart };
    this.chromeArgs = [...(opts.chromeArgs ?? LEAN_CHROME_ARGS), ...(opts.extraChromeArgs ?? [])];
    // LocalAuth keeps the whole Chromium profile at <dataPath>/session-<clientId>
    this.profileDir = path.join(ctx.authDir, `session-${ctx.sessionId}`);
    this.markerPath = path.join(ctx.authDir, LINKED_MARKER);
    this.watermarks = new Watermarks(ctx.authDir, (m) => this.log("warn", m));
    this.intents = new SendIntents(ctx.authDir);
  }

  start(): Promise<void> {
    if (this.running) return this.startGate.promise ?? Promise.resolve();
    this.running = true;
    this.restarts = 0;
    const gen = ++this.generation;
    // whatsapp-web.js waits for the page with no timeout at all: this is the deadline it lacks
    const promise = this.startGate.open(this.opts.startTimeoutMs, () =>
      this.fail(new EngineError("ENGINE_TIMEOUT", `WhatsApp Web showed no QR and the session was not ready within ${this.opts.startTimeoutMs} ms (initialize deadline)`)),
    );
    void this.launch(gen);
    return promise;
  }

  async stop(): Promise<void> {
    const run = this.shutdown(new EngineError("SESSION_NOT_READY", "The engine was stopped"));
    await this.launchStep?.catch(() => undefined);
    await this.disposeRun(run);
    await this.watermarks.flush();
  }

  async logout(): Promise<void> {
    const run = this.run;
    const linked = this.phase === "ready" && run?.client?.pupPage;
    this.shutdown(new EngineError("SESSION_NOT_READY", "The session was logged out"));
    await this.launchStep?.catch(() => undefined);
    if (linked && run?.client?.pupPage) {
      // unlink on WhatsApp's side first (Socket.logout, as client.logout() does), then the browser
      // goes, and only then auth/ is deleted: nothing writes into a folder being removed
      await withTimeout(
        run.client.pupPage.evaluate(() => (globalThis as any).window.require("WAWebSocketModel").Socket.logout()),
        this.opts.closeTimeoutMs,
        "logout",
      ).catch((err) => this.log("warn", `logout on WhatsApp's side failed: ${err?.message ?? err}`));
    }
    await this.disposeRun(run);
    this.linkedBefore = false;
    this.watermarks.reset();
    await this.watermarks.flush();
    await clearDir(this.ctx.authDir);
  }

  async sendMessage(to: string, content: MessageContent, opts: SendOptions = {}): Promise<SentMessage> {
    const client = this.run?.client;
    if (this.phase !== "ready" || !client) throw new EngineError("SESSION_NOT_READY", "The session is not connected to WhatsApp");
    const target = parseId(to);
    if (target?.kind !== "user" && target?.kind !== "group") throw new EngineError("VALIDATION_ERROR", `Cannot send to ${JSON.stringify(to)}: expected a phone number, <digits>@c.us or a group <digits>@g.us`);
    const chatId = target.serialized;
    if (target.kind === "group") {
      // as WhatsApp Web's composer: only a member writes, and only an admin in an announcement group
      const group = await this.memberGroup(chatId);
      if (!group) throw new EngineError("GROUP_NOT_FOUND", `The account is not a member of ${chatId}`);
      if (metadataOf(group).announce && !this.isGroupAdmin(group)) throw new EngineError("GROUP_NOT_ADMIN", `Only admins may send messages to ${chatId}`);
    }
    if (content.replyTo !== undefined) {
      // a reply quotes a message of the same chat (the library would quote any message it finds)
      const quoted = await this.findMessage(content.replyTo);
      if (quoted?.id.remote !== chatId) throw new EngineError("VALIDATION_ERROR", `replyTo: no message ${content.replyTo} in this chat`);
    }
    // under an Idempotency-Key: a retry after an ambiguous failure finds its intent (send-intents.ts)
    const key = opts.messageId;
    if (key) {
      const intent = await this.intents.read(key);
      const earlier = intent && intent.to === chatId ? await this.sentFor(intent) : undefined;
      if (earlier) {
        const id = earlier.id._serialized;
        if (!intent!.sentId) await this.intents.write({ ...intent!, sentId: id });
        this.rememberOwnSend(id);
        this.log("info", `send under key ${key}: already sent as ${id}; not sending again`);
        return { id, to: chatId, ack: await this.waitForServerAck(id, earlier.ack), timestamp: earlier.timestamp };
      }
      await this.intents.write({ key, to: chatId, body: content.text ?? content.caption ?? "", at: Math.floor(Date.now() / 1000) });
    }
    const { payload, options } = sendArgsOf(content);
    let sent: Message | undefined;
    try {
      this.sendsInFlight++;
      sent = await withTimeout(client.sendMessage(chatId, payload, options), this.opts.sendTimeoutMs, "sendMessage");
      if (sent) this.rememberOwnSend(sent.id._serialized);
    } catch (err: any) {
      if (err instanceof EngineError) throw err;
      if (/quoted message/i.test(String(err?.message ?? err))) throw new EngineError("VALIDATION_ERROR", `replyTo: no message ${content.replyTo} in this chat`);
      throw new EngineError("ENGINE_ERROR", `whatsapp-web.js could not send: ${err?.message ?? err}`);
    } finally {
      this.sendsInFlight--;
      if (this.sendsInFlight === 0) for (const f of this.afterSends.splice(0)) f();
    }
    if (!sent) throw new EngineError("ENGINE_ERROR", `WhatsApp found no chat for ${chatId}`);
    const id = sent.id._serialized;
    if (key) {
      const intent = await this.intents.read(key);
      if (intent) await this.intents.write({ ...intent, sentId: id }).catch((err) => this.log("warn", `send intent ${key} not updated: ${err?.message ?? err}`));
    }
    // resolves on the SERVER ack, as the simulator engine does (the library resolves at ack 0)
    const ack = await this.waitForServerAck(id, sent.ack);
    return { id, to: chatId, ack, timestamp: sent.timestamp };
  }

  requestPairingCode(phoneInput: string): Promise<string> {
    const client = this.run?.client;
    if (this.phase !== "linking" || !client) return Promise.reject(new EngineError("QR_NOT_AVAILABLE", "A pairing code can only be asked for while the session waits to be linked"));
    const phone = parsePhone(phoneInput);
    if (!phone) return Promise.reject(new EngineError("VALIDATION_ERROR", `Not a phone number: ${JSON.stringify(phoneInput)}`));
    return withTimeout(client.requestPairingCode(phone, true), this.opts.sendTimeoutMs, "requestPairingCode");
  }

  // --- capabilities, each through whatsapp-web.js's own methods ---

  async listChats(q: PageQuery): Promise<EnginePage<ChatSummary>> {
    const client = this.readyClient();
    // WhatsApp Web keeps its chat list in recency order; within a second that order decides (a stable sort keeps it)
    const chats = (await this.library("getChats", () => client.getChats())).map(chatSummaryOf).filter(isStarted).sort((a, b) => b.timestamp - a.timestamp);
    return pageAfterItem(chats, q, (c) => c.id);
  }

  async getChat(chatId: string): Promise<ChatSummary | undefined> {
    const chat = await this.findChat(chatId);
    return chat ? chatSummaryOf(chat) : undefined;
  }

  async listMessages(chatId: string, q: HistoryQuery): Promise<EnginePage<EngineMessage> | undefined> {
    const client = this.readyClient();
    // within a second the chat's own order decides, so the position is the message itself (and
    // its second, should it be deleted meanwhile)
    let before: HistoryPosition | undefined;
    if (q.before !== undefined) {
      const m = /^(\d{1,12})\|(\S{1,300})$/.exec(q.before);
      if (!m) throw new EngineError("VALIDATION_ERROR", "Invalid cursor");
      before = { t: Number(m[1]), id: m[2] };
    }
    const chat = await this.findChat(chatId);
    if (!chat) return undefined;
    // a page at a time from WhatsApp Web's store: only what this page needs is loaded
    const page = await this.historyReads(() => this.library("fetchMessages", () => historyPage(client, chat.id._serialized, { limit: q.limit, before, since: q.since, fromMe: q.fromMe })));
    if (!page) return undefined;
    const items = page.items.map(engineMessageOf);
    const last = items[items.length - 1];
    return { items, next: page.more && last ? `${last.timestamp}|${last.id}` : undefined };
  }

  async listContacts(q: PageQuery): Promise<EnginePage<ContactInfo>> {
    const client = this.readyClient();
    const me = this.me?.wid;
    const all = (await this.library("getContacts", () => client.getContacts()))
      .filter((c) => c.id.server === "c.us" && c.id._serialized !== me)
      .sort((a, b) => (a.id.user < b.id.user ? -1 : a.id.user > b.id.user ? 1 : 0));
    const rest = q.before === undefined ? all : all.filter((c) => c.id.user > q.before!);
    const page = rest.slice(0, q.limit);
    const items: ContactInfo[] = [];
    // each read again: WhatsApp Web's list may hold a contact it knows only by id
    for (const c of page) items.push(await this.contactInfoOf(await this.library("getContactById", () => client.getContactById(c.id._serialized))));
    return { items, next: rest.length > q.limit ? page[page.length - 1].id.user : undefined };
  }

  async getContact(contactId: string): Promise<ContactInfo | undefined> {
    const phoneId = await this.phoneIdOf(contactId);
    if (!phoneId) return undefined;
    const client = this.readyClient();
    return this.contactInfoOf(await this.library("getContactById", () => client.getContactById(phoneId)));
  }

  async checkPhones(phones: string[]): Promise<PhoneCheck[]> {
    const client = this.readyClient();
    const out: PhoneCheck[] = [];
    for (const phone of phones) {
      const wid = await this.library("getNumberId", () => client.getNumberId(phone));
      if (!wid) {
        out.push({ phone, exists: false, id: null, lid: null });
        continue;
      }
      const [ids] = await this.library("getContactLidAndPhone", () => client.getContactLidAndPhone([wid._serialized]));
      out.push({ phone, exists: true, id: wid._serialized, lid: ids?.lid ?? null });
    }
    return out;
  }

  async setBlocked(contactId: string, blocked: boolean): Promise<boolean> {
    const phoneId = await this.phoneIdOf(contactId);
    if (!phoneId) return false;
    const client = this.readyClient();
    const contact = await this.library("getContactById", () => client.getContactById(phoneId));
    await this.library(blocked ? "block" : "unblock", () => (blocked ? contact.block() : contact.unblock()));
    return true;
  }

  /** `<phone>@c.us` of a person on WhatsApp (given by phone or LID), or undefined. */
  private async phoneIdOf(contactId: string): Promise<string | undefined> {
    const client = this.readyClient();
    if (contactId.endsWith("@lid")) {
      const [ids] = await this.library("getContactLidAndPhone", () => client.getContactLidAndPhone([contactId]));
      return ids?.pn ?? undefined;
    }
    const wid = await this.library("getNumberId", () => client.getNumberId(contactId.replace(/@c\.us$/, "")));
    return wid?._serialized;
  }

  private async contactInfoOf(c: Contact): Promise<ContactInfo> {
    const client = this.readyClient();
    const [ids] = await this.library("getContactLidAndPhone", () => client.getContactLidAndPhone([c.id._serialized]));
    const about = await this.library("getAbout", () => c.getAbout());
    const pictureUrl = await this.library("getProfilePicUrl", () => c.getProfilePicUrl());
    return {
      id: c.id._serialized,
      phone: c.number || c.id.user,
      lid: ids?.lid ?? null,
      name: c.name ?? null,
      pushname: c.pushname ?? null,
      isBusiness: c.isBusiness === true,
      about: about ?? null,
      pictureUrl: pictureUrl ?? null,
      blocked: c.isBlocked === true,
    };
  }

  /**
   * The message an earlier attempt under the same key sent, if any: by the id it recorded, else
   * among the chat's recent own messages (same text, sent since the intent began) that this engine
   * did not send for another request.
   */
  private async sentFor(intent: SendIntent): Promise<Message | undefined> {
    if (intent.sentId) return this.findMessage(intent.sentId);
    const chat = await this.findChat(intent.to);
    if (!chat) return undefined;
    const recent = await this.historyReads(() => this.library("fetchMessages", () => chat.fetchMessages({ limit: 50, fromMe: true })));
    return recent.filter((m) => m.timestamp >= intent.at - 1 && (m.body ?? "") === intent.body && !this.ownSends.has(m.id._serialized)).sort((a, b) => a.timestamp - b.timestamp)[0];
  }

  /**
   * History reads one at a time: `fetchMessages` returns what its own loads brought in, so two
   * running together (a catch-up and a listing) would each miss what the other loaded.
   */
  private historyReads<T>(read: () => Promise<T>): Promise<T> {
    const run = this.historyChain.then(read);
    this.historyChain = run.catch(() => undefined);
    return run;
  }

  /** A chat the account has (a message in it), or undefined; the library creates an empty chat for any id. */
  private async findChat(chatId: string): Promise<Chat | undefined> {
    const client = this.readyClient();
    const chat = await this.library("getChatById", () => client.getChatById(chatId));
    return chat && isStarted(chatSummaryOf(chat)) ? chat : undefined;
  }

  async getMessage(messageId: string): Promise<EngineMessage | undefined> {
    const msg = await this.findMessage(messageId);
    return msg ? engineMessageOf(msg) : undefined;
  }

  async react(messageId: string, emoji: string): Promise<boolean> {
    const msg = await this.findMessage(messageId);
    if (!msg) return false;
    await this.library("react", () => msg.react(emoji));
    return true;
  }

  async editMessage(messageId: string, text: string): Promise<boolean> {
    const msg = await this.findMessage(messageId);
    if (!msg) return false;
    return (await this.library("edit", () => msg.edit(text))) !== null;
  }

  async deleteMessage(messageId: string, forEveryone: boolean): Promise<boolean> {
    const msg = await this.findMessage(messageId);
    if (!msg) return false;
    await this.library("delete", () => msg.delete(forEveryone));
    return true;
  }

  markRead(chatId: string): Promise<boolean> {
    const client = this.readyClient();
    return this.library("sendSeen", () => client.sendSeen(chatId));
  }

  async sendPresence(chatId: string, state: PresenceState): Promise<void> {
    const client = this.readyClient();
    const chat = await this.library("getChatById", () => client.getChatById(chatId));
    await this.library<unknown>("chat state", () => (state === "typing" ? chat.sendStateTyping() : state === "recording" ? chat.sendStateRecording() : chat.clearState()));
  }

  /** A message by the library's serialized id (`true|false_<chat>_<id>`), or undefined. */
  private async findMessage(messageId: string): Promise<Message | undefined> {
    const client = this.readyClient();
    if (!/^(true|false)_[^_\s]+_\S+$/.test(messageId)) return undefined;
    return (await this.library("getMessageById", () => client.getMessageById(messageId))) ?? undefined;
  }

  private readyClient(): Client {
    const client = this.run?.client;
    if (this.phase !== "ready" || !client) throw new EngineError("SESSION_NOT_READY", "The session is not connected to WhatsApp");
    return client;
  }

  /** A library call with the engine's deadline; its failures are ENGINE_ERROR. */
  private async library<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(call(), this.opts.sendTimeoutMs, what);
    } catch (err: any) {
      if (err instanceof EngineError) throw err;
      throw new EngineError("ENGINE_ERROR", `whatsapp-web.js ${what} failed: ${err?.message ?? err}`);
    }
  }

  private rememberOwnSend(id: string): void {
    this.ownSends.add(id);
    if (this.ownSends.size > EARLY_ACKS_KEPT) this.ownSends.delete(this.ownSends.values().next().value!);
  }

  /** An own message that this engine did not send (the phone, another device): `message_sent`. */
  private onCreate(msg: Message): void {
    if (!msg.fromMe) return;
    const check = () => {
      if (this.ownSends.has(msg.id._serialized)) return;
      this.notify("message_sent", engineMessageOf(msg));
    };
    // a send of ours may not have returned its id yet: decide once no send is in flight
    if (this.sendsInFlight > 0) this.afterSends.push(check);
    else check();
  }

  /** A call (whatsapp-web.js's `call` event): kept to reject by id, announced as `call`. */
  private onCall(call: Call): void {
    if (call.fromMe || !call.id) return;
    this.ringing.set(call.id, call);
    if (this.ringing.size > RINGING_MAX) this.ringing.delete(this.ringing.keys().next().value as string);
    this.notify("call", { callId: call.id, from: call.from ?? "", isVideo: call.isVideo === true, isGroup: call.isGroup === true, timestamp: call.timestamp ?? Math.floor(Date.now() / 1000) });
  }

  /** Call.reject(), the library's own; false for a call this engine did not hear of, or no longer ringing. */
  async rejectCall(callId: string): Promise<boolean> {
    this.readyClient();
    const call = this.ringing.get(callId);
    if (!call) return false;
    this.ringing.delete(callId);
    try {
      await withTimeout(call.reject(), this.opts.sendTimeoutMs, "Call.reject");
      return true;
    } catch {
      // the page refuses a rejection the network does not accept (the call ended or was missed)
      return false;
    }
  }

  // groups: the library's createGroup, acceptInvite, getProfilePicUrl and GroupChat's own methods

  async createGroup(subject: string, participants: string[]): Promise<{ group: GroupInfo; participants: ParticipantResult[] }> {
    const client = this.readyClient();
    const ids = await this.personIds(participants);
    // no private invites sent on the account's behalf, no pauses between participants
    const r = await this.groupCall("createGroup", () => client.createGroup(subject, ids, { autoSendInviteV4: false, sleep: null } as never));
    if (typeof r === "string") throw new EngineError("ENGINE_ERROR", `whatsapp-web.js createGroup: ${r}`);
    const groupId = widOf(r.gid);
    const group = groupId ? await this.memberGroup(groupId) : undefined;
    if (!group) throw new EngineError("ENGINE_ERROR", `WhatsApp created ${String(groupId)} but the account is not in it`);
    const codes = r.participants as unknown as Record<string, { statusCode: number }>;
    return { group: groupInfoOf(group), participants: ids.map((id) => ({ id, status: addStatusOf(codes[id]?.statusCode) })) };
  }

  async listGroups(q: PageQuery): Promise<EnginePage<GroupInfo>> {
    const client = this.readyClient();
    const me = this.me?.wid;
    const groups = (await this.library("getChats", () => client.getChats()))
      .filter((c): c is GroupChat => c.isGroup && isMemberOf(c as GroupChat, me))
      .map((c) => ({ ...groupInfoOf(c as GroupChat), timestamp: metadataOf(c as GroupChat).creation ?? 0 }))
      .sort((a, b) => b.timestamp - a.timestamp);
    const page = pageAfterItem(groups, q, (g) => g.id);
    return { items: page.items.map(({ timestamp: _t, ...g }) => g), next: page.next };
  }

  async getGroup(groupId: string): Promise<GroupInfo | undefined> {
    const group = await this.memberGroup(groupId);
    return group ? groupInfoOf(group) : undefined;
  }

  async updateGroup(groupId: string, change: GroupChange): Promise<GroupInfo | undefined> {
    const group = await this.memberGroup(groupId);
    if (!group) return undefined;
    const m = metadataOf(group);
    const admin = this.isGroupAdmin(group);
    // WhatsApp Web lets only admins edit a restricted group's info, and only admins change settings
    if ((change.subject !== undefined || change.description !== undefined) && m.restrict && !admin) throw new EngineError("GROUP_NOT_ADMIN", `Only admins may edit the info of ${groupId}`);
    if (change.settings !== undefined && !admin) throw new EngineError("GROUP_NOT_ADMIN", `Only admins may change the settings of ${groupId}`);
    const done = async (what: string, call: () => Promise<boolean>) => {
      if (!(await this.groupCall(what, call))) throw new EngineError("ENGINE_ERROR", `WhatsApp refused ${what} on ${groupId}`);
    };
    if (change.subject !== undefined && change.subject !== m.subject) await done("setSubject", () => group.setSubject(change.subject!));
    if (change.description !== undefined && change.description !== (m.desc ?? "")) await done("setDescription", () => group.setDescription(change.description!));
    const s = change.settings;
    if (s?.announce !== undefined && s.announce !== !!m.announce) await done("setMessagesAdminsOnly", () => group.setMessagesAdminsOnly(s.announce));
    if (s?.restrict !== undefined && s.restrict !== !!m.restrict) await done("setInfoAdminsOnly", () => group.setInfoAdminsOnly(s.restrict));
    return this.getGroup(groupId);
  }

  async leaveGroup(groupId: string): Promise<boolean> {
    const group = await this.memberGroup(groupId);
    if (!group) return false;
    await this.groupCall("leave", () => group.leave());
    return true;
  }

  async changeParticipants(groupId: string, action: ParticipantAction, participants: string[]): Promise<ParticipantResult[] | undefined> {
    const group = await this.memberGroup(groupId);
    if (!group) return undefined;
    if (!this.isGroupAdmin(group)) throw new EngineError("GROUP_NOT_ADMIN", `Only admins may ${action} participants of ${groupId}`);
    const ids = await this.personIds(participants);
    if (action === "add") {
      const r = await this.groupCall("addParticipants", () => group.addParticipants(ids, { autoSendInviteV4: false, sleep: null } as never));
      if (typeof r === "string") throw new EngineError(/admin rights/i.test(r) ? "GROUP_NOT_ADMIN" : "ENGINE_ERROR", `whatsapp-web.js addParticipants: ${r}`);
      const codes = r as unknown as Record<string, { code: number }>;
      return ids.map((id) => ({ id, status: addStatusOf(codes[id]?.code) }));
    }
    // the library acts on the members among them (and answers 200 whatever): the others are no members
    const members = new Set(metadataOf(group).participants.map((p) => widOf(p.id)));
    const present = ids.filter((id) => members.has(id));
    const status: ParticipantStatus = action === "remove" ? "removed" : action === "promote" ? "promoted" : "demoted";
    if (present.length) {
      await this.groupCall(`${action}Participants`, () => (action === "remove" ? group.removeParticipants(present) : action === "promote" ? group.promoteParticipants(present) : group.demoteParticipants(present)));
    }
    return ids.map((id) => ({ id, status: members.has(id) ? status : "not_a_member" }));
  }

  async getInviteCode(groupId: string): Promise<string | undefined> {
    const group = await this.adminGroup(groupId, "see the invite code of");
    if (!group) return undefined;
    const code = await this.groupCall("getInviteCode", () => group.getInviteCode());
    if (typeof code !== "string" || !code) throw new EngineError("ENGINE_ERROR", `WhatsApp gave no invite code for ${groupId}`);
    return code;
  }

  async revokeInviteCode(groupId: string): Promise<string | undefined> {
    const group = await this.adminGroup(groupId, "revoke the invite code of");
    if (!group) return undefined;
    const code = await this.groupCall("revokeInvite", () => group.revokeInvite());
    if (typeof code !== "string" || !code) throw new EngineError("ENGINE_ERROR", `WhatsApp gave no new invite code for ${groupId}`);
    return code;
  }

  async joinGroup(code: string): Promise<string | undefined> {
    const client = this.readyClient();
    try {
      return await this.groupCall("acceptInvite", () => client.acceptInvite(code));
    } catch (err) {
      // WhatsApp answers a wrong or revoked code with 404 (or 410 once expired)
      if (err instanceof EngineError && err.code === "GROUP_NOT_FOUND") return undefined;
      throw err;
    }
  }

  /**
   * GroupChat.setPicture: whatsapp-web.js crops the picture to a square and re-encodes it as a
   * 640x640 JPEG in the page before sending it (and a 96x96 thumbnail): WhatsApp keeps that JPEG,
   * not the bytes given. deletePicture removes it.
   */
  async setGroupPicture(groupId: string, picture: GroupPicture | null): Promise<boolean> {
    const group = await this.memberGroup(groupId);
    if (!group) return false;
    if (metadataOf(group).restrict && !this.isGroupAdmin(group)) throw new EngineError("GROUP_NOT_ADMIN", `Only admins may change the picture of ${groupId}`);
    if (picture === null) {
      // the library answers undefined when there is no picture to delete: nothing to do
      const r = await this.groupCall("deletePicture", () => group.deletePicture());
      if (r === false) throw new EngineError("ENGINE_ERROR", `WhatsApp refused to delete the picture of ${groupId}`);
      return true;
    }
    let ok: boolean;
    try {
      ok = await this.groupCall("setPicture", () => group.setPicture({ mimetype: picture.mimetype, data: picture.data } as never));
    } catch (err) {
      // the page decodes the image to re-encode it: an image that fails to load rejects with its error Event
      if (err instanceof EngineError && err.code === "ENGINE_ERROR" && /: (\[object )?Event\]?$/.test(err.message)) throw new EngineError("VALIDATION_ERROR", "picture: not an image Chromium can decode");
      throw err;
    }
    if (!ok) throw new EngineError("ENGINE_ERROR", `WhatsApp refused the picture of ${groupId}`);
    return true;
  }

  /** The library's getProfilePicUrl for the group, and the picture at that URL. */
  async getGroupPicture(groupId: string): Promise<GroupPicture | null | undefined> {
    const client = this.readyClient();
    if (!(await this.memberGroup(groupId))) return undefined;
    const url = await this.groupCall("getProfilePicUrl", () => client.getProfilePicUrl(groupId));
    if (!url) return null;
    const inline = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    if (inline) return { mimetype: inline[1], data: inline[2] };
    const res = await fetch(url, { signal: AbortSignal.timeout(this.opts.sendTimeoutMs) }).catch((err) => {
      throw new EngineError("ENGINE_ERROR", `The group picture could not be downloaded: ${err?.message ?? err}`);
    });
    if (res.status === 404) return null;
    if (!res.ok) throw new EngineError("ENGINE_ERROR", `The group picture could not be downloaded: HTTP ${res.status}`);
    return { mimetype: (res.headers.get("content-type") ?? "image/jpeg").split(";")[0], data: Buffer.from(await res.arrayBuffer()).toString("base64") };
  }

  /** A group chat the account is a member of (the library refreshes its metadata from WhatsApp), or undefined. */
  private async memberGroup(groupId: string): Promise<GroupChat | undefined> {
    const id = parseId(groupId);
    if (id?.kind !== "group") return undefined;
    const client = this.readyClient();
    const chat = await this.library("getChatById", () => client.getChatById(id.serialized));
    return chat?.isGroup && isMemberOf(chat as GroupChat, this.me?.wid) ? (chat as GroupChat) : undefined;
  }

  private async adminGroup(groupId: string, what: string): Promise<GroupChat | undefined> {
    const group = await this.memberGroup(groupId);
    if (group && !this.isGroupAdmin(group)) throw new EngineError("GROUP_NOT_ADMIN", `Only admins may ${what} ${groupId}`);
    return group;
  }

  private isGroupAdmin(group: GroupChat): boolean {
    const me = this.me?.wid;
    return metadataOf(group).participants.some((p) => widOf(p.id) === me && (p.isAdmin || p.isSuperAdmin));
  }

  /** People as `<phone>@c.us` (a LID as the phone WhatsApp knows for it), each once. */
  private async personIds(participants: string[]): Promise<string[]> {
    const client = this.readyClient();
    const out: string[] = [];
    for (const p of participants) {
      const id = parseId(p);
      if (id?.kind !== "user" && id?.kind !== "lid") throw new EngineError("VALIDATION_ERROR", `participants: not a person id: ${JSON.stringify(p)}`);
      let phoneId = id.serialized;
      if (id.kind === "lid") {
        const [ids] = await this.library("getContactLidAndPhone", () => client.getContactLidAndPhone([id.serialized]));
        if (!ids?.pn) throw new EngineError("VALIDATION_ERROR", `participants: WhatsApp knows no phone for ${id.serialized}`);
        phoneId = ids.pn;
      }
      if (!out.includes(phoneId)) out.push(phoneId);
    }
    return out;
  }

  /** A group call through the library; WhatsApp's refusals (ServerStatusCodeError) as their codes. */
  private async groupCall<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await this.library(what, call);
    } catch (err) {
      const m = err instanceof Error ? err.message : String(err);
      if (/ServerStatusCodeError: 403/.test(m)) throw new EngineError("GROUP_NOT_ADMIN", `WhatsApp refused ${what}: only a group admin may`);
      if (/ServerStatusCodeError: 40[4]|ServerStatusCodeError: 410/.test(m)) throw new EngineError("GROUP_NOT_FOUND", `WhatsApp refused ${what}: no such group (or not a member)`);
      if (/ServerStatusCodeError: 419/.test(m)) throw new EngineError("GROUP_FULL", `WhatsApp refused ${what}: the group is full`);
      if (/ServerStatusCodeError: 400/.test(m)) throw new EngineError("VALIDATION_ERROR", `WhatsApp refused ${what}: ${m}`);
      throw err;
    }
  }

  /**
   * The library's group notifications (group_join, group_leave, group_admin_changed, group_update)
   * as `group_update` with who did it, one at a time in arrival order (a settings change reads the
   * group's settings now).
   */
  private onGroupNotification(n: GroupNotification): void {
    const change = GROUP_CHANGES[n.type];
    const by = widOf(n.author);
    const groupId = widOf((n as { chatId?: unknown }).chatId);
    if (!change || !by || !groupId) return;
    const participants = (n.recipientIds as unknown[]).map(widOf).filter((x): x is string => !!x);
    const update: GroupUpdate = { groupId, change, by, ...(participants.length ? { participants } : {}) };
    if (change === "subject" || change === "description" || change === "create") update.value = n.body ?? "";
    this.groupEvents = this.groupEvents.then(async () => {
      if (change === "settings") {
        const group = await this.memberGroup(groupId).catch(() => undefined);
        const m = group ? metadataOf(group) : undefined;
        if (m) update.value = { announce: !!m.announce, restrict: !!m.restrict } satisfies GroupSettings;
      }
      this.notify("group_update", update);
    });
  }

  // labels (WhatsApp Business): the library's getLabels, getChatLabels and addOrRemoveLabels

  async listLabels(): Promise<Label[]> {
    const client = this.businessClient();
    const labels = await this.library("getLabels", () => client.getLabels());
    return labels.map((l) => ({ id: String(l.id), name: l.name, color: l.hexColor }));
  }

  async getChatLabels(chatId: string): Promise<Label[] | undefined> {
    const client = this.businessClient();
    if (!(await this.findChat(chatId))) return undefined;
    const labels = await this.library("getChatLabels", () => client.getChatLabels(chatId));
    return labels.map((l) => ({ id: String(l.id), name: l.name, color: l.hexColor }));
  }

  async setChatLabel(chatId: string, labelId: string, on: boolean): Promise<"ok" | "no_chat" | "no_label"> {
    const client = this.businessClient();
    if (!(await this.findChat(chatId))) return "no_chat";
    if (!(await this.listLabels()).some((l) => l.id === labelId)) return "no_label";
    const current = (await this.getChatLabels(chatId))!.map((l) => l.id);
    if (current.includes(labelId) === on) return "ok";
    // addOrRemoveLabels sets the chat's whole label set: the current one with this label added or taken off
    const wanted = on ? [...current, labelId] : current.filter((id) => id !== labelId);
    const mark = `${chatId}|${labelId}|${on}`;
    this.ownLabelChanges.add(mark);
    try {
      await this.library("addOrRemoveLabels", () => client.addOrRemoveLabels(wanted, [chatId]));
    } catch (err) {
      this.ownLabelChanges.delete(mark);
      throw err;
    }
    return "ok";
  }

  /** The ready client of a WhatsApp Business account (the library's own test: Conn.platform smba or smbi). */
  private businessClient(): Client {
    const client = this.readyClient();
    const platform = (client.info as any)?.platform;
    if (platform !== "smba" && platform !== "smbi") throw new EngineError("LABELS_NOT_AVAILABLE", `Labels are a WhatsApp Business feature; this account's platform is ${String(platform)}`);
    return client;
  }

  /**
   * whatsapp-web.js has no event for label changes: the engine listens to WhatsApp Web's own
   * chat collection (change:labels) on the page, as the library does for its events, and
   * announces the changes it did not make itself.
   */
  private async watchLabels(run: Run, client: Client): Promise<void> {
    const page = client.pupPage;
    if (!page) return;
    try {
      await page.exposeFunction("__wafleetLabelsChanged", (chatId: string, now: string[], before: string[]) => {
        if (this.run !== run) return;
        const was = new Set(before.map(String));
        const is = new Set(now.map(String));
        const changes: Array<[string, boolean]> = [...[...is].filter((id) => !was.has(id)).map((id): [string, boolean] => [id, true]), ...[...was].filter((id) => !is.has(id)).map((id): [string, boolean] => [id, false])];
        for (const [labelId, on] of changes) {
          if (this.ownLabelChanges.delete(`${chatId}|${labelId}|${on}`)) continue;
          this.notify("label", chatId, labelId, on);
        }
      });
    } catch {
      // exposed on an earlier ready of this page
    }
    await page
      .evaluate(() => {
        const w = globalThis as any;
        if (w.__wafleetLabelsHooked) return;
        w.__wafleetLabelsHooked = true;
        w.require("WAWebCollections").Chat.on("change:labels", (chat: any, now: unknown, before: unknown) => {
          void w.__wafleetLabelsChanged(chat.id._serialized, Array.isArray(now) ? now : [], Array.isArray(before) ? before : []);
        });
      })
      .catch((err: Error) => this.log("warn", `label changes will not be announced: ${err.message}`));
  }

  private onReaction(reaction: Reaction): void {
    const me = this.me?.wid;
    if (!reaction.senderId || reaction.senderId === me) return;
    const parent = reaction.msgId as unknown as { _serialized?: string; remote?: string | { _serialized?: string } };
    const id = parent?._serialized;
    if (!id) return;
    const remote = typeof parent.remote === "string" ? parent.remote : (parent.remote?._serialized ?? "");
    this.notify("message_reaction", id, reaction.senderId, reaction.reaction ?? "", remote);
  }

  /** A contact's vote (its whole current selection) on a poll: `poll_vote` with the options' names. */
  private onVote(vote: PollVote): void {
    const voter = widOf(vote.voter);
    if (!voter || voter === this.me?.wid) return;
    // the parent poll's key (in the library's object, not in its typings)
    const parent = (vote as unknown as { parentMsgKey?: { _serialized?: string; remote?: unknown } }).parentMsgKey;
    const id = parent?._serialized;
    if (!id) return;
    const options = (vote.selectedOptions ?? []).map((o) => o.name).filter((n): n is string => typeof n === "string");
    this.notify("poll_vote", id, voter, options, widOf(parent.remote) ?? "");
  }

  info(): EngineMe | undefined {
    return this.me ? { ...this.me } : undefined;
  }

  /** PSS of the browser's whole process tree (the watchdog and wafleet_session_memory_bytes). */
  async memoryUsage(): Promise<number | undefined> {
    const pid = this.run?.chromium?.pid;
    if (!pid || !isAlive(pid)) return undefined;
    const { bytes, processes } = await treePss(pid);
    return processes ? bytes : undefined;
  }

  /** The pid of the current browser (its process group leader), for diagnostics and tests. */
  browserPid(): number | undefined {
    return this.run?.chromium?.pid;
  }

  /** The current page (diagnostics and tests: the fake page's module list). */
  page(): import("puppeteer").Page | undefined {
    return this.run?.client?.pupPage ?? undefined;
  }

  // --- runs ---

  private async launch(gen: number): Promise<void> {
    // a relaunch that waited in a queue while the session was stopped, logged out or deleted must
    // not touch the (maybe deleted) folder again
    if (gen !== this.generation || !this.running) return;
    this.phase = "launching";
    let run: Run | undefined;
    try {
      const step = (async () => {
        this.linkedBefore = await exists(this.markerPath);
        await fs.mkdir(this.profileDir, { recursive: true });
        const released = await releaseProfile(this.profileDir);
        if (released.killed.length || released.removed.length) {
          this.log("warn", `released profile ${this.profileDir}: killed ${released.killed.length} stale Chromium processes, removed ${released.removed.join(", ") || "no"} lock files`);
        }
        if (gen !== this.generation) return undefined;
        const chromium = await launchChromium({
          executablePath: this.opts.chromePath,
          userDataDir: this.profileDir,
          headless: this.opts.headless,
          args: withSandboxFlag([...this.chromeArgs, ...CLIENT_CHROME_ARGS], undefined, this.opts.sandbox),
        });
        if (gen !== this.generation) {
          await this.killChromium(chromium);
          return undefined;
        }
        return chromium;
      })();
      this.launchStep = step;
      const chromium = await step;
      if (!chromium) return;
      run = { chromium, expectedExit: false, authenticated: false };
      this.run = run;
      const thisRun = run;
      chromium.browser.on("disconnected", () => this.onBrowserLost(thisRun, "Chromium exited or crashed"));
      const client = new Client(this.clientOptions(chromium));
      run.client = client;
      containReinjection(run, client);
      this.wire(run, client);
      this.startHeartbeat(run);
      // every launch has the deadline (a relaunch after a crash too), not only the first start()
      await withTimeout(client.initialize(), this.opts.startTimeoutMs, "whatsapp-web.js initialize()");
      if (this.run !== run) return;
      const page = client.pupPage;
      if (page) {
        page.on("close", () => this.onBrowserLost(thisRun, "the WhatsApp tab closed"));
        page.on("error", (err) => this.onBrowserLost(thisRun, `the WhatsApp tab crashed (${err.message})`));
        // the library opened its own tab: the blank one Chromium started with only costs memory
        for (const other of await chromium.browser.pages()) if (other !== page && other.url() === "about:blank") await other.close().catch(() => undefined);
      }
    } catch (err: any) {
      if (gen !== this.generation || (run && this.run !== run)) return;
      const message = String(err?.message ?? err);
      if (/Chromium not found|ENOENT|EACCES/.test(message) && !run) {
        this.fail(new EngineError("ENGINE_ERROR", message));
        return;
      }
      this.log("warn", `launch failed for ${this.ctx.workspaceId}/${this.ctx.sessionId}: ${message}`);
      if (run) {
        run.expectedExit = true;
        this.run = undefined;
        await this.disposeRun(run);
      }
      if (gen === this.generation) this.scheduleRestart(`failed to start (${message})`);
    }
  }

  /** A fresh options object for every client: the library mutates the one it is given. */
  private clientOptions(chromium: LaunchedChromium): ConstructorParameters<typeof Client>[0] {
    const cache = this.opts.webVersionCache;
    // the watchdog first: it must wrap WebSocket before any page script (the fake page's too) runs
    const watchdog = this.opts.pageWatchdog ? pageWatchdogScript(this.opts.pageWatchdog) : undefined;
    const evalOnNewDoc = [watchdog, this.opts.evalOnNewDoc].filter((x) => x !== undefined).join("\n");
    return {
      authStrategy: new LocalAuth({ clientId: this.ctx.sessionId, dataPath: this.ctx.authDir }),
      // we launch Chromium ourselves (its pid, flags and process group are ours) and hand it over
      puppeteer: { browserWSEndpoint: chromium.browser.wsEndpoint(), defaultViewport: null },
      ...(this.opts.webVersion ? { webVersion: this.opts.webVersion } : {}),
      webVersionCache: { ...cache } as any,
      ...(evalOnNewDoc ? { evalOnNewDoc: evalOnNewDoc as any } : {}),
      // a conflict means ownership broke somewhere: never fight over the device
      takeoverOnConflict: false,
      qrMaxRetries: 0,
      // the library polls for the page up to this long; our own deadline decides first
      authTimeoutMs: this.opts.startTimeoutMs,
    };
  }

  private wire(run: Run, client: Client): void {
    const current = () => this.running && this.run === run;
    client.on("qr", (qr: string) => {
      if (current()) this.onQr(qr);
    });
    client.on("code", (code: string) => {
      if (current()) this.notify("code", code);
    });
    client.on("authenticated", () => {
      if (!current() || run.authenticated) return;
      run.authenticated = true;
      this.notify("authenticated");
    });
    client.on("ready", () => {
      if (current()) this.onReady(run, client);
    });
    client.on("message", (msg: Message) => {
      if (current()) this.onMessage(msg);
    });
    client.on("message_ack", (msg: Message, ack: number) => {
      if (current()) this.onAck(msg, ack);
    });
    client.on("message_create", (msg: Message) => {
      if (current()) this.onCreate(msg);
    });
    client.on("message_edit", (msg: Message, newBody: string) => {
      // a contact's edit (our own edits are answered by the API call itself, as with the simulator)
      if (current() && !msg.fromMe) this.notify("message_edited", msg.id._serialized, String(newBody), msg.id.remote);
    });
    client.on("message_revoke_everyone", (msg: Message) => {
      if (current() && !msg.fromMe) this.notify("message_revoked", msg.id._serialized, msg.id.remote);
    });
    client.on("message_reaction", (reaction: Reaction) => {
      if (current()) this.onReaction(reaction);
    });
    client.on("vote_update", (vote: PollVote) => {
      if (current()) this.onVote(vote);
    });
    for (const event of ["group_join", "group_leave", "group_admin_changed", "group_update"] as const) {
      client.on(event, (n: GroupNotification) => {
        if (current()) this.onGroupNotification(n);
      });
    }
    client.on("call", (call: Call) => {
      if (current()) this.onCall(call);
    });
    client.on("change_state", (state: string) => {
      if (current()) this.onState(run, state);
    });
    client.on("disconnected", (reason: string) => {
      if (current()) this.onDisconnected(run, String(reason));
    });
  }

  /**
   * Beats the page's watchdog while this node may connect. A beat answered "severed" means the page
   * cut WhatsApp Web off (the node was frozen or its loop blocked past the deadline): that browser
   * is done, and a fresh one starts through the restart policy, behind the lease gate.
   */
  private startHeartbeat(run: Run): void {
    const wd = this.opts.pageWatchdog;
    if (!wd) return;
    run.beat = setInterval(() => {
      if (this.run !== run || run.expectedExit) {
        clearInterval(run.beat);
        return;
      }
      // a node that may not connect lets its pages go quiet (it stops its sessions itself too)
      if (run.beating || (this.ctx.mayConnect && !this.ctx.mayConnect())) return;
      const page = run.client?.pupPage;
      if (!page) return;
      run.beating = true;
      // straight over CDP into whatever document the tab shows now: page.evaluate() would wait for
      // puppeteer to see a new document's context, and a page that is loading must get its beats
      // too; a beat that hangs is dropped quickly so the next one goes out on time
      const beat = async () => {
        run.cdp ??= await page.createCDPSession();
        const r = await run.cdp.send("Runtime.evaluate", { expression: "globalThis.__wafleetWatchdog ? globalThis.__wafleetWatchdog.beat() : false", returnByValue: true });
        return r.result?.value === true;
      };
      withTimeout(beat(), Math.max(2 * wd.beatMs, 250), "watchdog heartbeat")
        .then((severed) => {
          if (severed) this.onBrowserLost(run, `the page cut WhatsApp Web off: no heartbeat from this node for over ${wd.deadlineMs} ms (the node was frozen or its event loop blocked)`, "HEARTBEAT_LOST");
        })
        // between two documents there is no context to evaluate in; the next beat finds the new one
        .catch(() => undefined)
        .finally(() => (run.beating = false));
    }, wd.beatMs);
    run.beat.unref();
  }

  private onQr(qr: string): void {
    if (this.linkedBefore) {
      // we were linked and WhatsApp asks for a QR: the device was removed while we were away
      this.linkedBefore = false;
      this.me = undefined;
      void fs.rm(this.markerPath, { force: true });
      this.notify("disconnected", "UNPAIRED");
    }
    this.phase = "linking";
    this.notify("qr", qr, Date.now() + this.opts.qrLifetimeMs);
    this.settleStart();
  }

  private onReady(run: Run, client: Client): void {
    const info: any = client.info ?? {};
    const wid: string = typeof info.wid === "string" ? info.wid : (info.wid?._serialized ?? "");
    const phone = wid.replace(/@.*$/, "");
    this.me = { wid, phone, pushname: info.pushname, platform: info.platform };
    this.linkedBefore = true;
    void writeFileAtomic(this.markerPath, JSON.stringify({ wid, linkedAt: new Date().toISOString() })).catch((err) => this.log("warn", `cannot write ${this.markerPath}: ${err.message}`));
    if (!run.authenticated) {
      run.authenticated = true;
      this.notify("authenticated");
    }
    this.phase = "ready";
    this.readyAt = Date.now();
    this.notify("ready", { ...this.me });
    this.startCatchUp(run, client);
    this.watchPresence(run, client);
    if (info.platform === "smba" || info.platform === "smbi") void this.watchLabels(run, client);
    void this.intents.sweep().catch(() => undefined);
    this.settleStart();
  }

  /** Contacts' chat states from WhatsApp Web's presence models (the library has no event for them). */
  private watchPresence(run: Run, client: Client): void {
    const page = client.pupPage;
    if (!page) return;
    watchChatStates(page, (chatId, state) => {
      if (this.running && this.run === run) this.notify("presence", chatId, state, chatId);
    }).then(
      (watching) => {
        if (!watching) this.log("warn", "this WhatsApp Web has no presence collection: no wa.presence events");
      },
      (err) => this.log("warn", `cannot watch chat states: ${err?.message ?? err}`),
    );
  }

  /**
   * Delivers what the history holds past the watermarks (messages WhatsApp Web acknowledged while
   * this session's events were not durable: a node killed in that gap), on every ready.
   */
  private startCatchUp(run: Run, client: Client): void {
    void (async () => {
      await this.watermarks.load();
      if (this.watermarks.since === undefined) {
        this.watermarks.begin(Math.floor(Date.now() / 1000));
        return;
      }
      const missed = await this.historyReads(() => missedMessages(client, this.watermarks));
      if (this.run !== run || this.phase !== "ready") return;
      if (missed.length) this.log("info", `catch-up: ${missed.length} incoming message(s) past the watermarks`);
      for (const msg of missed) this.onMessage(msg);
    })().catch((err) => this.log("warn", `catch-up failed: ${err?.message ?? err}`));
  }

  private onMessage(msg: Message): void {
    if (msg.fromMe) return;
    const id = msg.id._serialized;
    if (this.emitted.has(id)) return;
    this.emitted.add(id);
    if (this.emitted.size > 10 * EARLY_ACKS_KEPT) this.emitted.delete(this.emitted.values().next().value!);
    this.inbound = this.inbound.then(async () => {
      const em: EngineMessage = engineMessageOf(msg);
      // the bytes, below; what the media is (no bytes) when they cannot be had
      const described = em.media;
      delete em.media;
      if (msg.hasMedia) {
        // large media takes its time through the page: the deadline grows by a second per MiB
        const size = Number((msg as unknown as { _data?: { size?: unknown } })._data?.size) || 0;
        const deadline = this.opts.sendTimeoutMs + Math.ceil(size / (1024 * 1024)) * 1000;
        const media = await withTimeout(msg.downloadMedia(), deadline, "downloadMedia").catch((err) => {
          this.log("warn", `cannot download the media of ${em.id}: ${err?.message ?? err}`);
          return undefined;
        });
        if (media) em.media = { mimetype: media.mimetype, data: media.data, ...(media.filename ? { filename: media.filename } : {}) };
        else if (described) em.media = described;
      }
      // the watermark moves once the listener says the message is durable (or at once, without a defer)
      const chatId = msg.id.remote;
      const durable = () => this.watermarks.advance(chatId, id, msg.timestamp);
      let deferred = false;
      const receipt = {
        defer: () => {
          deferred = true;
          return durable;
        },
      };
      if (this.notify("message", em, receipt) && !deferred) durable();
    });
  }

  private onAck(msg: Message, ackValue: number): void {
    if (!msg.id.fromMe) return;
    const ack = ackLevelOf(ackValue);
    if (!ack) return;
    const id = msg.id._serialized;
    const waiter = this.ackWaiters.get(id);
    if (waiter && ack !== "PENDING") {
      this.ackWaiters.delete(id);
      clearTimeout(waiter.timer);
      if (ack === "ERROR") waiter.reject(new EngineError("ENGINE_ERROR", "WhatsApp rejected the message"));
      else waiter.resolve(ack);
    } else if (!waiter) {
      this.earlyAcks.set(id, ack);
      if (this.earlyAcks.size > EARLY_ACKS_KEPT) this.earlyAcks.delete(this.earlyAcks.keys().next().value!);
    }
    this.notify("message_ack", id, ack);
  }

  private waitForServerAck(id: string, ackNow: number): Promise<AckLevel> {
    const early = this.earlyAcks.get(id);
    this.earlyAcks.delete(id);
    const known = early ?? (ackNow >= 1 ? ackLevelOf(ackNow) : undefined);
    if (known === "ERROR") return Promise.reject(new EngineError("ENGINE_ERROR", "WhatsApp rejected the message"));
    if (known && known !== "PENDING") return Promise.resolve("SERVER");
    return new Promise<AckLevel>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ackWaiters.delete(id);
        reject(new EngineError("ENGINE_TIMEOUT", `WhatsApp did not acknowledge message ${id} within ${this.opts.sendTimeoutMs} ms`));
      }, this.opts.sendTimeoutMs);
      this.ackWaiters.set(id, { resolve: () => resolve("SERVER"), reject, timer });
    });
  }

  /** change_state comes only after ready: WhatsApp's socket dropping and coming back. */
  private onState(run: Run, state: string): void {
    if (state === "CONNECTED" && this.phase === "reconnecting") {
      this.phase = "ready";
      this.notify("authenticated");
      if (this.me) this.notify("ready", { ...this.me });
      if (run.client) this.startCatchUp(run, run.client);
    } else if (RECONNECTING_STATES.has(state) && this.phase === "ready") {
      this.phase = "reconnecting";
      this.notify("disconnected", "CONNECTION_LOST");
    }
    void run;
  }

  private onDisconnected(run: Run, reason: string): void {
    this.rejectInFlight(new EngineError("SESSION_NOT_READY", `The session was disconnected (${reason})`));
    if (reason === "CONFLICT") {
      // the library destroys the client itself; never take the device back
      run.expectedExit = true;
      const ended = this.shutdown(new EngineError("ENGINE_ERROR", "Another connection took over this WhatsApp device (conflict)"));
      this.notify("disconnected", "CONFLICT");
      void this.disposeRun(ended);
      return;
    }
    if (reason === "LOGOUT" || UNLINKED_STATES.has(reason)) {
      // Unlinked. The library would go on in the same browser after deleting the profile under it;
      // a fresh browser on a fresh profile is the sound way to the next QR.
      run.expectedExit = true;
      this.run = undefined;
      this.me = undefined;
      this.linkedBefore = false;
      this.phase = "launching";
      this.notify("disconnected", reason === "LOGOUT" ? "LOGOUT" : "UNPAIRED");
      const gen = this.generation;
      this.watermarks.reset();
      void (async () => {
        await this.disposeRun(run);
        await this.watermarks.flush();
        await clearDir(this.ctx.authDir);
        if (gen !== this.generation || !this.running) return;
        // a node whose lease is in doubt shows no new QR: it waits like a restart would
        if (this.ctx.mayConnect && !this.ctx.mayConnect()) this.scheduleRestart("waiting for the node's lease");
        else await this.launch(gen);
      })().catch((err) => this.fail(err));
      return;
    }
    // TOS_BLOCK, DEPRECATED_VERSION, PROXYBLOCK, 'Max qrcode retries reached', ...: the library
    // destroys the client; retrying cannot help
    run.expectedExit = true;
    this.notify("disconnected", reason);
    this.fail(new EngineError("ENGINE_ERROR", `WhatsApp ended the session: ${reason}`));
  }

  /** Chromium died or the tab closed under a running session: the library would emit nothing. */
  private onBrowserLost(run: Run, why: string, reason = "BROWSER_CRASHED"): void {
    if (run.expectedExit || this.run !== run || !this.running) return;
    run.expectedExit = true;
    this.run = undefined;
    this.log("warn", `session ${this.ctx.workspaceId}/${this.ctx.sessionId}: ${why}`);
    const wasConnected = this.phase === "ready" || this.phase === "reconnecting";
    this.rejectInFlight(new EngineError("SESSION_NOT_READY", `Chromium went away (${why})`));
    if (wasConnected) this.notify("disconnected", reason);
    if (this.readyAt && Date.now() - this.readyAt > this.restartPolicy.stableMs) this.restarts = 0;
    void this.disposeRun(run);
    this.scheduleRestart(why);
  }

  private scheduleRestart(why: string): void {
    if (!this.running) return;
    if (this.restarts >= this.restartPolicy.maxAttempts) {
      this.fail(new EngineError("ENGINE_ERROR", `Chromium ${why}; gave up after ${this.restarts} restarts`));
      return;
    }
    const { baseMs, maxMs } = this.restartPolicy;
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(this.restarts, 20));
    this.restarts++;
    this.phase = "restarting";
    const gen = this.generation;
    const arm = () => {
      // equal jitter: a node whose browsers all crashed together does not relaunch them together
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (gen !== this.generation || !this.running) return;
        // the node's lease gate: a fenced node never reconnects a device another node may own now
        if (this.ctx.mayConnect && !this.ctx.mayConnect()) return arm();
        // relaunches share the node's launch budget, so a node whose browsers all died together
        // does not start them all at once
        const relaunch = () => this.launch(gen);
        void (this.opts.relaunchQueue ? this.opts.relaunchQueue.run(relaunch) : relaunch()).catch(() => undefined);
      }, ceiling / 2 + Math.random() * (ceiling / 2));
    };
    arm();
  }

  // --- lifecycle helpers ---

  /** Ends the run now: no restarts, waiters rejected with `why`. Returns the run for the caller to dispose. */
  private shutdown(why: Error): Run | undefined {
    this.running = false;
    this.generation++;
    this.phase = "stopped";
    this.me = undefined;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.startGate.reject(why);
    this.rejectInFlight(why);
    const run = this.run;
    this.run = undefined;
    if (run) run.expectedExit = true;
    return run;
  }

  /** Gives up: start() rejects with `err` (if pending), `failed` is emitted, no browser is left. */
  private fail(err: Error): void {
    if (!this.running) return;
    const hadStart = this.startGate.pending;
    const run = this.shutdown(err);
    void (async () => {
      await this.launchStep?.catch(() => undefined);
      await this.disposeRun(run);
    })();
    if (!hadStart) this.notify("failed", err);
  }

  /** Closes the browser (letting it flush the profile), then kills its process group and anything left on the profile. */
  private async disposeRun(run: Run | undefined): Promise<void> {
    if (run) {
      run.expectedExit = true;
      clearInterval(run.beat);
      if (run.chromium) await this.killChromium(run.chromium);
    }
    const left = await killChromiumUsing(this.profileDir);
    if (left.length) this.log("warn", `killed ${left.length} Chromium processes still using ${this.profileDir}`);
  }

  private async killChromium(chromium: LaunchedChromium): Promise<void> {
    if (isAlive(chromium.pid)) {
      await withTimeout(chromium.browser.close(), this.opts.closeTimeoutMs, "browser.close").catch(() => undefined);
    }
    killProcessGroup(chromium.pid);
    await waitGone([chromium.pid]);
  }

  private settleStart(): void {
    this.startGate.settle();
  }

  private rejectInFlight(why: Error): void {
    for (const [id, w] of this.ackWaiters) {
      clearTimeout(w.timer);
      this.ackWaiters.delete(id);
      w.reject(why);
    }
  }

  private log(level: "info" | "warn" | "error", msg: string): void {
    this.opts.log?.(level, msg);
  }

  /** Emits without letting a listener's exception break the engine. Returns false if a listener threw. */
  private notify<K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]): boolean {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The library re-injects from a `framenavigated` listener whose promise nobody handles: when we
 * close the browser under it (an unlink, a stop), that re-injection rejects. Once the run is over,
 * its failures are expected and dropped here instead of surfacing as unhandled rejections.
 */
function containReinjection(run: Run, client: Client): void {
  const c = client as unknown as { inject(): Promise<void> };
  const inject = c.inject.bind(client);
  c.inject = async () => {
    if (run.expectedExit) return;
    try {
      await inject();
    } catch (err) {
      if (!run.expectedExit) throw err;
    }
  };
}

let guardInstalled = false;

/**
 * whatsapp-web.js leaves promises unhandled when a client is destroyed during start-up or
 * re-injection (its framenavigated handler, pending evaluations). In a node holding hundreds of
 * sessions one of those must not end the process: log it instead. Installed once, and only when
 * nothing else (the node's entry point, a test runner) handles them already.
 */
export function containUnhandledRejections(log: (msg: string) => void): void {
  if (guardInstalled || process.listenerCount("unhandledRejection") > 0) return;
  guardInstalled = true;
  process.on("unhandledRejection", (reason) => {
    // the entry point (or a test runner) may have installed its own since: then it reports
    if (process.listenerCount("unhandledRejection") > 1) return;
    log(`unhandled rejection (contained): ${reason instanceof Error ? reason.stack : String(reason)}`);
  });
}

export function createWwebjsEngineFactory(opts: WwebjsEngineOptions): EngineFactory {
  containUnhandledRejections((msg) => (opts.log ?? ((_l: string, m: string) => process.stderr.write(`${m}\n`)))("error", msg));
  // the marker is written on ready and removed on unlink; a profile alone may be a QR never scanned
  return Object.assign((ctx: EngineContext) => new WwebjsEngine(ctx, opts), {
    engine: "wwebjs",
    capabilities: WWEBJS_CAPABILITIES,
    linked: (authDir: string) => exists(path.join(authDir, LINKED_MARKER)),
  });
}

// --- small helpers ---

function chatSummaryOf(chat: Chat): ChatSummary {
  return {
    id: chat.id._serialized,
    name: chat.name || chat.id.user,
    isGroup: chat.isGroup,
    unreadCount: chat.unreadCount ?? 0,
    timestamp: chat.timestamp ?? 0,
    lastMessage: chat.lastMessage ? engineMessageOf(chat.lastMessage) : null,
  };
}

/** A WhatsApp id the library hands over as a string or, crossing from the page, as a Wid's fields. */
function widOf(w: unknown): string | undefined {
  if (typeof w === "string") return w || undefined;
  const s = (w as { _serialized?: unknown } | null)?._serialized;
  return typeof s === "string" && s ? s : undefined;
}

/** WhatsApp Web's group metadata as the library hands it over (GroupChat.groupMetadata). */
interface GroupMetadata {
  owner?: unknown;
  subject?: string;
  desc?: string;
  creation?: number;
  participants: Array<{ id: unknown; isAdmin?: boolean; isSuperAdmin?: boolean }>;
  announce?: boolean;
  restrict?: boolean;
}

function metadataOf(group: GroupChat): GroupMetadata {
  const m = (group as unknown as { groupMetadata?: GroupMetadata }).groupMetadata;
  return { ...m, participants: m?.participants ?? [] };
}

function isMemberOf(group: GroupChat, me: string | undefined): boolean {
  return !!me && metadataOf(group).participants.some((p) => widOf(p.id) === me);
}

function groupInfoOf(group: GroupChat): GroupInfo {
  const m = metadataOf(group);
  return {
    id: group.id._serialized,
    subject: m.subject ?? group.name ?? "",
    description: m.desc ?? "",
    owner: widOf(m.owner) ?? null,
    createdAt: m.creation || null,
    participants: m.participants.map((p) => ({ id: widOf(p.id) ?? "", admin: p.isAdmin === true || p.isSuperAdmin === true, superAdmin: p.isSuperAdmin === true })),
    settings: { announce: m.announce === true, restrict: m.restrict === true },
  };
}

/** WhatsApp's status code of one participant's add, as a result. */
function addStatusOf(code: number | undefined): ParticipantStatus {
  switch (code) {
    case 200:
      return "added";
    case 403:
      return "invite_sent";
    case 404:
      return "not_on_whatsapp";
    case 409:
      return "already_member";
    case 419:
      throw new EngineError("GROUP_FULL", "The group has as many members as WhatsApp allows");
    default:
      throw new EngineError("ENGINE_ERROR", `WhatsApp could not add a participant (status ${String(code)})`);
  }
}

/** WhatsApp Web's `gp2` notification subtypes as group changes. */
const GROUP_CHANGES: Record<string, string> = {
  create: "create",
  add: "add",
  invite: "join",
  linked_group_join: "join",
  remove: "remove",
  leave: "leave",
  promote: "promote",
  demote: "demote",
  subject: "subject",
  description: "description",
  picture: "picture",
  announce: "settings",
  restrict: "settings",
  revoke_invite: "invite_revoked",
};

/** A chat with something in it (the library makes an empty one for any id it is asked about). */
const isStarted = (c: ChatSummary) => c.timestamp > 0 || c.lastMessage !== null;

/**
 * One page of `items` (newest first, in WhatsApp Web's own order) after the item named by
 * `q.before` (`<seconds>|<id>`); when that item is gone meanwhile, after its second.
 */
function pageAfterItem<T extends { id: string } & ({ timestamp: number } | { timestamp?: number })>(items: T[], q: PageQuery, idOf: (x: T) => string): EnginePage<T> {
  let rest = items;
  if (q.before !== undefined) {
    const m = /^(\d{1,12})\|(\S{1,300})$/.exec(q.before);
    if (!m) throw new EngineError("VALIDATION_ERROR", "Invalid cursor");
    const at = items.findIndex((x) => idOf(x) === m[2]);
    rest = at >= 0 ? items.slice(at + 1) : items.filter((x) => (x.timestamp ?? 0) < Number(m[1]));
  }
  const page = rest.slice(0, q.limit);
  const last = page[page.length - 1];
  return { items: page, next: rest.length > q.limit ? `${last.timestamp ?? 0}|${idOf(last)}` : undefined };
}


function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EngineError("ENGINE_TIMEOUT", `${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// The baileys engine's own store of chats, their recent messages, contacts and labels (Baileys keeps none):
// fed by what Baileys hears (history sync at link, live messages, app-state contacts), read by the
// chats, history, contacts and labels verbs. It lives in `auth/store/`, next to `auth/baileys/`, so a backup
// takes it with the auth and a logout or a relink clears it with the auth; it is written through the
// auth store's write path (temp file, fsync, rename, fsync of the folder; writes coalesced per file)
// and writes nothing once closed (the engine stopped: another node may own the session now).
//
// On disk: `chats.json` (every chat's summary: name, unread count, last message, order), one file per
// chat under `messages/` (its last MESSAGES_PER_CHAT messages, oldest first), `contacts.json` and
// `labels.json` (WhatsApp Business labels and the chats that carry them). One
// file per chat rather than an append-only log: a message rewrites only its chat's file, which the
// cap bounds (about 30 KB), a crash leaves the old file or the new (no torn record to repair), and a
// burst of messages to one chat is one write. In memory: the summaries and contacts, and the messages
// of the LOADED_CHATS chats used last (a thousand sessions do not each hold their whole history).
// A file that cannot be read is set aside (`<name>.corrupt`) and costs its content, never the session.
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { ChatSummary, ContactInfo, EnginePage, HistoryQuery, Label, PageQuery } from "../capabilities";
import { EngineError } from "../errors";
import { readJsonFile } from "../../json-file";
import type { EngineMessage } from "../types";
import { CoalescedFile } from "./auth-store";

export const STORE_SUBDIR = "store";
/** Messages kept per chat (the newest); older ones are forgotten as new ones arrive. */
export const MESSAGES_PER_CHAT = 100;
/** Chats kept (the most recently active); the oldest chat is forgotten with its messages past this. */
export const CHATS_KEPT = 1000;
/** Chats whose messages stay in memory between uses. */
const LOADED_CHATS = 4;
/** Message ids remembered in memory (id -> chat) for getMessage; an older id is looked for on disk. */
const IDS_KEPT = 2000;

export interface StoredMessage extends EngineMessage {
  /** The store's own order (ties within a second) */
  seq: number;
}

interface ChatRecord {
  id: string;
  /** A group's subject, a name history sync gave; null: named after the contact */
  name: string | null;
  unread: number;
  /** Unix seconds and seq of the last activity: the chat list's order */
  t: number;
  seq: number;
  last: StoredMessage | null;
  /** The store holds the chat's first message (the phone said there is nothing earlier) */
  first?: boolean;
}

export interface ContactRecord {
  /** `<phone>@c.us`, or `<lid>@lid` when the phone is unknown */
  id: string;
  lid: string | null;
  /** The name the account saved (app state, history sync) */
  name: string | null;
  /** The contact's own push name */
  notify: string | null;
}

type Log = (level: "warn" | "error", msg: string) => void;

export const position = (t: number, seq: number) => `${t}:${seq}`;
/**
 * A position from a cursor this store handed out: `<unix seconds>:<seq>` (a message fetched from the
 * phone's earlier history has a negative seq: it comes before every message of its second).
 */
export function parsePosition(before: string | undefined): { t: number; seq: number } | undefined {
  if (before === undefined) return undefined;
  const m = /^(\d{1,12}):(-?\d{1,15})$/.exec(before);
  if (!m) throw new EngineError("VALIDATION_ERROR", "Invalid cursor");
  return { t: Number(m[1]), seq: Number(m[2]) };
}
export const older = (a: { t: number; seq: number }, b: { t: number; seq: number }) => a.t < b.t || (a.t === b.t && a.seq < b.seq);
const fileOf = (chatId: string) => `${createHash("sha256").update(chatId).digest("hex").slice(0, 24)}.json`;
const strip = ({ seq: _seq, ...m }: StoredMessage): EngineMessage => m;

/** A page of a chat's stored messages, and what the engine needs to ask the phone for earlier ones. */
export interface StoredPage extends EnginePage<EngineMessage> {
  /** The scan ran past the chat's oldest stored message with the page still open to more */
  exhausted: boolean;
  /** The store holds the chat's first message: there is nothing earlier to ask for */
  first: boolean;
  /** The chat's oldest stored message (what an on-demand request names) */
  oldest?: EngineMessage;
  oldestAt?: string;
  /** The position of the page's last message (a cursor past it) */
  lastAt?: string;
}

export class BaileysStore {
  private closed = false;
  private seq = 0;
  /** The lowest seq handed out to earlier messages fetched from the phone (they count down from 0) */
  private low = 0;
  private readonly chats = new Map<string, ChatRecord>();
  private readonly contacts = new Map<string, ContactRecord>();
  /** WhatsApp Business labels (app state), and the labels on each chat */
  private readonly labels = new Map<string, Label>();
  private readonly chatLabels = new Map<string, Set<string>>();
  /** Messages of recently used chats (oldest first), least recently used first */
  private readonly loaded = new Map<string, StoredMessage[]>();
  /** Messages of chats with a write under way, whatever `loaded` forgot: what the write renders */
  private readonly unsaved = new Map<string, { messages: StoredMessage[]; writes: number }>();
  private readonly ids = new Map<string, string>();
  private readonly files = new Map<string, CoalescedFile>();
  /** Every change and read runs in order, one at a time (a chat's messages may have to be read first). */
  private work: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly log: Log,
    private readonly perChat: number,
  ) {}

  static async open(authDir: string, opts: { log?: Log; messagesPerChat?: number } = {}): Promise<BaileysStore> {
    const store = new BaileysStore(path.join(authDir, STORE_SUBDIR), opts.log ?? (() => undefined), opts.messagesPerChat ?? MESSAGES_PER_CHAT);
    const index = await store.readJson<{ seq: number; low?: number; chats: ChatRecord[] }>("chats.json");
    if (index && Array.isArray(index.chats)) {
      store.seq = Number(index.seq) || 0;
      store.low = Math.min(0, Number(index.low) || 0);
      for (const c of index.chats) if (typeof c?.id === "string") store.chats.set(c.id, c);
    }
    const contacts = await store.readJson<{ contacts: ContactRecord[] }>("contacts.json");
    for (const c of contacts?.contacts ?? []) if (typeof c?.id === "string") store.contacts.set(c.id, c);
    const labels = await store.readJson<{ labels: Label[]; chats: Record<string, string[]> }>("labels.json");
    for (const l of labels?.labels ?? []) if (typeof l?.id === "string") store.labels.set(l.id, l);
    for (const [chatId, ids] of Object.entries(labels?.chats ?? {})) if (Array.isArray(ids)) store.chatLabels.set(chatId, new Set(ids));
    return store;
  }

  /**
   * Writes what was changed before it (the engine closes the store once its connection is gone, so
   * nothing changes any more), then no write starts again: resolves once the store is on disk.
   */
  async close(): Promise<void> {
    await this.work;
    while ([...this.files.values()].some((f) => f.busy)) await Promise.all([...this.files.values()].map((f) => f.idle()));
    this.closed = true;
  }

  // --- what Baileys hears ---

  /**
   * Messages (history sync, live, own sends), each into its chat; one already stored is updated.
   * `unread`: incoming ones count as unread (live messages; history sync gives the count itself).
   */
  addMessages(messages: EngineMessage[], opts: { unread?: boolean } = {}): Promise<void> {
    return this.run(async () => {
      const byChat = new Map<string, EngineMessage[]>();
      for (const m of messages) {
        const chatId = chatIdOf(m);
        if (!byChat.has(chatId)) byChat.set(chatId, []);
        byChat.get(chatId)!.push(m);
      }
      for (const [chatId, list] of byChat) {
        const msgs = await this.messagesOf(chatId);
        const chat = this.chat(chatId);
        for (const m of list.sort((a, b) => a.timestamp - b.timestamp)) {
          const at = msgs.findIndex((x) => x.id === m.id);
          if (at >= 0) {
            msgs[at] = { ...msgs[at], ...m, seq: msgs[at].seq };
            continue;
          }
          const stored: StoredMessage = { ...m, chatId, seq: ++this.seq };
          // in order of (timestamp, seq): usually at the end
          let i = msgs.length;
          while (i > 0 && msgs[i - 1].timestamp > stored.timestamp) i--;
          msgs.splice(i, 0, stored);
          this.remember(stored.id, chatId);
          if (opts.unread && !m.fromMe) chat.unread++;
        }
        if (msgs.length > this.perChat) {
          for (const gone of msgs.splice(0, msgs.length - this.perChat)) this.ids.delete(gone.id);
          delete chat.first;
        }
        this.settleLast(chat, msgs);
        this.saveChat(chatId, msgs);
      }
      this.trimChats();
      this.saveIndex();
    });
  }

  /**
   * A chat's earlier messages, fetched from the phone (newest first), older than its oldest stored
   * message `anchorId`: as many as the chat has room for (MESSAGES_PER_CHAT), the ones next to what
   * it holds first; none if the chat's oldest is no longer `anchorId` (something changed since the
   * request), none twice. An empty answer means the chat holds its first message. Returns the
   * positions of those stored (id -> seq).
   */
  addEarlier(chatId: string, anchorId: string, earlier: EngineMessage[]): Promise<Map<string, number>> {
    return this.run(async () => {
      const stored = new Map<string, number>();
      const chat = this.chats.get(chatId);
      if (!chat) return stored;
      const msgs = await this.messagesOf(chatId);
      if (msgs[0]?.id !== anchorId) return stored;
      if (!earlier.length) {
        chat.first = true;
        this.saveIndex();
        return stored;
      }
      const known = new Set(msgs.map((m) => m.id));
      const fresh = earlier.filter((m) => !known.has(m.id)).slice(0, Math.max(0, this.perChat - msgs.length));
      if (!fresh.length) return stored;
      // oldest first, counting down below every seq handed out: each before the next, all before what was stored
      const base = this.low - fresh.length;
      const added = fresh.reverse().map((m, i): StoredMessage => ({ ...m, chatId, seq: base + i }));
      this.low = base;
      msgs.unshift(...added);
      for (const m of added) {
        stored.set(m.id, m.seq);
        this.remember(m.id, chatId);
      }
      this.saveChat(chatId, msgs);
      this.saveIndex();
      return stored;
    });
  }

  /** A change to a stored message (an ack, an edit, a revoke, a reaction); nothing if it is not stored. */
  updateMessage(chatId: string, id: string, change: (m: StoredMessage) => void): Promise<void> {
    return this.run(async () => {
      if (!this.chats.has(chatId)) return;
      const msgs = await this.messagesOf(chatId);
      const m = msgs.find((x) => x.id === id);
      if (!m) return;
      change(m);
      const chat = this.chats.get(chatId)!;
      if (chat.last?.id === id) chat.last = { ...m };
      this.saveChat(chatId, msgs);
      this.saveIndex();
    });
  }

  /** A message deleted for this account. */
  removeMessage(chatId: string, id: string): Promise<void> {
    return this.run(async () => {
      if (!this.chats.has(chatId)) return;
      const msgs = await this.messagesOf(chatId);
      const at = msgs.findIndex((x) => x.id === id);
      if (at < 0) return;
      msgs.splice(at, 1);
      this.ids.delete(id);
      const chat = this.chats.get(chatId)!;
      if (chat.last?.id === id) chat.last = msgs.length ? { ...msgs[msgs.length - 1] } : null;
      this.saveChat(chatId, msgs);
      this.saveIndex();
    });
  }

  /** A chat's own facts (history sync, chats.upsert/update): its name, its unread count, its time. */
  updateChat(chatId: string, change: { name?: string | null; unread?: number | "increment" | null; t?: number }): Promise<void> {
    return this.run(async () => {
      const chat = this.chat(chatId);
      if (change.name) chat.name = change.name;
      if (change.unread === "increment") chat.unread++;
      else if (typeof change.unread === "number" && change.unread >= 0) chat.unread = change.unread;
      if (change.t && change.t > chat.t && !chat.last) chat.t = change.t;
      this.trimChats();
      this.saveIndex();
    });
  }

  deleteChat(chatId: string): Promise<void> {
    return this.run(async () => {
      if (!this.chats.delete(chatId)) return;
      this.forgetChat(chatId);
      this.saveIndex();
    });
  }

  /** Contacts (history sync, app state, push names): known fields are merged into what is stored. */
  updateContacts(list: Array<{ id: string; lid?: string | null; name?: string | null; notify?: string | null }>): Promise<void> {
    return this.run(async () => {
      let changed = false;
      for (const c of list) {
        const id = personIdOf(c.id);
        if (!id) continue;
        const lid = c.lid ? c.lid.replace(/:\d+@/, "@") : undefined;
        const was = this.contacts.get(id) ?? { id, lid: id.endsWith("@lid") ? id : null, name: null, notify: null };
        const next: ContactRecord = { ...was, ...(lid ? { lid } : {}), ...(c.name ? { name: c.name } : {}), ...(c.notify ? { notify: c.notify } : {}) };
        if (JSON.stringify(next) === JSON.stringify(was) && this.contacts.has(id)) continue;
        this.contacts.set(id, next);
        changed = true;
      }
      if (changed) this.saveContacts();
    });
  }

  /** A label made, changed or deleted (app state `label_edit`). */
  editLabel(label: Label & { deleted?: boolean }): Promise<void> {
    return this.run(async () => {
      if (label.deleted) {
        this.labels.delete(label.id);
        for (const ids of this.chatLabels.values()) ids.delete(label.id);
      } else this.labels.set(label.id, { id: label.id, name: label.name, color: label.color });
      this.saveLabels();
    });
  }

  /** A label put on a chat or taken off (app state `label_jid`); true when that changed anything. */
  labelChat(chatId: string, labelId: string, on: boolean): Promise<boolean> {
    return this.run(async () => {
      const ids = this.chatLabels.get(chatId) ?? new Set<string>();
      if (ids.has(labelId) === on) return false;
      if (on) ids.add(labelId);
      else ids.delete(labelId);
      if (ids.size) this.chatLabels.set(chatId, ids);
      else this.chatLabels.delete(chatId);
      this.saveLabels();
      return true;
    });
  }

  // --- what the verbs read ---

  /** The labels, by id (WhatsApp numbers them in the order they were made). */
  listLabels(): Promise<Label[]> {
    return this.run(async () => [...this.labels.values()].sort((a, b) => Number(a.id) - Number(b.id) || (a.id < b.id ? -1 : 1)).map((l) => ({ ...l })));
  }

  getLabel(id: string): Promise<Label | undefined> {
    return this.run(async () => {
      const l = this.labels.get(id);
      return l && { ...l };
    });
  }

  /** A chat's labels; undefined for a chat the store does not know. */
  labelsOfChat(chatId: string): Promise<Label[] | undefined> {
    return this.run(async () => {
      if (!this.chats.has(chatId)) return undefined;
      return [...(this.chatLabels.get(chatId) ?? [])].flatMap((id) => (this.labels.has(id) ? [{ ...this.labels.get(id)! }] : []));
    });
  }

  async listChats(q: PageQuery): Promise<EnginePage<ChatSummary>> {
    const before = parsePosition(q.before);
    return this.run(async () => {
      const sorted = [...this.chats.values()].filter((c) => !before || older(c, before)).sort((a, b) => (older(a, b) ? 1 : -1));
      const page = sorted.slice(0, q.limit);
      const last = page[page.length - 1];
      return { items: page.map((c) => this.summaryOf(c)), ...(sorted.length > q.limit ? { next: position(last.t, last.seq) } : {}) };
    });
  }

  getChat(chatId: string): Promise<ChatSummary | undefined> {
    return this.run(async () => {
      const c = this.chats.get(chatId);
      return c && this.summaryOf(c);
    });
  }

  /** A chat's messages, newest first; undefined for a chat the store does not know. */
  async listMessages(chatId: string, q: HistoryQuery): Promise<EnginePage<EngineMessage> | undefined> {
    const page = await this.pageMessages(chatId, q);
    return page && { items: page.items, ...(page.next ? { next: page.next } : {}) };
  }

  /** A page of a chat's stored messages, newest first, and whether it ran past the oldest (undefined: no such chat). */
  async pageMessages(chatId: string, q: HistoryQuery): Promise<StoredPage | undefined> {
    const before = parsePosition(q.before);
    return this.run(async () => {
      const chat = this.chats.get(chatId);
      if (!chat) return undefined;
      const msgs = await this.messagesOf(chatId);
      const items: StoredMessage[] = [];
      let more = false;
      let stopped = false;
      for (let i = msgs.length - 1; i >= 0; i--) {
        const m = msgs[i];
        if (before && !older({ t: m.timestamp, seq: m.seq }, before)) continue;
        if (q.since !== undefined && m.timestamp < q.since) {
          stopped = true;
          break;
        }
        if (q.fromMe !== undefined && m.fromMe !== q.fromMe) continue;
        if (items.length === q.limit) {
          more = true;
          break;
        }
        items.push(m);
      }
      const last = items[items.length - 1];
      return {
        items: items.map(strip),
        ...(more ? { next: position(last.timestamp, last.seq) } : {}),
        ...(last ? { lastAt: position(last.timestamp, last.seq) } : {}),
        exhausted: !more && !stopped,
        first: chat.first === true,
        ...(msgs.length ? { oldest: strip(msgs[0]), oldestAt: position(msgs[0].timestamp, msgs[0].seq) } : {}),
      };
    });
  }

  getMessage(id: string): Promise<EngineMessage | undefined> {
    return this.run(async () => {
      const known = this.ids.get(id);
      // an id not remembered: its chat is looked for, the chats used last first
      const order = known ? [known] : [...new Set([...this.loaded.keys()].reverse().concat([...this.chats.keys()]))];
      for (const chatId of order) {
        if (!this.chats.has(chatId)) continue;
        const m = (await this.messagesOf(chatId)).find((x) => x.id === id);
        if (m) return strip(m);
      }
      return undefined;
    });
  }

  /** Contacts by id ascending, after `before` (the last id of the previous page). */
  listContacts(q: PageQuery): Promise<EnginePage<ContactRecord>> {
    return this.run(async () => {
      const sorted = [...this.allContacts().values()].filter((c) => q.before === undefined || c.id > q.before).sort((a, b) => (a.id < b.id ? -1 : 1));
      const page = sorted.slice(0, q.limit);
      return { items: page, ...(sorted.length > q.limit ? { next: page[page.length - 1].id } : {}) };
    });
  }

  /** A contact by `<phone>@c.us` or by its `<lid>@lid`. */
  getContact(id: string): Promise<ContactRecord | undefined> {
    return this.run(async () => {
      const all = this.allContacts();
      return all.get(id) ?? [...all.values()].find((c) => c.lid === id);
    });
  }

  // --- inside ---

  /** The stored contacts and everyone the account has a 1:1 chat with. */
  private allContacts(): Map<string, ContactRecord> {
    const all = new Map(this.contacts);
    for (const id of this.chats.keys()) if (id.endsWith("@c.us") && !all.has(id)) all.set(id, { id, lid: null, name: null, notify: null });
    return all;
  }

  private summaryOf(c: ChatRecord): ChatSummary {
    const contact = this.contacts.get(c.id);
    const name = c.name ?? contact?.name ?? contact?.notify ?? c.id.split("@")[0];
    return { id: c.id, name, isGroup: c.id.endsWith("@g.us"), unreadCount: c.unread, timestamp: c.t, lastMessage: c.last ? strip(c.last) : null };
  }

  private chat(chatId: string): ChatRecord {
    let c = this.chats.get(chatId);
    if (!c) this.chats.set(chatId, (c = { id: chatId, name: null, unread: 0, t: 0, seq: ++this.seq, last: null }));
    return c;
  }

  private settleLast(chat: ChatRecord, msgs: StoredMessage[]): void {
    const last = msgs[msgs.length - 1];
    chat.last = last ? { ...last } : null;
    if (last && (last.timestamp > chat.t || (last.timestamp === chat.t && last.seq > chat.seq))) {
      chat.t = last.timestamp;
      chat.seq = last.seq;
    }
  }

  /** Past CHATS_KEPT chats, the least recently active ones are forgotten. */
  private trimChats(): void {
    if (this.chats.size <= CHATS_KEPT) return;
    const sorted = [...this.chats.values()].sort((a, b) => (older(a, b) ? -1 : 1));
    for (const c of sorted.slice(0, this.chats.size - CHATS_KEPT)) {
      this.chats.delete(c.id);
      this.forgetChat(c.id);
    }
  }

  private forgetChat(chatId: string): void {
    for (const m of this.loaded.get(chatId) ?? []) this.ids.delete(m.id);
    this.loaded.delete(chatId);
    this.unsaved.delete(chatId);
    if (!this.closed) void fs.rm(path.join(this.dir, "messages", fileOf(chatId)), { force: true }).catch(() => undefined);
  }

  private remember(id: string, chatId: string): void {
    this.ids.delete(id);
    this.ids.set(id, chatId);
    if (this.ids.size > IDS_KEPT) this.ids.delete(this.ids.keys().next().value!);
  }

  /** A chat's messages, oldest first: from memory, or read from its file. */
  private async messagesOf(chatId: string): Promise<StoredMessage[]> {
    let msgs = this.loaded.get(chatId) ?? this.unsaved.get(chatId)?.messages;
    if (!msgs) {
      const file = await this.readJson<{ chatId: string; messages: StoredMessage[] }>(path.join("messages", fileOf(chatId)));
      msgs = file?.chatId === chatId && Array.isArray(file.messages) ? file.messages : [];
    }
    this.loaded.delete(chatId);
    this.loaded.set(chatId, msgs);
    while (this.loaded.size > LOADED_CHATS) this.loaded.delete(this.loaded.keys().next().value!);
    return msgs;
  }

  private saveChat(chatId: string, msgs: StoredMessage[]): void {
    const entry = this.unsaved.get(chatId);
    if (entry) {
      entry.messages = msgs;
      entry.writes++;
    } else this.unsaved.set(chatId, { messages: msgs, writes: 1 });
    const name = path.join("messages", fileOf(chatId));
    const done = () => {
      const e = this.unsaved.get(chatId);
      if (e && --e.writes <= 0) this.unsaved.delete(chatId);
    };
    this.file(name, () => ({ chatId, messages: this.unsaved.get(chatId)?.messages ?? this.loaded.get(chatId) ?? [] }))
      .write()
      .then(done, (err: Error) => {
        done();
        this.log("error", `cannot save the chat ${chatId}: ${err.message}`);
      });
  }

  private saveIndex(): void {
    this.file("chats.json", () => ({ seq: this.seq, low: this.low, chats: [...this.chats.values()] }))
      .write()
      .catch((err: Error) => this.log("error", `cannot save the chat list: ${err.message}`));
  }

  private saveLabels(): void {
    this.file("labels.json", () => ({ labels: [...this.labels.values()], chats: Object.fromEntries([...this.chatLabels].map(([c, ids]) => [c, [...ids]])) }))
      .write()
      .catch((err: Error) => this.log("error", `cannot save the labels: ${err.message}`));
  }

  private saveContacts(): void {
    this.file("contacts.json", () => ({ contacts: [...this.contacts.values()] }))
      .write()
      .catch((err: Error) => this.log("error", `cannot save the contacts: ${err.message}`));
  }

  private file(name: string, value: () => unknown): CoalescedFile {
    let f = this.files.get(name);
    if (!f) this.files.set(name, (f = new CoalescedFile(path.join(this.dir, name), () => JSON.stringify(value()), () => this.closed)));
    return f;
  }

  /** A file's JSON; undefined when it is missing, or unreadable (then set aside as `<name>.corrupt`). */
  private async readJson<T>(name: string): Promise<T | undefined> {
    const file = path.join(this.dir, name);
    return readJsonFile<T>(file, async (err) => {
      this.log("warn", `the store's ${name} is not readable (${err.message}): set aside, its content is lost`);
      if (!this.closed) await fs.rename(file, `${file}.corrupt`).catch(() => undefined);
      return undefined;
    });
  }

  private run<T>(step: () => Promise<T>): Promise<T> {
    const p = this.work.then(step);
    this.work = p.catch(() => undefined);
    return p;
  }
}

/** The chat a message belongs to. */
function chatIdOf(m: EngineMessage): string {
  return m.chatId ?? (m.fromMe ? m.to : m.from);
}

/** `<phone>@s.whatsapp.net` / `<phone>@c.us` -> `<phone>@c.us`, `<lid>@lid` as it is; others: none. */
export function personIdOf(jid: string): string | undefined {
  const [user, server] = jid.split("@");
  const u = user?.split(":")[0];
  if (!u) return undefined;
  if (server === "s.whatsapp.net" || server === "c.us") return `${u}@c.us`;
  if (server === "lid") return `${u}@lid`;
  return undefined;
}

/** A stored contact as the contacts verbs give it (what only WhatsApp's server knows is added by the engine). */
export function contactInfoOf(c: ContactRecord): ContactInfo {
  const phone = c.id.endsWith("@c.us") ? c.id.split("@")[0] : null;
  return { id: c.id, phone, lid: c.lid, name: c.name, pushname: c.notify, isBusiness: false, about: null, pictureUrl: null, blocked: false };
}

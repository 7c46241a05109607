// What the simulated network keeps for each account, as WhatsApp's servers and the phone do: chats
// and their history (replies, mentions, reactions, edits, revokes, polls and votes, read state),
// the address book, blocked contacts; and every phone's public profile (LID, names, business flag,
// about, picture). It is the oracle the capabilities are tested against, so it has its own tests.
import { createHash } from "node:crypto";
import type { AckLevel } from "../whatsapp";
import { ACK_LEVELS, userJid } from "../whatsapp";
import type { SimChat, SimContact, SimHistoryMessage } from "./protocol";

export interface SimProfile {
  name?: string;
  pushname?: string;
  isBusiness?: boolean;
  about?: string | null;
  pictureUrl?: string | null;
  /** false: the phone is not on WhatsApp */
  onWhatsApp?: boolean;
  /** WhatsApp's "Who can add me to groups": everyone (default), my contacts, nobody */
  addToGroups?: "everyone" | "contacts" | "nobody";
}

interface ChatState {
  id: string;
  /** Oldest first (seq ascending) */
  messages: SimHistoryMessage[];
  unread: number;
  /** seq of the last message: orders chats, newest first */
  lastSeq: number;
}

interface AccountState {
  phone: string;
  chats: Map<string, ChatState>;
  byId: Map<string, SimHistoryMessage>;
  blocked: Set<string>;
  /** Address book: phone -> the name the account saved */
  book: Map<string, string>;
  /** What the account last showed each chat (typing, recording, paused) */
  presence: Map<string, string>;
  seq: number;
}

export interface AccountsSnapshot {
  accounts: Array<{ phone: string; seq: number; messages: SimHistoryMessage[]; unread: Record<string, number>; blocked: string[]; book: Record<string, string> }>;
  profiles: Record<string, SimProfile>;
}

export const PAGE_MAX = 100;
const phoneOf = (jid: string) => jid.replace(/@.*$/, "");

/** A phone's privacy id (LID): stable digits derived from the phone, as WhatsApp assigns one per account. */
export function lidOf(phone: string): string {
  const h = createHash("sha256").update(`lid:${phone}`).digest();
  return (h.readBigUInt64BE(0) % 10n ** 15n).toString().padStart(15, "1");
}

export class SimAccounts {
  private readonly accounts = new Map<string, AccountState>();
  private readonly profiles = new Map<string, SimProfile>();
  private readonly phoneByLid = new Map<string, string>();

  /** A group chat's name (its subject), from the network's groups. */
  groupName: ((groupId: string) => string | undefined) | undefined;

  constructor(private readonly onChange: () => void = () => {}) {}

  // --- profiles ---

  setProfile(phone: string, profile: SimProfile): void {
    this.profiles.set(phone, { ...this.profiles.get(phone), ...profile });
    this.remember(phone);
    this.onChange();
  }

  /** The phone's profile as it set it (defaults absent). */
  profile(phone: string): SimProfile {
    return { ...this.profiles.get(phone) };
  }

  onWhatsApp(phone: string): boolean {
    return this.profiles.get(phone)?.onWhatsApp !== false;
  }

  /** The phone behind a LID this network has seen, or undefined. */
  phoneOfLid(lid: string): string | undefined {
    return this.phoneByLid.get(lid);
  }

  /** `phone`'s contact card as `account` sees it (its own saved name, its block list). */
  contact(account: string, phone: string): SimContact {
    this.remember(phone);
    const p = this.profiles.get(phone) ?? {};
    const a = this.accounts.get(account);
    return {
      id: userJid(phone),
      phone,
      lid: lidOf(phone),
      name: a?.book.get(phone) ?? p.name ?? null,
      pushname: p.pushname ?? `Sim ${phone}`,
      isBusiness: p.isBusiness === true,
      about: p.about === undefined ? "Hey there! I am using WhatsApp." : p.about,
      pictureUrl: p.pictureUrl ?? null,
      blocked: a?.blocked.has(phone) === true,
    };
  }

  // --- history ---

  /** Adds a message to `account`'s history (its chat with `chatId`); incoming ones count as unread. */
  record(account: string, message: Omit<SimHistoryMessage, "seq">): SimHistoryMessage {
    const a = this.account(account);
    if (a.byId.has(message.id)) return a.byId.get(message.id)!;
    const m: SimHistoryMessage = { ...message, seq: ++a.seq };
    let chat = a.chats.get(m.chatId);
    if (!chat) a.chats.set(m.chatId, (chat = { id: m.chatId, messages: [], unread: 0, lastSeq: 0 }));
    chat.messages.push(m);
    chat.lastSeq = m.seq;
    if (!m.fromMe) chat.unread++;
    a.byId.set(m.id, m);
    if (m.chatId.endsWith("@c.us")) this.remember(phoneOf(m.chatId));
    this.onChange();
    return m;
  }

  message(account: string, id: string): SimHistoryMessage | undefined {
    return this.accounts.get(account)?.byId.get(id);
  }

  /** An own message's ack only goes up (ERROR stays ERROR). */
  setAck(account: string, id: string, ack: AckLevel): void {
    const m = this.message(account, id);
    if (!m || !m.fromMe || m.ack === "ERROR") return;
    if (ack === "ERROR" || ACK_LEVELS.indexOf(ack) > ACK_LEVELS.indexOf(m.ack ?? "PENDING")) {
      m.ack = ack;
      this.onChange();
    }
  }

  /** Chats, most recent activity first, after position `before` (a previous page's last lastSeq). */
  chats(account: string, limit: number, before?: number): { items: SimChat[]; next?: number } {
    const a = this.accounts.get(account);
    if (!a) return { items: [] };
    const sorted = [...a.chats.values()].filter((c) => before === undefined || c.lastSeq < before).sort((x, y) => y.lastSeq - x.lastSeq);
    const page = sorted.slice(0, limit);
    return { items: page.map((c) => this.chatView(account, c)), next: sorted.length > limit ? page[page.length - 1].lastSeq : undefined };
  }

  chat(account: string, chatId: string): SimChat | undefined {
    const c = this.accounts.get(account)?.chats.get(chatId);
    return c && this.chatView(account, c);
  }

  /** A chat's messages, newest first, before seq `before`; undefined for an unknown chat. */
  messages(account: string, chatId: string, q: { limit: number; before?: number; since?: number; fromMe?: boolean }): { items: SimHistoryMessage[]; next?: number } | undefined {
    const chat = this.accounts.get(account)?.chats.get(chatId);
    if (!chat) return undefined;
    const list = chat.messages;
    // the first index at or past `before` (binary search: seq ascends)
    let hi = list.length;
    if (q.before !== undefined) {
      let lo = 0;
      hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid].seq < q.before) lo = mid + 1;
        else hi = mid;
      }
    }
    const items: SimHistoryMessage[] = [];
    for (let i = hi - 1; i >= 0; i--) {
      const m = list[i];
      if (q.since !== undefined && m.timestamp < q.since) return { items };
      if (q.fromMe !== undefined && m.fromMe !== q.fromMe) continue;
      if (items.length === q.limit) return { items, next: items[items.length - 1].seq };
      items.push(m);
    }
    return { items };
  }

  /** `from`'s reaction on a message of `account`'s history ("" removes it). False: no such message. */
  react(account: string, id: string, from: string, emoji: string): SimHistoryMessage | undefined {
    const m = this.message(account, id);
    if (!m || m.revoked) return undefined;
    const reactions = { ...m.reactions };
    if (emoji) reactions[from] = emoji;
    else delete reactions[from];
    m.reactions = reactions;
    if (!Object.keys(reactions).length) delete m.reactions;
    this.onChange();
    return m;
  }

  /** The sender edits its text message (no media, polls or revoked messages). */
  edit(account: string, id: string, body: string, bySender: boolean): SimHistoryMessage | undefined {
    const m = this.message(account, id);
    if (!m || m.revoked || m.fromMe !== bySender || m.type !== "text") return undefined;
    m.body = body;
    m.edited = true;
    this.onChange();
    return m;
  }

  /** Revoked for everyone: the message stays as a "deleted" placeholder, its content gone. */
  revoke(account: string, id: string, bySender: boolean): SimHistoryMessage | undefined {
    const m = this.message(account, id);
    if (!m || m.fromMe !== bySender) return undefined;
    if (m.revoked) return m;
    m.revoked = true;
    m.type = "revoked";
    m.body = "";
    for (const k of ["media", "location", "vcard", "poll", "reactions", "votes", "mentions"] as const) delete m[k];
    this.onChange();
    return m;
  }

  /** Deleted for me: gone from this account's history only. */
  deleteForMe(account: string, id: string): boolean {
    const a = this.accounts.get(account);
    const m = a?.byId.get(id);
    if (!a || !m) return false;
    const chat = a.chats.get(m.chatId)!;
    chat.messages = chat.messages.filter((x) => x !== m);
    a.byId.delete(id);
    this.onChange();
    return true;
  }

  vote(account: string, id: string, voter: string, options: string[]): SimHistoryMessage | undefined {
    const m = this.message(account, id);
    if (!m?.poll || m.revoked) return undefined;
    const valid = options.filter((o) => m.poll!.options.includes(o));
    if (valid.length !== options.length || (!m.poll.multiple && valid.length > 1)) return undefined;
    m.votes = { ...m.votes, [voter]: valid };
    this.onChange();
    return m;
  }

  /** The account read the chat: unread back to 0; returns the incoming messages newly read. */
  markRead(account: string, chatId: string): SimHistoryMessage[] | undefined {
    const chat = this.accounts.get(account)?.chats.get(chatId);
    if (!chat) return undefined;
    const newly = chat.unread ? chat.messages.filter((m) => !m.fromMe).slice(-chat.unread) : [];
    chat.unread = 0;
    this.onChange();
    return newly;
  }

  setPresence(account: string, chatId: string, state: string): void {
    this.account(account).presence.set(chatId, state);
  }

  presence(account: string): Record<string, string> {
    return Object.fromEntries(this.accounts.get(account)?.presence ?? []);
  }

  // --- contacts ---

  /** The address book and everyone the account has a chat with, by phone ascending, after `after`. */
  contacts(account: string, limit: number, after?: string): { items: SimContact[]; next?: string } {
    const a = this.accounts.get(account);
    if (!a) return { items: [] };
    const phones = new Set<string>(a.book.keys());
    for (const id of a.chats.keys()) if (id.endsWith("@c.us")) phones.add(phoneOf(id));
    const sorted = [...phones].filter((p) => after === undefined || p > after).sort();
    const page = sorted.slice(0, limit);
    return { items: page.map((p) => this.contact(account, p)), next: sorted.length > limit ? page[page.length - 1] : undefined };
  }

  /** Whether `account` knows `phone` (address book or a chat). */
  knows(account: string, phone: string): boolean {
    const a = this.accounts.get(account);
    return !!a && (a.book.has(phone) || a.chats.has(userJid(phone)));
  }

  saveContact(account: string, phone: string, name: string): void {
    this.account(account).book.set(phone, name);
    this.remember(phone);
    this.onChange();
  }

  setBlocked(account: string, phone: string, blocked: boolean): void {
    const a = this.account(account);
    if (blocked) a.blocked.add(phone);
    else a.blocked.delete(phone);
    this.onChange();
  }

  blocked(account: string): string[] {
    return [...(this.accounts.get(account)?.blocked ?? [])].sort();
  }

  isBlocked(account: string, phone: string): boolean {
    return this.accounts.get(account)?.blocked.has(phone) === true;
  }

  // --- persistence ---

  snapshot(): AccountsSnapshot {
    return {
      accounts: [...this.accounts.values()].map((a) => ({
        phone: a.phone,
        seq: a.seq,
        messages: [...a.chats.values()].flatMap((c) => c.messages),
        unread: Object.fromEntries([...a.chats.values()].map((c) => [c.id, c.unread])),
        blocked: [...a.blocked],
        book: Object.fromEntries(a.book),
      })),
      profiles: Object.fromEntries(this.profiles),
    };
  }

  restore(snapshot?: AccountsSnapshot): void {
    this.accounts.clear();
    this.profiles.clear();
    this.phoneByLid.clear();
    if (!snapshot) return;
    for (const [phone, p] of Object.entries(snapshot.profiles ?? {})) {
      this.profiles.set(phone, p);
      this.remember(phone);
    }
    for (const s of snapshot.accounts ?? []) {
      const a = this.account(s.phone);
      for (const m of [...s.messages].sort((x, y) => x.seq - y.seq)) {
        let chat = a.chats.get(m.chatId);
        if (!chat) a.chats.set(m.chatId, (chat = { id: m.chatId, messages: [], unread: 0, lastSeq: 0 }));
        chat.messages.push(m);
        chat.lastSeq = m.seq;
        a.byId.set(m.id, m);
        this.remember(phoneOf(m.chatId));
      }
      for (const [id, n] of Object.entries(s.unread)) {
        const chat = a.chats.get(id);
        if (chat) chat.unread = n;
      }
      a.seq = s.seq;
      for (const p of s.blocked) a.blocked.add(p);
      for (const [p, n] of Object.entries(s.book)) a.book.set(p, n);
    }
  }

  // --- internals ---

  private account(phone: string): AccountState {
    let a = this.accounts.get(phone);
    if (!a) {
      a = { phone, chats: new Map(), byId: new Map(), blocked: new Set(), book: new Map(), presence: new Map(), seq: 0 };
      this.accounts.set(phone, a);
      this.remember(phone);
    }
    return a;
  }

  private remember(phone: string): void {
    if (/^\d+$/.test(phone)) this.phoneByLid.set(lidOf(phone), phone);
  }

  private chatView(account: string, c: ChatState): SimChat {
    const last = c.messages[c.messages.length - 1] ?? null;
    if (c.id.endsWith("@g.us")) return { id: c.id, name: this.groupName?.(c.id) ?? c.id, unreadCount: c.unread, timestamp: last?.timestamp ?? 0, lastMessage: last };
    const phone = phoneOf(c.id);
    const contact = this.contact(account, phone);
    return { id: c.id, name: contact.name ?? contact.pushname, unreadCount: c.unread, timestamp: last?.timestamp ?? 0, lastMessage: last };
  }
}

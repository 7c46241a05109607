// A chat's history further back than the baileys engine's store holds: WhatsApp's multi-device
// answer is an on-demand history sync. Baileys' `fetchMessageHistory(count, oldestKey, oldestMs)`
// sends the account's phone a peer-data-operation request (HISTORY_SYNC_ON_DEMAND); the phone answers
// with a HISTORY_SYNC_NOTIFICATION of type ON_DEMAND naming the request (`peerDataRequestSessionId`).
// The engine reads that notification from the protocol message Baileys upserts, with Baileys' own
// `downloadAndProcessHistorySyncNotification`, rather than from `messaging-history.set`: Baileys'
// event buffer passes each history message key once per connection (its `historyCache`), so a chunk
// asked for twice on one connection (a listing paged again past the store) would come back empty,
// which reads as the chat's beginning. (Baileys is told not to process ON_DEMAND itself, so it is
// decoded once.) A history page that reaches past the chat's oldest
// stored message asks for the messages before it, a chunk at a time: those the chat has room for
// (MESSAGES_PER_CHAT) join the store, once each; the rest are handed out and not kept, with a cursor
// that names the message to ask before (`<unix second>:<0|1 fromMe>:<id>`). An empty answer means the
// chat's first message is reached (noted in the store, so the phone is not asked again).
import type { EnginePage, HistoryQuery } from "../capabilities";
import { EngineError } from "../errors";
import type { EngineMessage } from "../types";
import { loadBaileys } from "./library";
import type { BaileysStore } from "./store";
import { older, parsePosition, position } from "./store";

/** Messages asked for at a time (a phone answers in chunks of 50). */
export const ON_DEMAND_COUNT = 50;
/** Chunks asked for at most while filling one page (a page of own messages in a chat of others' may stay short, with a cursor). */
export const ON_DEMAND_ROUNDS = 4;
/** Answers that came before anyone waited for them, kept at most. */
const EARLY_KEPT = 16;

/** A message the phone knows, as a request names it. */
interface Anchor {
  id: string;
  fromMe: boolean;
  timestamp: number;
}

/** A cursor past a message the store does not keep: `<unix second>:<0|1>:<id>`. */
const phoneCursor = (m: Anchor) => `${m.timestamp}:${m.fromMe ? 1 : 0}:${m.id}`;
function parsePhoneCursor(before: string | undefined): Anchor | undefined {
  const m = before === undefined ? null : /^(\d{1,12}):([01]):([A-Za-z0-9._-]{1,128})$/.exec(before);
  return m ? { timestamp: Number(m[1]), fromMe: m[2] === "1", id: m[3] } : undefined;
}

interface Waiter {
  resolve(messages: Promise<any[]>): void;
  reject(err: Error): void;
}

export interface OnDemandHistoryOptions {
  /** The connected socket (throws SESSION_NOT_READY when there is none) */
  sock: () => any;
  /** How long one request waits for the phone's answer */
  timeoutMs: number;
  /** A Baileys message in the engine's terms; undefined for what is no chat message */
  messageOf: (m: any) => EngineMessage | undefined;
}

export class OnDemandHistory {
  private readonly waiting = new Map<string, Waiter>();
  private readonly early = new Map<string, Promise<any[]>>();
  /** One request at a time (each page's requests depend on the answer before) */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: OnDemandHistoryOptions) {}

  /** Hears this connection's ON_DEMAND answers (the phone's own peer messages), while `current()` says it is the engine's. */
  attach(sock: any, current: () => boolean): void {
    const b = loadBaileys();
    const ON_DEMAND = b.proto.HistorySync.HistorySyncType.ON_DEMAND;
    sock.ev.on("messages.upsert", (u: { messages: any[] }) => {
      if (!current()) return;
      for (const m of u.messages) {
        // (only the account's own devices speak for its phone)
        const n = m.key?.fromMe ? b.normalizeMessageContent(m.message)?.protocolMessage?.historySyncNotification : undefined;
        const id: string | undefined = n?.peerDataRequestSessionId;
        if (!n || n.syncType !== ON_DEMAND || !id) continue;
        const messages: Promise<any[]> = Promise.resolve(b.downloadAndProcessHistorySyncNotification(n, {})).then(
          (data: { messages?: any[] }) => data.messages ?? [],
          (err: Error) => {
            throw new EngineError("ENGINE_ERROR", `The phone's earlier messages could not be read: ${err.message}`);
          },
        );
        messages.catch(() => undefined);
        const w = this.waiting.get(id);
        if (w) {
          w.resolve(messages);
          continue;
        }
        this.early.set(id, messages);
        if (this.early.size > EARLY_KEPT) this.early.delete(this.early.keys().next().value!);
      }
    });
  }

  /** The connection closed: every request waiting fails. */
  fail(err: Error): void {
    for (const w of [...this.waiting.values()]) w.reject(err);
    this.early.clear();
  }

  /**
   * One page of a chat's messages, newest first: the store's, then the phone's earlier ones when the
   * page reaches past the store's oldest (undefined: a chat the store does not know).
   */
  async page(store: BaileysStore, chatId: string, q: HistoryQuery): Promise<EnginePage<EngineMessage> | undefined> {
    const fromPhone = parsePhoneCursor(q.before);
    const items: EngineMessage[] = [];
    let anchor: Anchor;
    let storing = false;
    let lastAt: string | undefined;
    /** A store cursor older than the store's oldest (its message was forgotten since): what the phone gives past it is skipped */
    let cutoff: { t: number; seq: number } | undefined;
    if (fromPhone) {
      if (!(await store.getChat(chatId))) return undefined;
      anchor = fromPhone;
    } else {
      const page = await store.pageMessages(chatId, q);
      if (!page) return undefined;
      if (!page.exhausted || page.first || !page.oldest) return { items: page.items, ...(page.next ? { next: page.next } : {}) };
      items.push(...page.items);
      lastAt = page.lastAt;
      anchor = page.oldest;
      storing = true;
      const before = parsePosition(q.before);
      if (before && older(before, parsePosition(page.oldestAt)!)) cutoff = before;
    }
    for (let round = 0; round < ON_DEMAND_ROUNDS; round++) {
      const answer = await this.ask(chatId, anchor);
      const seqs = storing ? await store.addEarlier(chatId, anchor.id, answer.messages) : new Map<string, number>();
      // what was not kept is not next to the store's oldest: later answers are not kept either
      if (seqs.size < answer.messages.length) storing = false;
      if (!answer.oldest) return { items };
      for (const m of answer.messages) {
        const seq = seqs.get(m.id);
        if (cutoff && !(m.timestamp < cutoff.t || (seq !== undefined && older({ t: m.timestamp, seq }, cutoff)))) continue;
        if (q.since !== undefined && m.timestamp < q.since) return { items };
        if (q.fromMe !== undefined && m.fromMe !== q.fromMe) continue;
        if (items.length === q.limit) return { items, next: lastAt! };
        items.push(m);
        lastAt = seq !== undefined ? position(m.timestamp, seq) : phoneCursor(m);
      }
      anchor = answer.oldest;
    }
    // not filled within the bound: a short page, continued from the last message the phone gave
    return { items, next: phoneCursor(anchor) };
  }

  /** The phone's messages of a chat before `anchor`, newest first, and the oldest of them as the phone named it. */
  private ask(chatId: string, anchor: Anchor): Promise<{ messages: EngineMessage[]; oldest?: Anchor }> {
    const run = this.queue.then(async () => {
      const sock = this.opts.sock();
      const remoteJid = chatId.endsWith("@c.us") ? chatId.replace(/@c\.us$/, "@s.whatsapp.net") : chatId;
      const requestId: string = await sock.fetchMessageHistory(ON_DEMAND_COUNT, { remoteJid, fromMe: anchor.fromMe, id: anchor.id }, anchor.timestamp * 1000);
      const raw = await this.answerTo(requestId);
      // newest first (the phone's order; a stable sort keeps it within a second)
      const sorted = raw.filter((m) => m?.key?.id).sort((a, b) => Number(b.messageTimestamp) - Number(a.messageTimestamp));
      const last = sorted[sorted.length - 1];
      return {
        messages: sorted.map((m) => this.opts.messageOf(m)).filter((m): m is EngineMessage => m !== undefined && m.chatId === chatId),
        ...(last ? { oldest: { id: String(last.key.id), fromMe: last.key.fromMe === true, timestamp: Number(last.messageTimestamp) || anchor.timestamp } } : {}),
      };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private answerTo(requestId: string): Promise<any[]> {
    const early = this.early.get(requestId);
    if (early) {
      this.early.delete(requestId);
      return early;
    }
    return new Promise<any[]>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(requestId);
      };
      const timer = setTimeout(() => {
        done();
        reject(new EngineError("ENGINE_TIMEOUT", `The phone did not send the chat's earlier messages within ${this.opts.timeoutMs} ms (it may be offline)`));
      }, this.opts.timeoutMs);
      this.waiting.set(requestId, {
        resolve: (m) => {
          done();
          resolve(m);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
    });
  }
}

// A chat's history through WhatsApp Web's own store, a page at a time. whatsapp-web.js's
// `fetchMessages({limit})` counts messages, not time, and returns every message it has loaded: a
// listing deep in a big chat, or a catch-up in a chat whose messages are all our own (which a
// `fromMe: false` count never satisfies), would load and return the whole chat. Here the page loads
// earlier messages (`WAWebChatLoadMessages.loadEarlierMsgs`, what fetchMessages uses) only until
// what was asked for is covered (a position, a time), and hands back only the messages asked for,
// as the library's own Message structures (`window.WWebJS.getMessageModel`).
import type { Client, Message } from "whatsapp-web.js";
import * as library from "whatsapp-web.js";

/** The library's Message structure: a class at run time, though its typings declare only the interface */
const MessageStructure = (library as unknown as { Message: new (client: Client, data: unknown) => Message }).Message;

/** A message's place in its chat: its second, and its id (WhatsApp Web's order decides within a second). */
export interface HistoryPosition {
  t: number;
  id: string;
}

export interface HistoryPageQuery {
  limit: number;
  /** Only messages older than this one (by the chat's order; by its second if it is gone) */
  before?: HistoryPosition;
  /** Only messages at or after this Unix second */
  since?: number;
  fromMe?: boolean;
}

/** Serialised messages, newest first, and whether there are more past them. */
interface RawPage {
  items: unknown[];
  more: boolean;
}

declare const window: any;

/**
 * One page of a chat's messages, newest first; undefined if WhatsApp Web has no such chat.
 * Loads earlier messages only until the page (and one message past it) is covered.
 */
export async function historyPage(client: Client, chatId: string, q: HistoryPageQuery): Promise<{ items: Message[]; more: boolean } | undefined> {
  const raw: RawPage | null = await client.pupPage!.evaluate(
    async (chatId: string, q: HistoryPageQuery) => {
      const chat = await window.WWebJS.getChat(chatId, { getAsModel: false });
      if (!chat) return null;
      const loader = window.require("WAWebChatLoadMessages");
      const wanted = (m: any) => !m.isNotification && (q.fromMe === undefined || m.id.fromMe === q.fromMe) && (q.since === undefined || (m.t ?? 0) >= q.since);
      /** The loaded messages older than the position, newest first; whether the position is settled */
      const older = () => {
        const all: any[] = chat.msgs.getModelsArray();
        const oldest = all[0];
        if (!q.before) return { list: [...all].reverse(), oldest, settled: true };
        const at = all.findIndex((m: any) => m.id._serialized === q.before!.id);
        // not loaded (yet, or gone): by its second; settled once the loaded history reaches past that second
        const list = at >= 0 ? all.slice(0, at) : all.filter((m: any) => (m.t ?? 0) < q.before!.t);
        return { list: list.reverse(), oldest, settled: at >= 0 || (oldest !== undefined && (oldest.t ?? 0) < q.before.t) };
      };
      for (;;) {
        const { list, oldest, settled } = older();
        const found = list.filter(wanted);
        // enough (one more tells whether a next page exists), or nothing older can still qualify
        const pastSince = q.since !== undefined && oldest !== undefined && (oldest.t ?? 0) < q.since;
        if (settled && (found.length > q.limit || pastSince)) return { items: found.slice(0, q.limit).map((m: any) => window.WWebJS.getMessageModel(m)), more: found.length > q.limit };
        const loaded = await loader.loadEarlierMsgs({ chat });
        if (!loaded || !loaded.length) return { items: found.slice(0, q.limit).map((m: any) => window.WWebJS.getMessageModel(m)), more: false };
      }
    },
    chatId,
    q,
  );
  if (!raw) return undefined;
  return { items: raw.items.map((m) => new MessageStructure(client, m)), more: raw.more };
}

/** WhatsApp Web's chats with their last activity (Unix seconds), without serialising their messages. */
export async function chatActivity(client: Client): Promise<{ id: string; t: number }[]> {
  return client.pupPage!.evaluate(() =>
    window
      .require("WAWebCollections")
      .Chat.getModelsArray()
      .map((c: any) => ({ id: c.id._serialized, t: c.t ?? 0 })),
  );
}

/**
 * The incoming messages of a chat at or after `floor` (Unix seconds), oldest first: earlier
 * messages are loaded only until the oldest loaded one is older than `floor`.
 */
export async function incomingSince(client: Client, chatId: string, floor: number): Promise<Message[]> {
  const raw: unknown[] = await client.pupPage!.evaluate(
    async (chatId: string, floor: number) => {
      const chat = await window.WWebJS.getChat(chatId, { getAsModel: false });
      if (!chat) return [];
      const loader = window.require("WAWebChatLoadMessages");
      for (;;) {
        const all: any[] = chat.msgs.getModelsArray();
        if (all.length && (all[0].t ?? 0) < floor) break;
        const loaded = await loader.loadEarlierMsgs({ chat });
        if (!loaded || !loaded.length) break;
      }
      return chat.msgs
        .getModelsArray()
        .filter((m: any) => !m.isNotification && !m.id.fromMe && (m.t ?? 0) >= floor)
        .map((m: any) => window.WWebJS.getMessageModel(m));
    },
    chatId,
    floor,
  );
  return raw.map((m) => new MessageStructure(client, m)).sort((a, b) => a.timestamp - b.timestamp);
}

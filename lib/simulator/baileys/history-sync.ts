// The phone's history sync to a newly linked companion, for the fake WhatsApp server: a HistorySync
// (proto) of type INITIAL_BOOTSTRAP with the account's chats and their recent messages from the
// network's record (the oracle), and one of type PUSH_NAME with the push names of the people in them,
// each zlib-deflated and carried in a HISTORY_SYNC_NOTIFICATION protocol message between the
// account's own devices. And the phone's answer to a companion's on-demand request for a chat's
// earlier messages (a peer-data-operation request of type HISTORY_SYNC_ON_DEMAND): a HistorySync of
// type ON_DEMAND with up to ON_DEMAND_MAX messages older than the one the companion names, in a
// HISTORY_SYNC_NOTIFICATION whose peerDataRequestSessionId is the request's stanza id.
//
// Both travel inline (`initialHistBootstrapInlinePayload`, WhatsApp's own form for the first
// chunk), not as an upload to the media host: for a history blob Baileys builds the download URL from
// `directPath` on WhatsApp's own media host (there is no `url` field to name another), which a
// simulation cannot be; the media of a chat message, which does carry its URL, goes through the media
// host as it does on WhatsApp.
import { deflateSync } from "node:zlib";
import type { SimAccounts } from "../accounts";
import type { SimHistoryMessage } from "../protocol";

const { proto } = require("baileys/WAProto/index.js") as { proto: any };

const S_WA = "s.whatsapp.net";
/** Chats in the bootstrap (the most recently active) and messages per chat (the newest), as a phone bounds its first sync. */
export const BOOTSTRAP_CHATS = 100;
export const BOOTSTRAP_MESSAGES_PER_CHAT = 50;
/** Messages in one on-demand answer at most (a phone answers a companion's request in chunks of 50). */
export const ON_DEMAND_MAX = 50;

const waJid = (id: string) => id.replace(/@c\.us$/, `@${S_WA}`);

/**
 * The two history sync messages for `account`'s new companion, as protocol messages (Message fields).
 * `messageOf` turns a recorded message into WhatsApp's Message (the gateway's own translation).
 */
export function historySyncMessages(accounts: SimAccounts, account: string, messageOf: (m: SimHistoryMessage) => Record<string, unknown>): Record<string, unknown>[] {
  const chats = accounts.chats(account, BOOTSTRAP_CHATS).items;
  const people = new Set<string>();
  const conversations = chats.map((c) => {
    const jid = waJid(c.id);
    const isGroup = c.id.endsWith("@g.us");
    if (!isGroup) people.add(c.id.replace(/@.*$/, ""));
    const messages = historyMessagesOf(accounts.messages(account, c.id, { limit: BOOTSTRAP_MESSAGES_PER_CHAT })?.items ?? [], jid, messageOf, people);
    return { id: jid, messages, unreadCount: c.unreadCount, conversationTimestamp: c.timestamp, ...(isGroup ? { name: c.name } : {}) };
  });
  const pushnames = [...people].map((phone) => ({ id: `${phone}@${S_WA}`, pushname: accounts.contact(account, phone).pushname }));
  const T = proto.HistorySync.HistorySyncType;
  return [notification({ syncType: T.INITIAL_BOOTSTRAP, conversations, chunkOrder: 0, progress: 100 }), notification({ syncType: T.PUSH_NAME, pushnames, chunkOrder: 0, progress: 100 })];
}

/** A companion's on-demand request, as its peer-data-operation message carries it (HistorySyncOnDemandRequest). */
export interface OnDemandRequest {
  chatJid?: string | null;
  oldestMsgId?: string | null;
  oldestMsgFromMe?: boolean | null;
  onDemandMsgCount?: number | null;
  oldestMsgTimestampMs?: number | Long | null;
}
type Long = { toNumber(): number };

/**
 * The phone's answer to an on-demand request (`requestId`: the request's stanza id): the chat's
 * messages before the one the companion names (by the network's order; by its time if the phone does
 * not have it), newest first, at most ON_DEMAND_MAX; none when the chat has nothing earlier.
 */
export function onDemandHistorySync(accounts: SimAccounts, account: string, request: OnDemandRequest, requestId: string, messageOf: (m: SimHistoryMessage) => Record<string, unknown>): Record<string, unknown> {
  const jid = String(request.chatJid ?? "");
  const chatId = jid.replace(/@s\.whatsapp\.net$/, "@c.us");
  const count = Math.max(1, Math.min(ON_DEMAND_MAX, Number(request.onDemandMsgCount) || ON_DEMAND_MAX));
  const anchor = request.oldestMsgId ? accounts.message(account, request.oldestMsgId) : undefined;
  const raw = request.oldestMsgTimestampMs;
  const floorMs = typeof raw === "object" && raw !== null ? raw.toNumber() : Number(raw ?? 0);
  // (a revoked message is not in a companion's history: it does not count)
  const older = (accounts.messages(account, chatId, { limit: Number.MAX_SAFE_INTEGER, ...(anchor?.chatId === chatId ? { before: anchor.seq } : {}) })?.items ?? [])
    .filter((m) => !m.revoked && (anchor?.chatId === chatId || m.timestamp * 1000 < floorMs))
    .slice(0, count);
  const T = proto.HistorySync.HistorySyncType;
  const conversations = older.length ? [{ id: jid, messages: historyMessagesOf(older, jid, messageOf, new Set()) }] : [];
  return notification({ syncType: T.ON_DEMAND, conversations, chunkOrder: 0, progress: 100 }, requestId);
}

/** Recorded messages (newest first) as a HistorySync conversation's messages; the people in a group's noted in `people`. */
function historyMessagesOf(list: SimHistoryMessage[], jid: string, messageOf: (m: SimHistoryMessage) => Record<string, unknown>, people: Set<string>): Record<string, unknown>[] {
  const isGroup = jid.endsWith("@g.us");
  return list
    .filter((m) => !m.revoked)
    .map((m) => {
      const author = isGroup && !m.fromMe && m.author ? waJid(m.author) : undefined;
      if (author) people.add(m.author!.replace(/@.*$/, ""));
      return {
        message: {
          key: { remoteJid: jid, fromMe: m.fromMe, id: m.id, ...(author ? { participant: author } : {}) },
          message: messageOf(m),
          messageTimestamp: m.timestamp,
          ...(m.fromMe ? { status: m.ack === "READ" ? 4 : m.ack === "DEVICE" ? 3 : 2 } : {}),
        },
        msgOrderId: m.seq,
      };
    });
}

/** A HistorySync, deflated, in the HISTORY_SYNC_NOTIFICATION protocol message that carries it (`requestId`: the on-demand request it answers). */
function notification(sync: Record<string, unknown>, requestId?: string): Record<string, unknown> {
  return {
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
      historySyncNotification: {
        syncType: sync.syncType,
        chunkOrder: 0,
        progress: 100,
        initialHistBootstrapInlinePayload: deflateSync(proto.HistorySync.encode(sync).finish()),
        ...(requestId ? { peerDataRequestSessionId: requestId } : {}),
      },
    },
  };
}

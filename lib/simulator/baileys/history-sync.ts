// The phone's history sync to a newly linked companion, for the fake WhatsApp server: a HistorySync
// (proto) of type INITIAL_BOOTSTRAP with the account's chats and their recent messages from the
// network's record (the oracle), and one of type PUSH_NAME with the push names of the people in them,
// each zlib-deflated and carried in a HISTORY_SYNC_NOTIFICATION protocol message between the
// account's own devices.
//
// The bootstrap travels inline (`initialHistBootstrapInlinePayload`, WhatsApp's own form for the first
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
    const messages = (accounts.messages(account, c.id, { limit: BOOTSTRAP_MESSAGES_PER_CHAT })?.items ?? [])
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
    return { id: jid, messages, unreadCount: c.unreadCount, conversationTimestamp: c.timestamp, ...(isGroup ? { name: c.name } : {}) };
  });
  const pushnames = [...people].map((phone) => ({ id: `${phone}@${S_WA}`, pushname: accounts.contact(account, phone).pushname }));
  const T = proto.HistorySync.HistorySyncType;
  const notify = (sync: Record<string, unknown>) => ({
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
      historySyncNotification: { syncType: sync.syncType, chunkOrder: 0, progress: 100, initialHistBootstrapInlinePayload: deflateSync(proto.HistorySync.encode(sync).finish()) },
    },
  });
  return [notify({ syncType: T.INITIAL_BOOTSTRAP, conversations, chunkOrder: 0, progress: 100 }), notify({ syncType: T.PUSH_NAME, pushnames, chunkOrder: 0, progress: 100 })];
}

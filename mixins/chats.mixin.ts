// Chats and their history (capabilities chats, history, read, presence), answered by the
// session's owner. Lists are cursor-paged, newest first: the engine's position travels inside an
// opaque cursor signed for this session, list and filters (lib/sessions/cursor.ts).
import type { Context } from "moleculer";
import { WafleetError } from "../lib/errors";
import type { PresenceState } from "../lib/engines/capabilities";
import { chatRef, listChatsParams, listMessagesParams, PAGE_LIMIT_DEFAULT, presenceParams } from "../lib/sessions/params";
import { canonicalChatId } from "../lib/whatsapp";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

type ChatRef = Ref & { chatId: string };

export const ChatsMixin: SessionsMixin = {
  actions: {
    listChats: {
      ...ROUTED,
      params: listChatsParams,
      async handler(ctx: Context<Ref & { limit?: number; cursor?: string }>) {
        const { workspaceId, sessionId, cursor } = ctx.params;
        const scope = { workspaceId, sessionId, kind: "chats" };
        const before = cursor === undefined ? undefined : this.cursors.decode(scope, cursor);
        const actor = await this.owned(workspaceId, sessionId);
        const page = await actor.withCapability("chats", (e) => e.listChats!({ limit: ctx.params.limit ?? PAGE_LIMIT_DEFAULT, before }));
        return { items: page.items, nextCursor: page.next === undefined ? null : this.cursors.encode(scope, page.next) };
      },
    },
    getChat: {
      ...ROUTED,
      params: chatRef,
      async handler(ctx: Context<ChatRef>) {
        const { workspaceId, sessionId } = ctx.params;
        const chatId = canonicalChatId(ctx.params.chatId);
        const actor = await this.owned(workspaceId, sessionId);
        const chat = await actor.withCapability("chats", (e) => e.getChat!(chatId));
        if (!chat) throw new WafleetError("CHAT_NOT_FOUND", `No chat ${chatId} in this session`, { chatId });
        return chat;
      },
    },
    listChatMessages: {
      ...ROUTED,
      params: listMessagesParams,
      async handler(ctx: Context<ChatRef & { limit?: number; cursor?: string; since?: number; fromMe?: boolean }>) {
        const { workspaceId, sessionId, cursor, since, fromMe } = ctx.params;
        const chatId = canonicalChatId(ctx.params.chatId);
        const scope = { workspaceId, sessionId, kind: "messages", list: `${chatId}|${since ?? ""}|${fromMe ?? ""}` };
        const before = cursor === undefined ? undefined : this.cursors.decode(scope, cursor);
        const actor = await this.owned(workspaceId, sessionId);
        const page = await actor.withCapability("history", (e) => e.listMessages!(chatId, { limit: ctx.params.limit ?? PAGE_LIMIT_DEFAULT, before, since, fromMe }));
        if (!page) throw new WafleetError("CHAT_NOT_FOUND", `No chat ${chatId} in this session`, { chatId });
        return { items: page.items, nextCursor: page.next === undefined ? null : this.cursors.encode(scope, page.next) };
      },
    },
    markChatRead: {
      ...ROUTED,
      params: chatRef,
      async handler(ctx: Context<ChatRef>) {
        const { workspaceId, sessionId } = ctx.params;
        const chatId = canonicalChatId(ctx.params.chatId);
        const actor = await this.owned(workspaceId, sessionId);
        const found = await actor.withCapability("read", (e) => e.markRead!(chatId));
        if (!found) throw new WafleetError("CHAT_NOT_FOUND", `No chat ${chatId} in this session`, { chatId });
        return { chatId, unreadCount: 0 };
      },
    },
    sendPresence: {
      ...ROUTED,
      params: presenceParams,
      async handler(ctx: Context<ChatRef & { state: PresenceState }>) {
        const { workspaceId, sessionId, state } = ctx.params;
        const chatId = canonicalChatId(ctx.params.chatId);
        const actor = await this.owned(workspaceId, sessionId);
        await actor.withCapability("presence", (e) => e.sendPresence!(chatId, state));
        return { chatId, state };
      },
    },
  },
};

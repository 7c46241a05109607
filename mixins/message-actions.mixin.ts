// Acting on one message (capabilities history, edit, revoke, reactions), answered by the session's owner.
import type { Context } from "moleculer";
import { WafleetError } from "../lib/errors";
import { deleteMessageParams, editMessageParams, messageRef, reactParams } from "../lib/sessions/params";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

type MessageRef = Ref & { messageId: string };

const notFound = (messageId: string) => new WafleetError("MESSAGE_NOT_FOUND", `No message ${messageId} in this session`, { messageId });

/** One emoji (with its modifiers and joiners), or "" to remove a reaction. */
const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f|\u20e3)*$/u;

export const MessageActionsMixin: SessionsMixin = {
  actions: {
    getMessage: {
      ...ROUTED,
      params: messageRef,
      async handler(ctx: Context<MessageRef>) {
        const { workspaceId, sessionId, messageId } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        const message = await actor.withCapability("history", (e) => e.getMessage!(messageId));
        if (!message) throw notFound(messageId);
        return message;
      },
    },
    editMessage: {
      ...ROUTED,
      params: editMessageParams,
      async handler(ctx: Context<MessageRef & { text: string }>) {
        const { workspaceId, sessionId, messageId, text } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        const ok = await actor.withCapability("edit", async (e) => {
          const message = await e.getMessage?.(messageId);
          if (e.getMessage && !message) throw notFound(messageId);
          if (message && (!message.fromMe || message.revoked || (message.type ?? "text") !== "text")) throw new WafleetError("MESSAGE_NOT_EDITABLE", undefined, { messageId });
          return e.editMessage!(messageId, text);
        });
        if (!ok) throw notFound(messageId);
        return { messageId, text, edited: true };
      },
    },
    deleteMessage: {
      ...ROUTED,
      params: deleteMessageParams,
      async handler(ctx: Context<MessageRef & { for?: "everyone" | "me" }>) {
        const { workspaceId, sessionId, messageId } = ctx.params;
        const forEveryone = ctx.params.for !== "me";
        const actor = await this.owned(workspaceId, sessionId);
        const ok = await actor.withCapability("revoke", async (e) => {
          const message = await e.getMessage?.(messageId);
          if (e.getMessage && !message) throw notFound(messageId);
          if (forEveryone && message && !message.fromMe) throw new WafleetError("MESSAGE_NOT_EDITABLE", "Only your own messages can be revoked for everyone; use ?for=me", { messageId });
          return e.deleteMessage!(messageId, forEveryone);
        });
        if (!ok) throw notFound(messageId);
        return null;
      },
    },
    react: {
      ...ROUTED,
      params: reactParams,
      async handler(ctx: Context<MessageRef & { emoji: string }>) {
        const { workspaceId, sessionId, messageId, emoji } = ctx.params;
        if (!EMOJI.test(emoji)) throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): emoji", [{ field: "emoji", message: "expected one emoji, or \"\" to remove the reaction", type: "emoji" }]);
        const actor = await this.owned(workspaceId, sessionId);
        const ok = await actor.withCapability("reactions", (e) => e.react!(messageId, emoji));
        if (!ok) throw notFound(messageId);
        return { messageId, emoji };
      },
    },
  },
};

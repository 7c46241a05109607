// WhatsApp Business labels (capability labels): the account's labels, a chat's labels, and putting
// a label on a chat or taking it off; answered by the session's owner.
import type { Context } from "moleculer";
import { WafleetError } from "../lib/errors";
import { chatLabelParams, chatLabelsParams, labelsParams } from "../lib/sessions/group-params";
import { canonicalChatId } from "../lib/whatsapp";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

type LabelRef = Ref & { chatId: string; labelId: string };

async function setLabel(this: any, ctx: Context<LabelRef>, on: boolean) {
  const { workspaceId, sessionId, labelId } = ctx.params;
  const chatId = canonicalChatId(ctx.params.chatId);
  const actor = await this.owned(workspaceId, sessionId);
  const r = await actor.withCapability("labels", (e: any) => e.setChatLabel(chatId, labelId, on));
  if (r === "no_chat") throw new WafleetError("CHAT_NOT_FOUND", `No chat ${chatId} in this session`, { chatId });
  if (r === "no_label") throw new WafleetError("LABEL_NOT_FOUND", `No label ${labelId} on this account`, { labelId });
  const labels = await actor.withCapability("labels", (e: any) => e.getChatLabels(chatId));
  return { chatId, labels: labels ?? [] };
}

export const LabelsMixin: SessionsMixin = {
  actions: {
    listLabels: {
      ...ROUTED,
      params: labelsParams,
      async handler(ctx: Context<Ref>) {
        const { workspaceId, sessionId } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        return { items: await actor.withCapability("labels", (e) => e.listLabels!()) };
      },
    },
    getChatLabels: {
      ...ROUTED,
      params: chatLabelsParams,
      async handler(ctx: Context<Ref & { chatId: string }>) {
        const { workspaceId, sessionId } = ctx.params;
        const chatId = canonicalChatId(ctx.params.chatId);
        const actor = await this.owned(workspaceId, sessionId);
        const labels = await actor.withCapability("labels", (e) => e.getChatLabels!(chatId));
        if (!labels) throw new WafleetError("CHAT_NOT_FOUND", `No chat ${chatId} in this session`, { chatId });
        return { chatId, labels };
      },
    },
    addChatLabel: {
      ...ROUTED,
      params: chatLabelParams,
      handler(ctx: Context<LabelRef>) {
        return setLabel.call(this, ctx, true);
      },
    },
    removeChatLabel: {
      ...ROUTED,
      params: chatLabelParams,
      handler(ctx: Context<LabelRef>) {
        return setLabel.call(this, ctx, false);
      },
    },
  },
};

// Sending messages, answered by the session's owner.
import type { Context } from "moleculer";
import { capabilitiesOfContent } from "../lib/engines/capabilities";
import { M } from "../lib/ops/metrics";
import { messageContentOf, sendMessageParams, type SendMessageInput } from "../lib/sessions/params";
import { monotonicUs } from "../lib/api/timing";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

export const MessagesMixin: SessionsMixin = {
  actions: {
    sendMessage: {
      ...ROUTED,
      params: sendMessageParams,
      async handler(ctx: Context<Ref & SendMessageInput>) {
        // a timed request (lib/api/timing.ts) gets this node's stamps back in its meta
        const timing = (ctx.meta as { timing?: unknown }).timing === true ? { n0: monotonicUs() } as Record<string, number> : undefined;
        const { workspaceId, sessionId, to } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        // an uploaded media (media.mediaId) is read here, on the owner, straight from the media store
        const media = this.media;
        const content = await messageContentOf(ctx.params, this.config.apiMediaMaxBytes, media && ((id) => media.readBase64(workspaceId, id).then(({ media: m, data }) => ({ mimetype: m.mimetype, filename: m.filename, data }))));
        actor.assertCapabilities(capabilitiesOfContent(content));
        const started = process.hrtime.bigint();
        try {
          // set by the gateway from an Idempotency-Key (see api.service messageIdFor)
          const hinted = (ctx.meta as { messageId?: unknown }).messageId;
          const messageId = typeof hinted === "string" && /^WFI[0-9A-F]{29}$/.test(hinted) ? hinted : undefined;
          if (timing) timing.n1 = monotonicUs();
          const sent = await actor.sendMessage(to, content, messageId ? { messageId } : undefined);
          if (timing) {
            timing.n2 = monotonicUs();
            (ctx.meta as { timing?: unknown }).timing = timing;
          }
          this.metrics?.increment(M.sent, { result: "ok" });
          this.metrics?.observe(M.sendSeconds, Number(process.hrtime.bigint() - started) / 1e9);
          return sent;
        } catch (err: any) {
          this.metrics?.increment(M.sent, { result: err?.type === "SESSION_NOT_READY" ? "not_ready" : "error" });
          throw err;
        }
      },
    },
  },
};

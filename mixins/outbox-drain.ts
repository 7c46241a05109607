// What a session's outbox drains through on its owner: the same send path as the messages route
// (media read from the media store, capabilities checked, the id derived from the item), an
// ownership check before every send (a node that lost the workspace sends nothing), seen + typing
// when the policy asks, and the outbox's events through the session's event publisher.
import { capabilitiesOfContent } from "../lib/engines/capabilities";
import type { EventName, EventPayloads } from "../lib/events";
import type { OutboxDeps } from "../lib/outbox/outbox";
import { DEFAULT_OUTBOX_POLICY } from "../lib/outbox/types";
import { M } from "../lib/ops/metrics";
import { messageContentOf } from "../lib/sessions/params";
import { canonicalChatId } from "../lib/whatsapp";
import type { Ref, SessionsService } from "./workspace.mixin";

type Publish = <N extends EventName>(name: N, scope: Ref, payload: EventPayloads[N]) => unknown;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

export function outboxDeps(svc: SessionsService, workspaceId: string, sessionId: string, publish: Publish): Omit<OutboxDeps, "journal"> {
  const scope = { workspaceId, sessionId };
  const actor = () => svc.manager.find(workspaceId, sessionId);
  return {
    policy: () => ({ ...DEFAULT_OUTBOX_POLICY, ...actor()?.outboxPolicy }),
    ready: () => actor()?.status === "WORKING" && svc.lease?.valid() !== false,
    async send(message, messageId) {
      // fenced: only the workspace's current owner sends (NOT_OWNER etc. keep the item queued)
      const a = await svc.owned(workspaceId, sessionId);
      const media = svc.media;
      const content = await messageContentOf(message, svc.config.apiMediaMaxBytes, media && ((id) => media.readBase64(workspaceId, id).then(({ media: m, data }) => ({ mimetype: m.mimetype, filename: m.filename, data }))));
      a.assertCapabilities(capabilitiesOfContent(content));
      const started = process.hrtime.bigint();
      try {
        const sent = await a.sendMessage(message.to, content, { messageId });
        svc.metrics?.increment(M.sent, { result: "ok" });
        svc.metrics?.observe(M.sendSeconds, Number(process.hrtime.bigint() - started) / 1e9);
        return sent;
      } catch (err: any) {
        svc.metrics?.increment(M.sent, { result: err?.type === "SESSION_NOT_READY" ? "not_ready" : "error" });
        throw err;
      }
    },
    async typing(to, ms, signal) {
      const a = actor();
      if (!a) return;
      const chatId = canonicalChatId(to);
      const caps = a.view().capabilities;
      if (caps.includes("read")) await a.withCapability("read", (e) => e.markRead!(chatId)).catch(() => undefined);
      if (!caps.includes("presence")) return;
      await a.withCapability("presence", (e) => e.sendPresence!(chatId, "typing"));
      await sleep(ms, signal);
      await a.withCapability("presence", (e) => e.sendPresence!(chatId, "paused")).catch(() => undefined);
    },
    events: {
      sent: (item) => (svc.metrics?.increment(M.outboxDone, { result: "sent" }), publish("wa.outbox.sent", scope, { id: item.id, messageId: item.messageId!, to: item.message.to, ...(item.key ? { key: item.key } : {}) })),
      failed: (item) => (svc.metrics?.increment(M.outboxDone, { result: "failed" }), publish("wa.outbox.failed", scope, { id: item.id, to: item.message.to, ...(item.key ? { key: item.key } : {}), error: item.error! })),
      paused: (reason, guard) => {
        if (guard) svc.metrics?.increment(M.outboxGuardPauses, { trigger: guard });
        return publish("wa.outbox.paused", scope, { reason });
      },
    },
    logger: svc.logger,
  };
}

// The session's outbox (lib/outbox), answered by the session's owner: queue one message or a
// batch, list, cancel, pause, resume, and the pacing policy kept in meta.json.
import type { Context } from "moleculer";
import type { EnqueueInput } from "../lib/outbox/outbox";
import { outboxEnqueueParams, outboxItemParams, outboxListParams, outboxPolicyParams, outboxRefParams, parseOutboxItem, parseOutboxPolicy } from "../lib/outbox/params";
import { DEFAULT_OUTBOX_POLICY, type OutboxState } from "../lib/outbox/types";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

type ErrorView = { code: string; message: string; details?: unknown };
const errorView = (err: any): ErrorView => ({ code: err?.type ?? "VALIDATION_ERROR", message: String(err?.message ?? err), ...(err?.data !== undefined ? { details: err.data } : {}) });

export const OutboxMixin: SessionsMixin = {
  actions: {
    outboxEnqueue: {
      ...ROUTED,
      params: outboxEnqueueParams,
      async handler(ctx: Context<Ref & Record<string, any>>) {
        const { workspaceId, sessionId, items, ...single } = ctx.params;
        await this.owned(workspaceId, sessionId);
        const now = Date.now();
        const max = this.config.apiMediaMaxBytes;
        if (!items) {
          // one message: a bad one is a 400, as on the messages route
          const input = parseOutboxItem(single, max, now);
          const [r] = await (await this.outboxes.get(workspaceId, sessionId)).enqueue([input]);
          return { items: [r] };
        }
        const results: Array<Record<string, unknown>> = [];
        const good: Array<{ index: number; input: EnqueueInput }> = [];
        (items as unknown[]).forEach((raw, index) => {
          try {
            good.push({ index, input: parseOutboxItem(raw, max, now) });
          } catch (err) {
            results[index] = { index, error: errorView(err) };
          }
        });
        if (good.length) {
          const queued = await (await this.outboxes.get(workspaceId, sessionId)).enqueue(good.map((g) => g.input));
          good.forEach((g, i) => (results[g.index] = { index: g.index, ...queued[i] }));
        }
        return { items: results, queued: good.length, rejected: items.length - good.length };
      },
    },
    outboxList: {
      ...ROUTED,
      params: outboxListParams,
      async handler(ctx: Context<Ref & { state?: OutboxState; cursor?: string; limit?: number }>) {
        const { workspaceId, sessionId, state, cursor, limit } = ctx.params;
        await this.owned(workspaceId, sessionId);
        const box = await this.outboxes.get(workspaceId, sessionId);
        const page = box.list({ state, cursor, limit: limit ?? 50 });
        return { ...page, paused: box.pausedState, counts: box.counts() };
      },
    },
    outboxGet: {
      ...ROUTED,
      params: outboxItemParams,
      async handler(ctx: Context<Ref & { id: string }>) {
        await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        return (await this.outboxes.get(ctx.params.workspaceId, ctx.params.sessionId)).get(ctx.params.id);
      },
    },
    outboxCancel: {
      ...ROUTED,
      params: outboxItemParams,
      async handler(ctx: Context<Ref & { id: string }>) {
        await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        return (await this.outboxes.get(ctx.params.workspaceId, ctx.params.sessionId)).cancel(ctx.params.id);
      },
    },
    outboxPause: {
      ...ROUTED,
      params: outboxRefParams,
      async handler(ctx: Context<Ref>) {
        await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        const paused = await (await this.outboxes.get(ctx.params.workspaceId, ctx.params.sessionId)).pause("requested");
        return { paused };
      },
    },
    outboxResume: {
      ...ROUTED,
      params: outboxRefParams,
      async handler(ctx: Context<Ref>) {
        await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        await (await this.outboxes.get(ctx.params.workspaceId, ctx.params.sessionId)).resume();
        return { paused: null };
      },
    },
    outboxGetPolicy: {
      ...ROUTED,
      params: outboxRefParams,
      async handler(ctx: Context<Ref>) {
        const actor = await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        return { ...DEFAULT_OUTBOX_POLICY, ...actor.outboxPolicy };
      },
    },
    outboxSetPolicy: {
      ...ROUTED,
      params: outboxPolicyParams,
      async handler(ctx: Context<Ref & Record<string, any>>) {
        const actor = await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        const policy = parseOutboxPolicy(ctx.params);
        await actor.setOutboxPolicy(policy);
        this.outboxes.poke(ctx.params.workspaceId, ctx.params.sessionId);
        return policy;
      },
    },
  },
};


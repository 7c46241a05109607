// `webhooks` role: per-workspace webhook configuration and the delivery pipeline (lib/webhooks).
// Every webhooks node consumes the event log through the same durable consumer, so each event is
// delivered by one of them; configuration and delivery records are shared (Redis in cluster mode).
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import { WafleetError } from "../lib/errors";
import type { EventLog } from "../lib/events/log";
import { WebhookSender } from "../lib/webhooks/delivery";
import { WebhookDispatcher } from "../lib/webhooks/dispatcher";
import { WebhookCounters, type MetricRegistryLike } from "../lib/webhooks/metrics";
import { listDeadLettersParams, listDeliveriesParams, retryDeliveryParams, setWebhookParams, webhookRef } from "../lib/webhooks/params";
import { RetryPolicy } from "../lib/webhooks/retry-policy";
import { newSecret } from "../lib/webhooks/signing";
import type { DeliveryRecord, DeliveryStatus, WebhookConfig, WebhookStore } from "../lib/webhooks/store";
import { checkWebhookUrl, InternalTargetError, resolveWebhookUrl } from "../lib/webhooks/url-guard";

export interface WebhooksServiceDeps {
  config: Config;
  eventLog: EventLog;
  store: WebhookStore;
}

type SetParams = { workspaceId: string; url: string; events?: string[]; secret?: string; headers?: Record<string, string> };

/** Tells every webhooks node to drop its cached copy of the workspace's configuration. */
function changed(broker: ServiceBroker, workspaceId: string): void {
  void Promise.resolve(broker.broadcast("webhooks.changed", { workspaceId }, { groups: ["webhooks"] })).catch(() => undefined);
}

/** What the API shows of a webhook: everything but the secret. */
function publicView(c: WebhookConfig) {
  return { workspaceId: c.workspaceId, url: c.url, events: c.events, headers: Object.keys(c.headers), secretSet: true, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

/** A delivery record as listed: the stored event stays inside (replays need it). */
function recordView(r: DeliveryRecord) {
  const { payload: _payload, ...rest } = r;
  return rest;
}

export default function webhooksService({ config, eventLog, store }: WebhooksServiceDeps): ServiceSchema {
  let dispatcher: WebhookDispatcher;
  let sender: WebhookSender;
  let counters: WebhookCounters;
  let depthTimer: NodeJS.Timeout | undefined;

  return {
    name: "webhooks",

    actions: {
      set: {
        params: setWebhookParams,
        async handler(ctx: Context<SetParams>) {
          const { workspaceId, url, events, secret, headers } = ctx.params;
          const parsed = checkWebhookUrl(url, config.webhookAllowPrivate);
          await resolveWebhookUrl(parsed, config.webhookAllowPrivate).catch((err) => {
            // what an internal name resolves to is for the operator, not the caller
            if (err instanceof InternalTargetError) this.logger.warn(`webhook of workspace ${workspaceId} refused: ${err.detail}`);
            throw err;
          });
          const existing = await store.getConfig(workspaceId);
          const now = new Date().toISOString();
          const generated = !secret && !existing ? newSecret() : undefined;
          const next: WebhookConfig = {
            workspaceId,
            url: parsed.toString(),
            events: events?.length ? [...events] : ["*"],
            secret: secret ?? existing?.secret ?? generated!,
            headers: headers ?? {},
            createdAt: existing?.createdAt ?? now,
            updatedAt: now,
          };
          await store.setConfig(next);
          changed(this.broker, workspaceId);
          this.logger.info(`webhook of workspace ${workspaceId} set: ${parsed.origin} for ${next.events.join(", ")}`);
          // the secret is shown once, when wafleet made it
          return generated ? { ...publicView(next), secret: generated } : publicView(next);
        },
      },
      get: {
        params: webhookRef,
        async handler(ctx: Context<{ workspaceId: string }>) {
          const c = await store.getConfig(ctx.params.workspaceId);
          if (!c) throw new WafleetError("WEBHOOK_NOT_FOUND", `Workspace ${ctx.params.workspaceId} has no webhook`);
          return publicView(c);
        },
      },
      remove: {
        params: webhookRef,
        async handler(ctx: Context<{ workspaceId: string }>) {
          if (!(await store.removeConfig(ctx.params.workspaceId))) throw new WafleetError("WEBHOOK_NOT_FOUND", `Workspace ${ctx.params.workspaceId} has no webhook`);
          changed(this.broker, ctx.params.workspaceId);
          return null;
        },
      },
      deliveries: {
        params: listDeliveriesParams,
        async handler(ctx: Context<{ workspaceId: string; status?: DeliveryStatus; limit?: number }>) {
          const list = await store.listDeliveries(ctx.params.workspaceId, ctx.params.status, ctx.params.limit ?? 100);
          return list.map(recordView);
        },
      },
      deadLetters: {
        params: listDeadLettersParams,
        async handler(ctx: Context<{ limit?: number; before?: number }>) {
          return (await store.listDeadLetters(ctx.params.limit ?? 100, ctx.params.before)).map(recordView);
        },
      },
      retry: {
        params: retryDeliveryParams,
        async handler(ctx: Context<{ workspaceId: string; deliveryId: string }>) {
          const { workspaceId, deliveryId } = ctx.params;
          const r = await store.getDelivery(workspaceId, deliveryId);
          if (!r) throw new WafleetError("DELIVERY_NOT_FOUND", `No delivery ${deliveryId} in workspace ${workspaceId}`);
          if (r.status !== "failed" || !r.payload) throw new WafleetError("DELIVERY_NOT_FAILED", `Delivery ${deliveryId} is ${r.status}; only failed deliveries can be retried`);
          const replay = r.replays + 1;
          // pending first: once appended, a fast delivery may record "delivered" before we return
          await store.recordDelivery({ ...r, status: "pending", attempts: 0, replays: replay, updatedAt: new Date().toISOString() });
          try {
            await eventLog.append(r.payload, { replay });
          } catch (err) {
            await store.recordDelivery({ ...r, updatedAt: new Date().toISOString() });
            throw new WafleetError("SERVICE_UNAVAILABLE", `The event log did not take the replay: ${(err as Error).message}`);
          }
          return { id: r.id, status: "pending", replays: replay };
        },
      },
      /** This node's delivery counters (the health service reads them). */
      stats: {
        visibility: "public",
        handler() {
          return { node: this.broker.nodeID, consumer: dispatcher.consumerName, log: eventLog.kind, ...counters.snapshot() };
        },
      },
    },

    events: {
      "webhooks.changed"(ctx: Context<{ workspaceId: string }>) {
        dispatcher?.invalidate(ctx.params.workspaceId);
      },
    },

    created() {
      const registry = this.broker.isMetricsEnabled() ? (this.broker.metrics as unknown as MetricRegistryLike) : undefined;
      counters = new WebhookCounters(registry);
      sender = new WebhookSender({ timeoutMs: config.webhookTimeoutMs, allowPrivate: config.webhookAllowPrivate, userAgent: `wafleet-webhooks (node ${this.broker.nodeID})` });
      dispatcher = new WebhookDispatcher({
        log: eventLog,
        store,
        sender,
        policy: new RetryPolicy({ maxAttempts: config.webhookMaxAttempts, baseMs: config.webhookBackoffMs, maxMs: config.webhookBackoffMaxMs }),
        metrics: counters,
        logger: this.logger,
        concurrency: config.webhookConcurrency,
      });
    },

    async started() {
      await dispatcher.start();
      const poll = () =>
        eventLog.depth(dispatcher.consumerName).then(
          (d) => counters.queueDepth(d),
          () => undefined,
        );
      depthTimer = setInterval(poll, 5000);
      depthTimer.unref();
      void poll();
      this.logger.info(`webhooks: delivering from the ${eventLog.kind} event log (consumer ${dispatcher.consumerName}, ${config.webhookMaxAttempts} attempts, timeout ${config.webhookTimeoutMs} ms)`);
    },

    async stopped() {
      if (depthTimer) clearInterval(depthTimer);
      await dispatcher.stop();
      sender.close();
    },
  };
}

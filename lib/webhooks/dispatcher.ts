// The webhook pipeline's consumer side: takes events from the event log's shared durable consumer,
// delivers each to its workspace's webhook (if it wants that type), and settles it with the log:
// ack when delivered, a scheduled retry when it may succeed later, a dead-letter record (then drop)
// when it cannot or after the last attempt. Events of one session go out one at a time, in log
// order, so a healthy receiver sees them in order.
import type { WafleetEvent } from "../events";
import type { EventLog, LogMessage, LogSubscription } from "../events/log";
import type { AttemptOutcome, WebhookSender } from "./delivery";
import type { WebhookMetrics } from "./metrics";
import type { RetryPolicy } from "./retry-policy";
import type { DeliveryRecord, WebhookConfig, WebhookStore } from "./store";

export interface DispatcherLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface WebhookDispatcherOptions {
  log: EventLog;
  store: WebhookStore;
  sender: Pick<WebhookSender, "send">;
  policy: RetryPolicy;
  metrics: WebhookMetrics;
  logger: DispatcherLogger;
  /** The durable consumer every webhooks node shares (default "webhooks"). */
  consumerName?: string;
  /** Deliveries this process works on at once (default 64). */
  concurrency?: number;
  /** How long a workspace's configuration is reused before it is read again (default 1000 ms; 0 = always read). */
  configTtlMs?: number;
}

export function wantsEvent(config: Pick<WebhookConfig, "events">, type: string): boolean {
  return config.events.includes("*") || config.events.includes(type);
}

export class WebhookDispatcher {
  readonly consumerName: string;
  private subscription?: LogSubscription;
  /** The tail of each session's chain of deliveries. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** Configurations read recently (only found ones: a new webhook takes effect at once). */
  private readonly configs = new Map<string, { config: WebhookConfig; until: number }>();

  constructor(private readonly opts: WebhookDispatcherOptions) {
    this.consumerName = opts.consumerName ?? "webhooks";
  }

  async start(): Promise<void> {
    const { policy } = this.opts;
    this.subscription = await this.opts.log.consume(
      // two spare deliveries past the last attempt: a process that dies during its last attempt
      // leaves the message to another, which still dead-letters it rather than losing it
      { name: this.consumerName, maxDeliver: policy.maxAttempts + 2, backoffMs: policy.delays(), concurrency: this.opts.concurrency ?? 64 },
      (m) => this.enqueue(m),
    );
  }

  /** Forgets a cached configuration (the service calls it when a webhook is set or removed anywhere). */
  invalidate(workspaceId: string): void {
    this.configs.delete(workspaceId);
  }

  private async configOf(workspaceId: string): Promise<WebhookConfig | undefined> {
    const ttl = this.opts.configTtlMs ?? 1000;
    const hit = this.configs.get(workspaceId);
    if (hit && hit.until > Date.now()) return hit.config;
    const config = await this.opts.store.getConfig(workspaceId);
    if (config && ttl > 0) {
      if (this.configs.size > 10_000) this.configs.clear();
      this.configs.set(workspaceId, { config, until: Date.now() + ttl });
    } else this.configs.delete(workspaceId);
    return config;
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  private enqueue(m: LogMessage): Promise<void> {
    const key = `${m.event.workspaceId}/${m.event.sessionId}`;
    const prev = this.lanes.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.handle(m));
    const tail = next.catch(() => undefined);
    this.lanes.set(key, tail);
    void tail.then(() => {
      if (this.lanes.get(key) === tail) this.lanes.delete(key);
    });
    return next;
  }

  /** One delivery of one logged event. Throwing leaves the message to the log's redelivery. */
  async handle(m: LogMessage): Promise<void> {
    const event = m.event;
    // cluster-wide events (workspaceId "*") belong to no workspace's webhook
    if (event.workspaceId === "*") return m.ack();
    const config = await this.configOf(event.workspaceId);
    if (!config || !wantsEvent(config, event.event)) return m.ack();
    const outcome = await this.opts.sender.send(config, event);
    this.opts.metrics.attempt(outcome.result, outcome.durationMs);
    const last = this.opts.policy.isLast(m.attempt);
    if (outcome.result === "delivered") {
      // acknowledged first: the record is for people, the ack is what keeps the event from going out twice
      m.ack();
      await this.record(m, config, outcome, "delivered").catch((err: Error) => this.opts.logger.warn(`webhook ${event.id}: delivered but not recorded: ${err.message}`));
      return;
    }
    if (outcome.result === "dead" || last) {
      // the record must exist before the log forgets the event: if it cannot be written, the
      // handler throws and the log redelivers
      await this.record(m, config, outcome, "failed");
      this.opts.metrics.deadLetter();
      this.opts.logger.warn(`webhook ${event.id} (${event.event}, workspace ${event.workspaceId}) dead-lettered after attempt ${m.attempt}: ${outcome.error ?? "failed"}`);
      return m.drop();
    }
    await this.record(m, config, outcome, "pending").catch((err: Error) => this.opts.logger.warn(`webhook ${event.id}: retry not recorded: ${err.message}`));
    m.retry(this.opts.policy.delayAfter(m.attempt));
  }

  private record(m: LogMessage, config: WebhookConfig, outcome: AttemptOutcome, status: DeliveryRecord["status"]): Promise<void> {
    const e: WafleetEvent = m.event;
    const record: DeliveryRecord = {
      id: e.id,
      workspaceId: e.workspaceId,
      sessionId: e.sessionId,
      event: e.event,
      status,
      attempts: m.attempt,
      replays: m.replay,
      url: config.url,
      updatedAt: new Date().toISOString(),
      durationMs: Math.round(outcome.durationMs),
    };
    if (outcome.status !== undefined) record.lastStatus = outcome.status;
    if (outcome.error) record.lastError = outcome.error.slice(0, 512);
    if (outcome.responseBody) record.lastResponse = outcome.responseBody.slice(0, 512);
    if (status !== "delivered") record.payload = e;
    return this.opts.store.recordDelivery(record);
  }
}

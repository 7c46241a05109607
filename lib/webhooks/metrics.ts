// Webhook metrics for the health issue: deliveries by result, latency, queue depth, dead letters.
// Always counted in process (WebhookCounters.snapshot(), the webhooks.stats action); forwarded to
// Moleculer's metrics registry as wafleet_webhook_* when the broker has metrics enabled.
import type { AttemptResult } from "./delivery";

export interface WebhookMetrics {
  attempt(result: AttemptResult, durationMs: number): void;
  deadLetter(): void;
  queueDepth(depth: number): void;
}

/** The slice of Moleculer's MetricRegistry used here. */
export interface MetricRegistryLike {
  register(opts: { type: string; name: string; description?: string; labelNames?: string[]; unit?: string; buckets?: number[] }): unknown;
  increment(name: string, labels?: Record<string, string>, value?: number): void;
  set(name: string, value: number, labels?: Record<string, string>): void;
  observe(name: string, value: number, labels?: Record<string, string>): void;
}

export const METRIC = {
  deliveries: "wafleet_webhook_deliveries_total",
  latency: "wafleet_webhook_delivery_seconds",
  queueDepth: "wafleet_webhook_queue_depth",
  deadLetters: "wafleet_webhook_dead_letters_total",
} as const;

export interface WebhookStats {
  attempts: Record<AttemptResult, number>;
  deadLetters: number;
  queueDepth: number;
  latencyMs: { count: number; sum: number; max: number };
}

export class WebhookCounters implements WebhookMetrics {
  private readonly stats: WebhookStats = { attempts: { delivered: 0, retry: 0, dead: 0 }, deadLetters: 0, queueDepth: 0, latencyMs: { count: 0, sum: 0, max: 0 } };

  constructor(private readonly registry?: MetricRegistryLike) {
    if (!registry) return;
    registry.register({ type: "counter", name: METRIC.deliveries, description: "Webhook delivery attempts by result (delivered, retry, dead)", labelNames: ["result"] });
    registry.register({ type: "histogram", name: METRIC.latency, description: "Webhook delivery attempt duration", unit: "seconds", labelNames: ["result"], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    registry.register({ type: "gauge", name: METRIC.queueDepth, description: "Events waiting for webhook delivery (not yet acknowledged by the consumer)" });
    registry.register({ type: "counter", name: METRIC.deadLetters, description: "Events dead-lettered after a permanent failure or the last attempt" });
    // at 0 from the start: increase() misses the first event of a series that appears with it
    for (const result of ["delivered", "retry", "dead"] satisfies AttemptResult[]) registry.increment(METRIC.deliveries, { result }, 0);
    registry.increment(METRIC.deadLetters, undefined, 0);
  }

  attempt(result: AttemptResult, durationMs: number): void {
    this.stats.attempts[result]++;
    const l = this.stats.latencyMs;
    l.count++;
    l.sum += durationMs;
    if (durationMs > l.max) l.max = durationMs;
    this.registry?.increment(METRIC.deliveries, { result });
    this.registry?.observe(METRIC.latency, durationMs / 1000, { result });
  }

  deadLetter(): void {
    this.stats.deadLetters++;
    this.registry?.increment(METRIC.deadLetters);
  }

  queueDepth(depth: number): void {
    this.stats.queueDepth = depth;
    this.registry?.set(METRIC.queueDepth, depth);
  }

  snapshot(): WebhookStats {
    return structuredClone(this.stats);
  }
}

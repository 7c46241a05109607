// The per-node ops endpoint (OPS_PORT): Moleculer's built-in Prometheus reporter serves /metrics,
// and the same server answers /healthz (the process is alive), /readyz (each readiness check,
// 503 naming the failing ones) and, on the node hosting the health service, /health.
import type { IncomingMessage, ServerResponse } from "node:http";
import { MetricReporters } from "moleculer";

export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export type Check = () => Promise<CheckResult> | CheckResult;

/** Named readiness checks; each gets a deadline so one stuck dependency cannot hang the probe. */
export class Readiness {
  private readonly checks = new Map<string, Check>();

  add(name: string, check: Check): void {
    this.checks.set(name, check);
  }

  async run(timeoutMs = 2000): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
    const entries = await Promise.all(
      [...this.checks.entries()].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const r = await Promise.race([
            Promise.resolve().then(check),
            new Promise<CheckResult>((resolve) => {
              timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
            }),
          ]);
          return [name, r] as const;
        } catch (err) {
          return [name, { ok: false, detail: (err as Error).message }] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ready: entries.every(([, r]) => r.ok), checks };
  }
}

export type HealthHandler = () => Promise<{ status: number; body: unknown }>;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  res.end(JSON.stringify(body));
}

const PrometheusBase = (MetricReporters as any).Prometheus as new (opts: any) => any;

/** Moleculer's Prometheus reporter with the probes on the same port. */
/**
 * Moleculer's built-in metrics that say who and where the host is (addresses, MACs, the user, the
 * host name, the command line with whatever it carries): never published, whoever scrapes.
 */
export const OS_IDENTITY_METRICS = ["process.arguments", "os.network.**", "os.user.**", "os.hostname"] as const;

export class OpsReporter extends PrometheusBase {
  health: HealthHandler | undefined;

  constructor(
    opts: { port: number; host: string },
    readonly readiness: Readiness,
  ) {
    super({ port: opts.port, host: opts.port === 0 ? undefined : opts.host, path: "/metrics", excludes: [...OS_IDENTITY_METRICS] });
  }

  init(registry: any): void {
    super.init(registry);
    // a taken port must not kill a node that holds hundreds of sessions: log it and go on
    this.server.on("error", (err: Error) => this.logger.error(`ops endpoint cannot listen: ${err.message}`));
  }

  /**
   * Moleculer's reporter writes a histogram's `_sum` and `_count` only when it also computes
   * quantiles; wafleet's histograms have none (buckets are what Prometheus aggregates), so both
   * are added here after each label set's `+Inf` bucket: averages (`rate(x_sum) / rate(x_count)`)
   * need them.
   */
  generatePrometheusResponse(): string {
    const text: string = super.generatePrometheusResponse();
    const extra = new Map<string, string[]>();
    this.registry.store.forEach((metric: any) => {
      if (metric.type !== "histogram" || !this.matchMetricName(metric.name)) return;
      const name = this.formatMetricName(metric.name).replace(/[.-]/g, "_");
      for (const item of metric.snapshot() as Array<{ labels: Record<string, unknown>; buckets?: unknown; quantiles?: unknown; sum: number; count: number }>) {
        if (!item.buckets || item.quantiles) continue;
        const inf = `${name}_bucket${this.labelsToStr(item.labels, { le: "+Inf" })} `;
        const labels = this.labelsToStr(item.labels);
        extra.set(inf, [`${name}_sum${labels} ${item.sum}`, `${name}_count${labels} ${item.count}`]);
      }
    });
    if (!extra.size) return text;
    const out: string[] = [];
    for (const line of text.split("\n")) {
      out.push(line);
      const sp = line.lastIndexOf(" ");
      const more = sp > 0 ? extra.get(line.slice(0, sp + 1)) : undefined;
      if (more) out.push(...more);
    }
    return out.join("\n");
  }

  handler(req: IncomingMessage, res: ServerResponse): void {
    const url = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return json(res, 405, { error: { code: "METHOD_NOT_ALLOWED", message: "GET only" } });
    if (url === "/healthz") return json(res, 200, { status: "ok", uptime: Math.round(process.uptime()) });
    if (url === "/readyz") {
      void this.readiness.run().then(
        (r) => json(res, r.ready ? 200 : 503, { status: r.ready ? "ready" : "not_ready", checks: r.checks, failing: Object.keys(r.checks).filter((k) => !r.checks[k]!.ok) }),
        (err: Error) => json(res, 503, { status: "not_ready", error: err.message }),
      );
      return;
    }
    if (url === "/health" && this.health) {
      void this.health().then(
        (h) => json(res, h.status, h.body),
        (err: Error) => json(res, 503, { status: "unhealthy", error: err.message }),
      );
      return;
    }
    if (url === "/metrics") return super.handler(req, res);
    json(res, 404, { error: { code: "NOT_FOUND", message: "ops endpoints: /healthz /readyz /metrics /health" } });
  }

  /** The port actually bound (OPS_PORT=0 picks a free one). */
  get port(): number | undefined {
    const a = this.server?.address?.();
    return a && typeof a === "object" ? a.port : undefined;
  }
}

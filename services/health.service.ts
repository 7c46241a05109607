// `health`: the cluster's health view (DESIGN section 8). `GET /health` on this node's ops port
// answers the original design's per-instance shape for every session node plus a cluster summary
// (503 when the cluster is unhealthy); capacity alerts at 70% and 85% with hysteresis are events,
// log lines and a gauge. Each node is asked with a deadline, so a stuck node shows `unreachable`
// instead of hanging the endpoint.
import type { ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import { makeEvent } from "../lib/events";
import { CapacityAlerts, LEVEL_VALUE } from "../lib/ops/alerts";
import { M, registerHealthMetrics, type MetricRegistryLike } from "../lib/ops/metrics";
import type { OpsReporter } from "../lib/ops/ops-server";
import type { ClusterRuntime } from "../lib/placement/runtime";

export interface HealthServiceDeps {
  config: Config;
  reporter?: OpsReporter;
  /** The directory tells when a dead node is gone for good (its workspaces reassigned). */
  cluster?: ClusterRuntime;
}

export type InstanceStatus = "healthy" | "at_capacity" | "unhealthy" | "unreachable";

export interface InstanceHealth {
  status: InstanceStatus;
  instance: string;
  /** load: what the running sessions weigh by engine (ENGINE_WEIGHTS); utilization = load / capacity. */
  sessions: { total: number; load: number; capacity: number; utilization: number } | null;
  memory: { used: number; total: number; rss: number } | null;
  uptime: number | null;
  timestamp: string;
  reason?: string;
}

/** How long to wait for one node's answer. */
const NODE_TIMEOUT_MS = 2000;
/** Without a directory, a node unreachable this long is considered gone. */
const GONE_AFTER_MS = 5 * 60_000;
const STATUSES: InstanceStatus[] = ["healthy", "at_capacity", "unhealthy", "unreachable"];

export default function healthService({ config, reporter, cluster }: HealthServiceDeps): ServiceSchema {
  const alerts = new CapacityAlerts();
  const offlineSince = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;

  return {
    name: "health",

    actions: {
      /** The same document as GET /health. */
      cluster: {
        async handler() {
          return (await (this as any).snapshot()).body;
        },
      },
    },

    methods: {
      async instances(): Promise<InstanceHealth[]> {
        const broker = this.broker;
        const registryNodes: any[] = (broker.registry as any).nodes.toArray();
        const hosts = new Map<string, any>();
        for (const n of registryNodes) if (n.services?.some((s: any) => s.name === "sessions")) hosts.set(n.id, n);
        let known: Set<string> | undefined;
        if (cluster) {
          const nodes = await cluster.directory.nodes().catch(() => undefined);
          if (nodes) {
            known = new Set(nodes.map((n) => n.node));
            for (const n of nodes) if (!hosts.has(n.node)) hosts.set(n.node, { id: n.node, available: false });
          }
        }
        const now = Date.now();
        const out = await Promise.all(
          [...hosts.values()].map(async (n): Promise<InstanceHealth | undefined> => {
            const timestamp = new Date().toISOString();
            const base = { instance: n.id as string, sessions: null, memory: null, uptime: null, timestamp };
            if (!n.available) {
              const since = offlineSince.get(n.id) ?? now;
              offlineSince.set(n.id, since);
              // gone: the coordinator forgot it (its workspaces live elsewhere), or silent for long
              if ((known && !known.has(n.id)) || now - since > GONE_AFTER_MS) return undefined;
              return { ...base, status: "unreachable", reason: "no heartbeat from this node" };
            }
            offlineSince.delete(n.id);
            try {
              const s: any = await broker.call("sessions.nodeStats", {}, { nodeID: n.id, timeout: NODE_TIMEOUT_MS, retries: 0 });
              const sessions = { total: s.total, load: s.load ?? s.total, capacity: s.capacity, utilization: s.utilization };
              const [status, reason]: [InstanceStatus, string | undefined] =
                s.leaseValid === false
                  ? ["unhealthy", "cluster lease lost"]
                  : s.overloaded
                    ? ["at_capacity", "memory above the watermark"]
                    : s.utilization >= 1
                      ? ["at_capacity", "MAX_SESSIONS_PER_INSTANCE reached"]
                      : ["healthy", undefined];
              return { ...base, status, sessions, memory: s.memory ?? null, uptime: s.uptime ?? null, ...(reason ? { reason } : {}) };
            } catch (err) {
              return { ...base, status: "unreachable", reason: `no answer within ${NODE_TIMEOUT_MS} ms (${(err as Error).message})` };
            }
          }),
        );
        return out.filter((x): x is InstanceHealth => !!x).sort((a, b) => (a.instance < b.instance ? -1 : 1));
      },

      async snapshot(): Promise<{ status: number; body: unknown }> {
        const instances: InstanceHealth[] = await (this as any).instances();
        const count = (s: InstanceStatus) => instances.filter((i) => i.status === s).length;
        const answering = instances.filter((i) => i.sessions);
        const total = answering.reduce((a, i) => a + i.sessions!.total, 0);
        const load = Math.round(answering.reduce((a, i) => a + i.sessions!.load, 0) * 10000) / 10000;
        const capacity = instances.filter((i) => i.status === "healthy" || i.status === "at_capacity").reduce((a, i) => a + i.sessions!.capacity, 0);
        const healthy = count("healthy");
        const status = !instances.length || healthy === 0 ? "unhealthy" : healthy === instances.length ? "healthy" : "degraded";
        const body = {
          status,
          timestamp: new Date().toISOString(),
          cluster: {
            nodes: instances.length,
            healthy,
            atCapacity: count("at_capacity"),
            unhealthy: count("unhealthy"),
            unreachable: count("unreachable"),
            nodesDown: instances.filter((i) => i.status === "unreachable" || i.status === "unhealthy").map((i) => i.instance),
            sessions: { total, load, capacity, utilization: capacity ? Math.round((load / capacity) * 10000) / 10000 : 0 },
            alerts: Object.fromEntries(alerts.nodes().map((n) => [n, alerts.level(n)])),
          },
          instances,
        };
        return { status: status === "unhealthy" ? 503 : 200, body };
      },

      async poll(): Promise<void> {
        const instances: InstanceHealth[] = await (this as any).instances();
        const metrics = this.broker.isMetricsEnabled() ? (this.broker.metrics as unknown as MetricRegistryLike) : undefined;
        const present = new Set(instances.map((i) => i.instance));
        for (const n of alerts.nodes()) {
          if (present.has(n)) continue;
          alerts.forget(n);
          metrics?.set(M.capacityAlert, 0, { node: n });
          for (const st of STATUSES) metrics?.set(M.nodeUp, 0, { node: n, status: st });
        }
        for (const i of instances) {
          for (const s of STATUSES) metrics?.set(M.nodeUp, i.status === s ? 1 : 0, { node: i.instance, status: s });
          if (!i.sessions) continue;
          const change = alerts.observe(i.instance, i.sessions.utilization);
          metrics?.set(M.capacityAlert, LEVEL_VALUE[alerts.level(i.instance)], { node: i.instance });
          if (!change) continue;
          const pct = Math.round(change.utilization * 100);
          const line = `capacity: node ${change.node} ${change.level === "ok" ? "recovered" : `crossed ${change.level === "warning" ? "70" : "85"}%`} (${pct}% used, was ${change.previous})`;
          if (change.level === "ok") this.logger.info(line);
          else this.logger.warn(line);
          void Promise.resolve(
            this.broker.broadcast("wa.cluster.capacity", makeEvent("wa.cluster.capacity", { workspaceId: "*", sessionId: "*", node: this.broker.nodeID }, change)),
          ).catch(() => undefined);
        }
      },
    },

    created() {
      if (this.broker.isMetricsEnabled()) registerHealthMetrics(this.broker.metrics as unknown as MetricRegistryLike);
    },

    started() {
      if (reporter) reporter.health = () => (this as any).snapshot();
      const tick = () => void (this as any).poll().catch((err: Error) => this.logger.warn(`health poll failed: ${err.message}`));
      timer = setInterval(tick, config.healthPollMs);
      tick();
    },

    stopped() {
      clearInterval(timer);
      if (reporter) reporter.health = undefined;
    },
  };
}

// `placement`: the coordinator's actions (DESIGN section 5), hosted on every session node. Any of
// them answers `cluster`; `drain` and `move` run on the current leader (forwarded there).
import type { Context, ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import { WafleetError } from "../lib/errors";
import { clusterParams, drainParams, moveParams } from "../lib/placement/params";
import type { ClusterRuntime } from "../lib/placement/runtime";

export interface PlacementServiceDeps {
  config: Config;
  cluster: ClusterRuntime;
}

/** How long a drain may take before it answers with what is left. */
const DRAIN_DEADLINE_MS = 120_000;

export default function placementService({ config, cluster }: PlacementServiceDeps): ServiceSchema {
  async function leader(ctx: Context): Promise<string> {
    const id = await cluster.directory.coordinator();
    if (!id) throw new WafleetError("SERVICE_UNAVAILABLE", "No coordinator is elected right now; retry in a few seconds");
    void ctx;
    return id;
  }

  async function liveNode(node: string) {
    const n = (await cluster.directory.nodes()).find((x) => x.node === node);
    if (!n) throw new WafleetError("NODE_NOT_FOUND", `No session node ${node} in the cluster`, { node });
    return n;
  }

  return {
    name: "placement",

    actions: {
      cluster: {
        params: clusterParams,
        async handler(ctx: Context) {
          const [nodes, assignments, coordinator] = await Promise.all([cluster.directory.nodes(), cluster.directory.assignments(), cluster.directory.coordinator()]);
          const perNode = new Map<string, number>();
          for (const a of assignments) perNode.set(a.node, (perNode.get(a.node) ?? 0) + 1);
          const rows = await Promise.all(
            nodes
              .sort((a, b) => (a.node < b.node ? -1 : 1))
              .map(async (n) => {
                let stats: any;
                if (n.alive) stats = await ctx.call("sessions.nodeStats", {}, { nodeID: n.node, timeout: 3000 }).catch(() => undefined);
                // the directory keeps what a node's sessions weigh (its load); the node itself tells both
                const load: number = stats?.load ?? n.sessions;
                return {
                  node: n.node,
                  status: !n.alive ? "down" : n.draining ? "draining" : stats ? "up" : "unreachable",
                  sessions: stats?.total ?? Math.round(n.sessions),
                  byStatus: stats?.byStatus ?? null,
                  byEngine: stats?.byEngine ?? null,
                  load,
                  capacity: n.capacity,
                  utilization: n.capacity ? Math.round((load / n.capacity) * 10000) / 10000 : 0,
                  workspaces: perNode.get(n.node) ?? 0,
                  leaseAgeMs: stats?.leaseAgeMs ?? null,
                  memory: stats?.memory ?? null,
                  joinedAt: new Date(n.joinedAt).toISOString(),
                };
              }),
          );
          const live = rows.filter((r) => r.status !== "down");
          const total = live.reduce((a, r) => a + r.sessions, 0);
          const load = Math.round(live.reduce((a, r) => a + r.load, 0) * 10000) / 10000;
          const capacity = live.reduce((a, r) => a + r.capacity, 0);
          return {
            coordinator: coordinator ?? null,
            summary: { nodes: rows.length, nodesDown: rows.length - live.length, sessions: total, load, capacity, utilization: capacity ? Math.round((load / capacity) * 10000) / 10000 : 0, workspaces: assignments.length },
            nodes: rows,
            assignments: assignments.sort((a, b) => (a.workspaceId < b.workspaceId ? -1 : 1)),
          };
        },
      },

      drain: {
        params: drainParams,
        async handler(ctx: Context<{ node: string }>) {
          await liveNode(ctx.params.node);
          const lead = await leader(ctx);
          if (lead !== this.broker.nodeID) return ctx.call("placement.drain", ctx.params, { nodeID: lead, timeout: DRAIN_DEADLINE_MS + 5000 });
          const co = cluster.coordinator;
          if (!co?.isLeader) throw new WafleetError("SERVICE_UNAVAILABLE", "The coordinator is changing; retry in a few seconds");
          return co.drain(ctx.params.node, DRAIN_DEADLINE_MS);
        },
      },

      /** Puts a drained node back into placement (it takes new workspaces and joins' rebalances). */
      undrain: {
        params: drainParams,
        async handler(ctx: Context<{ node: string }>) {
          const n = await liveNode(ctx.params.node);
          if (!n.alive) throw new WafleetError("NODE_NOT_AVAILABLE", `Node ${n.node} is down`, { node: n.node });
          await cluster.directory.setDraining(n.node, false);
          return { node: n.node, draining: false };
        },
      },

      move: {
        params: moveParams,
        async handler(ctx: Context<{ workspaceId: string; node: string }>) {
          const target = await liveNode(ctx.params.node);
          if (!target.alive || target.draining) throw new WafleetError("NODE_NOT_AVAILABLE", `Node ${target.node} is ${target.alive ? "draining" : "down"}`, { node: target.node });
          const lead = await leader(ctx);
          if (lead !== this.broker.nodeID) return ctx.call("placement.move", ctx.params, { nodeID: lead, timeout: config.moveWaitMs + config.engineStartTimeoutMs + 5000 });
          const co = cluster.coordinator;
          if (!co?.isLeader) throw new WafleetError("SERVICE_UNAVAILABLE", "The coordinator is changing; retry in a few seconds");
          const before = await cluster.directory.owner(ctx.params.workspaceId);
          const result = await co.move(ctx.params.workspaceId, ctx.params.node);
          if (!result) throw new WafleetError("WORKSPACE_MOVING", `Workspace ${ctx.params.workspaceId} could not be moved now (another move is under way or its owner is down)`, { workspaceId: ctx.params.workspaceId, from: before?.node ?? null });
          return result;
        },
      },
    },
  };
}

// This session node's own actions, called with its node id (not workspace-routed): the old owner's
// half of a handoff, the coordinator's adopt hint, and what operators' tools and the health
// service read about the node.
import type { Context } from "moleculer";
import { createSessionParams } from "../lib/sessions/params";
import { SESSION_STATUSES } from "../lib/sessions/status";
import type { SessionsMixin } from "./workspace.mixin";

export const NodeOpsMixin: SessionsMixin = {
  actions: {
    /** Handoff, old owner's half (called by the coordinator with this node's id). */
    release: {
      visibility: "public",
      params: { $$strict: true, workspaceId: createSessionParams.workspaceId },
      async handler(ctx: Context<{ workspaceId: string }>) {
        await this.ownership.release(ctx.params.workspaceId);
        return { node: this.broker.nodeID, released: ctx.params.workspaceId };
      },
    },
    /** A hint from the coordinator: the directory gave this node a workspace; adopt it now. */
    adopt: {
      visibility: "public",
      params: { $$strict: true, workspaceId: createSessionParams.workspaceId },
      handler() {
        this.ownership.scheduleReconcile();
        return { node: this.broker.nodeID };
      },
    },
    /**
     * A hint from the coordinator while a dead node's takeover margin runs: these workspaces are
     * planned for this node at the margin's end; read them now (reads only, nothing started).
     */
    prepare: {
      visibility: "public",
      // from: the dead node whose workspaces these are (a read is not used if it comes back)
      params: { $$strict: true, workspaceIds: { type: "array", items: createSessionParams.workspaceId, max: 100_000 }, from: { type: "string", min: 1, max: 256 } },
      handler(ctx: Context<{ workspaceIds: string[]; from: string }>) {
        const started = Date.now();
        void this.ownership.prepare(ctx.params.workspaceIds, ctx.params.from).then((read) => {
          if (read) this.logger.info(`read ahead ${read} workspaces planned here by a failover in ${Date.now() - started} ms`);
        });
        return { node: this.broker.nodeID };
      },
    },
    /**
     * Every session this node holds (call it with { nodeID }): for operators' tools (the REPL's
     * wa-sessions), filtered by workspace and status.
     */
    localList: {
      params: {
        $$strict: true,
        workspaceId: { ...createSessionParams.workspaceId, optional: true },
        status: { type: "enum", values: [...SESSION_STATUSES], optional: true },
      },
      handler(ctx: Context<{ workspaceId?: string; status?: string }>) {
        return this.manager
          .all()
          .filter((a) => (!ctx.params.workspaceId || a.workspaceId === ctx.params.workspaceId) && (!ctx.params.status || a.status === ctx.params.status))
          .map((a) => a.view());
      },
    },
    /** This node's session counts and lease, for /cluster and the health service. */
    nodeStats: {
      handler() {
        const mem = process.memoryUsage();
        return {
          ...this.manager.stats(),
          leaseValid: this.lease.valid(),
          leaseAgeMs: this.lease.age(),
          owned: this.ownership.ownedWorkspaces().length,
          coordinator: this.coordinator.isLeader,
          overloaded: this.watchdog?.overloaded === true,
          // the original design's shape: used = this node's process and its engines
          memory: { used: this.watchdog?.lastUsedBytes || mem.rss, total: this.memoryLimit, rss: mem.rss },
          uptime: Math.round(process.uptime()),
        };
      },
    },
  },

  events: {
    // hints only (each node sees them on its own clock); the lease decides
    "$node.disconnected"() {
      this.coordinator?.poke();
    },
    "$node.connected"() {
      this.coordinator?.poke();
    },
  },
};

// `sessions` role: hosts this node's session actors and answers the session actions.
import type { Context, ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import { LaunchQueue } from "../lib/engines/launch-queue";
import type { EngineFactory } from "../lib/engines/types";
import { makeEvent, type EventName, type EventPayloads } from "../lib/events";
import type { EventLog } from "../lib/events/log";
import { SessionManager } from "../lib/sessions/manager";
import { createSessionParams, listSessionsParams, messageContentOf, pairingCodeParams, sendMessageParams, sessionRef, type SendMessageInput } from "../lib/sessions/params";
import { SessionStorage } from "../lib/sessions/storage";
import { WafleetError } from "../lib/errors";
import { Coordinator } from "../lib/placement/coordinator";
import { LeaseKeeper } from "../lib/placement/lease";
import { Ownership } from "../lib/placement/ownership";
import type { ClusterRuntime } from "../lib/placement/runtime";
import { M, registerSessionMetrics, SessionEventMetrics, type MetricRegistryLike } from "../lib/ops/metrics";
import { MemoryWatchdog, nodeMemoryLimit } from "../lib/ops/watchdog";
import { SESSION_STATUSES } from "../lib/sessions/status";

export interface SessionsServiceDeps {
  config: Config;
  engineFactory: EngineFactory;
  cluster: ClusterRuntime;
  /** Where webhook-worthy events are appended for durable delivery (the webhooks service consumes it). */
  eventLog?: EventLog;
}

/** Workspace-routed actions: the `Workspace` strategy sends them to the owner. */
const ROUTED = { strategy: "Workspace" } as const;

type Ref = { workspaceId: string; sessionId: string };

export default function sessionsService({ config, engineFactory, cluster, eventLog }: SessionsServiceDeps): ServiceSchema {
  let manager: SessionManager;
  let ownership: Ownership;
  let lease: LeaseKeeper;
  let coordinator: Coordinator;
  let storage: SessionStorage;
  let metrics: MetricRegistryLike | undefined;
  let eventMetrics: SessionEventMetrics | undefined;
  let watchdog: MemoryWatchdog | undefined;
  let gauges: NodeJS.Timeout | undefined;
  const memoryLimit = nodeMemoryLimit();

  /** The token when this node owns the workspace; throws NOT_OWNER / WORKSPACE_MOVING / LEASE_LOST. */
  const own = (workspaceId: string, claim = false) => ownership.ensure(workspaceId, claim);
  const owned = async (workspaceId: string, sessionId: string) => {
    if ((await own(workspaceId)) === undefined) throw new WafleetError("SESSION_NOT_FOUND", `Session ${sessionId} not found in workspace ${workspaceId}`);
    return manager.get(workspaceId, sessionId);
  };

  return {
    name: "sessions",

    actions: {
      create: {
        ...ROUTED,
        params: createSessionParams,
        async handler(ctx: Context<{ workspaceId: string; sessionId?: string; accountId?: string | null; start?: boolean; metadata?: Record<string, unknown> }>) {
          await own(ctx.params.workspaceId, true);
          return manager.create(ctx.params);
        },
      },
      list: {
        ...ROUTED,
        params: listSessionsParams,
        async handler(ctx: Context<{ workspaceId: string }>) {
          if ((await own(ctx.params.workspaceId)) === undefined) return [];
          return manager.list(ctx.params.workspaceId);
        },
      },
      get: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          return (await owned(ctx.params.workspaceId, ctx.params.sessionId)).view();
        },
      },
      delete: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          await owned(ctx.params.workspaceId, ctx.params.sessionId);
          await manager.remove(ctx.params.workspaceId, ctx.params.sessionId);
          return null;
        },
      },
      start: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          await owned(ctx.params.workspaceId, ctx.params.sessionId);
          return manager.start(ctx.params.workspaceId, ctx.params.sessionId);
        },
      },
      stop: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          return (await owned(ctx.params.workspaceId, ctx.params.sessionId)).stop();
        },
      },
      restart: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          await owned(ctx.params.workspaceId, ctx.params.sessionId);
          return manager.restart(ctx.params.workspaceId, ctx.params.sessionId);
        },
      },
      logout: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          return (await owned(ctx.params.workspaceId, ctx.params.sessionId)).logout();
        },
      },
      qr: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          return (await owned(ctx.params.workspaceId, ctx.params.sessionId)).currentQr();
        },
      },
      pairingCode: {
        ...ROUTED,
        params: pairingCodeParams,
        async handler(ctx: Context<Ref & { phoneNumber: string }>) {
          const actor = await owned(ctx.params.workspaceId, ctx.params.sessionId);
          const code = await actor.requestPairingCode(ctx.params.phoneNumber.replace(/^\+/, ""));
          return { code };
        },
      },
      sendMessage: {
        ...ROUTED,
        params: sendMessageParams,
        async handler(ctx: Context<Ref & SendMessageInput>) {
          const { workspaceId, sessionId, to } = ctx.params;
          const content = messageContentOf(ctx.params, config.apiMediaMaxBytes);
          const actor = await owned(workspaceId, sessionId);
          const started = process.hrtime.bigint();
          try {
            // set by the gateway from an Idempotency-Key (see api.service messageIdFor)
            const hinted = (ctx.meta as { messageId?: unknown }).messageId;
            const messageId = typeof hinted === "string" && /^WFI[0-9A-F]{29}$/.test(hinted) ? hinted : undefined;
            const sent = await actor.sendMessage(to, content, messageId ? { messageId } : undefined);
            metrics?.increment(M.sent, { result: "ok" });
            metrics?.observe(M.sendSeconds, Number(process.hrtime.bigint() - started) / 1e9);
            return sent;
          } catch (err: any) {
            metrics?.increment(M.sent, { result: err?.type === "SESSION_NOT_READY" ? "not_ready" : "error" });
            throw err;
          }
        },
      },
      /** Re-reads a session from its folder after its files were replaced (a restore), and resumes it. */
      reload: {
        ...ROUTED,
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          const { workspaceId, sessionId } = ctx.params;
          if ((await own(workspaceId)) === undefined) throw new WafleetError("SESSION_NOT_FOUND", `Workspace ${workspaceId} has no owner yet`);
          const view = await manager.reload(workspaceId, sessionId);
          if (!view) throw new WafleetError("SESSION_NOT_FOUND", `Session ${sessionId} has no folder in workspace ${workspaceId}`);
          return view;
        },
      },
      /** Handoff, old owner's half (called by the coordinator with this node's id). */
      release: {
        visibility: "public",
        params: { $$strict: true, workspaceId: createSessionParams.workspaceId },
        async handler(ctx: Context<{ workspaceId: string }>) {
          await ownership.release(ctx.params.workspaceId);
          return { node: this.broker.nodeID, released: ctx.params.workspaceId };
        },
      },
      /** A hint from the coordinator: the directory gave this node a workspace; adopt it now. */
      adopt: {
        visibility: "public",
        params: { $$strict: true, workspaceId: createSessionParams.workspaceId },
        handler() {
          ownership.scheduleReconcile();
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
          return manager
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
            ...manager.stats(),
            leaseValid: lease.valid(),
            leaseAgeMs: lease.age(),
            owned: ownership.ownedWorkspaces().length,
            coordinator: coordinator.isLeader,
            overloaded: watchdog?.overloaded === true,
            // the original design's shape: used = this node's process and its engines
            memory: { used: watchdog?.lastUsedBytes || mem.rss, total: memoryLimit, rss: mem.rss },
            uptime: Math.round(process.uptime()),
          };
        },
      },
    },

    events: {
      // hints only (each node sees them on its own clock); the lease decides
      "$node.disconnected"() {
        coordinator?.poke();
      },
      "$node.connected"() {
        coordinator?.poke();
      },
    },

    created() {
      if (this.broker.isMetricsEnabled()) {
        metrics = this.broker.metrics as unknown as MetricRegistryLike;
        registerSessionMetrics(metrics);
        eventMetrics = new SessionEventMetrics(metrics);
      }
      storage = new SessionStorage(config.sessionsDir);
      const launchQueue = new LaunchQueue({ concurrency: config.launchConcurrency, staggerMs: config.launchStaggerMs });
      const node = this.broker.nodeID;
      manager = new SessionManager({
        storage,
        engineFactory,
        launchQueue,
        node,
        logger: this.logger,
        startTimeoutMs: config.engineStartTimeoutMs,
        maxSessions: config.maxSessionsPerInstance,
        // meta.json writes carry the token the directory gave this node for the workspace
        fencingToken: (workspaceId: string) => ownership.tokenOf(workspaceId),
        admit: () => lease.valid(),
        overloaded: () => watchdog?.overloaded === true,
        publish: <N extends EventName>(name: N, scope: Ref, payload: EventPayloads[N]) => {
          eventMetrics?.record(name, scope, payload);
          const event = makeEvent(name, { ...scope, node }, payload);
          // broadcast: every gateway streams events to its own subscribers
          Promise.resolve(this.broker.broadcast(name, event)).catch((err: Error) =>
            this.logger.warn(`could not publish ${name}: ${err.message}`),
          );
          // the durable copy for webhooks (the log keeps retrying while NATS is away); the promise is
          // returned so a caller may wait until the event is durable (e.g. before acking a message)
          const durable = eventLog?.append(event);
          durable?.catch((err: Error) => this.logger.error(`event ${event.id} (${name}) not appended to the event log: ${err.message}`));
          return durable;
        },
      });
    },

    async started() {
      const log = this.logger;
      const node = this.broker.nodeID;
      lease = new LeaseKeeper({
        directory: cluster.directory,
        node,
        ttlMs: config.leaseTtlMs,
        capacity: config.maxSessionsPerInstance,
        sessions: () => manager.runningCount(),
        onFence: () => ownership.fence(),
        onValid: () => ownership?.scheduleReconcile(),
        logger: log,
      });
      ownership = new Ownership({
        directory: cluster.directory,
        view: cluster.view,
        node,
        lease,
        host: {
          adopt: async (w) => {
            const { loaded, resumed } = await manager.restore([w]);
            if (loaded) log.info(`workspace ${w}: ${loaded} sessions loaded, ${resumed} resuming`);
          },
          drop: (w) => manager.dropWorkspace(w),
          dropAll: () => manager.dropAll(),
        },
        logger: log,
      });
      coordinator = new Coordinator({
        directory: cluster.directory,
        node,
        leaseTtlMs: config.leaseTtlMs,
        takeoverMarginMs: config.takeoverMarginMs,
        concurrency: config.rebalanceConcurrency,
        storedWorkspaces: async () => {
          const ids = await storage.listWorkspaces();
          const out: Array<{ workspaceId: string; sessions: number }> = [];
          for (const w of ids) out.push({ workspaceId: w, sessions: await storage.runningCount(w) });
          return out;
        },
        release: async (target, w) => {
          await this.broker.call("sessions.release", { workspaceId: w }, { nodeID: target, timeout: config.moveWaitMs + config.engineStartTimeoutMs });
        },
        adoptHint: (target, w) => {
          // a node that just took its lease may not have announced its services yet; it adopts by itself then
          const known = this.broker.registry.nodes.get(target)?.available && (this.broker.registry.nodes.get(target) as any)?.services?.some((s: any) => s.name === "sessions");
          if (!known) return;
          void Promise.resolve(this.broker.call("sessions.adopt", { workspaceId: w }, { nodeID: target, timeout: 5000 })).catch(() => undefined);
        },
        onFailover: (dead, workspaces, seconds) => {
          metrics?.increment(M.failovers);
          metrics?.observe(M.failoverSeconds, seconds);
          void Promise.resolve(this.broker.broadcast("wa.cluster.failover", makeEvent("wa.cluster.failover", { workspaceId: "*", sessionId: "*", node }, { node: dead, workspaces, seconds }))).catch(
            () => undefined,
          );
        },
        logger: log,
      });
      cluster.lease = lease;
      cluster.ownership = ownership;
      cluster.coordinator = coordinator;
      await lease.start();
      ownership.start();
      coordinator.start();
      watchdog = new MemoryWatchdog({
        intervalMs: config.watchdogIntervalMs,
        sessionLimitBytes: config.sessionMaxMemoryBytes,
        nodeLimitBytes: memoryLimit,
        watermark: config.nodeMemoryWatermark,
        sample: () => manager.memorySamples(),
        restart: async (w, s, bytes) => {
          metrics?.increment(M.watchdogRestarts);
          metrics?.increment(M.restarts, { reason: "memory" });
          await manager.find(w, s)?.restart(`MEMORY_LIMIT: ${Math.round(bytes / 1048576)} MB > ${Math.round(config.sessionMaxMemoryBytes / 1048576)} MB`);
        },
        onSample: (samples, engineBytes) => {
          if (!metrics) return;
          metrics.set(M.engineMemory, engineBytes);
          for (const x of samples) metrics.set(M.sessionMemory, x.bytes, { workspace: x.workspaceId, session: x.sessionId });
        },
        logger: log,
      });
      watchdog.start();
      gauges = setInterval(() => {
        if (!metrics) return;
        const st = manager.stats();
        for (const [status, n] of Object.entries(st.byStatus)) metrics.set(M.sessions, n, { status });
        metrics.set(M.capacity, st.capacity);
        metrics.set(M.utilization, st.utilization);
        metrics.set(M.workspaces, ownership.ownedWorkspaces().length);
        metrics.set(M.leaseValid, lease.valid() ? 1 : 0);
      }, 1000);
      this.logger.info(`sessions: node ${node} serving from ${config.sessionsDir} (lease ttl ${config.leaseTtlMs} ms)`);
    },

    async stopped() {
      clearInterval(gauges);
      watchdog?.stop();
      await coordinator?.stop();
      ownership?.stop();
      await manager.haltAll();
      await lease?.stop();
    },
  };
}

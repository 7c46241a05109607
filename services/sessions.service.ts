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
          return (await owned(workspaceId, sessionId)).sendMessage(to, content);
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
      /** This node's session counts and lease, for /cluster and the health service. */
      nodeStats: {
        handler() {
          return { ...manager.stats(), leaseValid: lease.valid(), leaseAgeMs: lease.age(), owned: ownership.ownedWorkspaces().length, coordinator: coordinator.isLeader };
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
        publish: <N extends EventName>(name: N, scope: Ref, payload: EventPayloads[N]) => {
          const event = makeEvent(name, { ...scope, node }, payload);
          // broadcast: every gateway streams events to its own subscribers
          Promise.resolve(this.broker.broadcast(name, event)).catch((err: Error) =>
            this.logger.warn(`could not publish ${name}: ${err.message}`),
          );
          // the durable copy for webhooks (the log keeps retrying while NATS is away)
          eventLog?.append(event).catch((err: Error) => this.logger.error(`event ${event.id} (${name}) not appended to the event log: ${err.message}`));
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
      this.logger.info(`sessions: node ${node} serving from ${config.sessionsDir} (lease ttl ${config.leaseTtlMs} ms)`);
    },

    async stopped() {
      await coordinator?.stop();
      ownership?.stop();
      await manager.haltAll();
      await lease?.stop();
    },
  };
}

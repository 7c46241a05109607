// `sessions` role: hosts this node's session actors. The actions come from mixins (mixins/): what
// every workspace-routed action shares, then one mixin per group of verbs; this file wires the
// node's runtime (actors, lease, ownership, coordinator, watchdog) into the broker's lifecycle.
import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { Config } from "../lib/config";
import { createLaunchQueues, LAUNCH_KINDS, type LaunchQueues } from "../lib/engines/launch-queue";
import { RESTRICTION_REASONS, type EngineFactory } from "../lib/engines/types";
import { makeEvent, type EventName, type EventPayloads } from "../lib/events";
import type { EventLog } from "../lib/events/log";
import { MediaSweeper } from "../lib/media/retention";
import type { MediaStore } from "../lib/media/store";
import { SessionManager } from "../lib/sessions/manager";
import { PreparedWorkspaces } from "../lib/sessions/prepared";
import { SessionStorage } from "../lib/sessions/storage";
import { Coordinator } from "../lib/placement/coordinator";
import { LeaseKeeper } from "../lib/placement/lease";
import { Ownership } from "../lib/placement/ownership";
import type { ClusterRuntime } from "../lib/placement/runtime";
import { M, registerSessionMetrics, SessionEventMetrics, type MetricRegistryLike } from "../lib/ops/metrics";
import { MemoryWatchdog, nodeMemoryLimit } from "../lib/ops/watchdog";
import { CursorCodec } from "../lib/sessions/cursor";
import { ChatsMixin } from "../mixins/chats.mixin";
import { ContactsMixin } from "../mixins/contacts.mixin";
import { CallsMixin } from "../mixins/calls.mixin";
import { GroupsMixin } from "../mixins/groups.mixin";
import { LabelsMixin } from "../mixins/labels.mixin";
import { MessageActionsMixin } from "../mixins/message-actions.mixin";
import { MessagesMixin } from "../mixins/messages.mixin";
import { NodeOpsMixin } from "../mixins/node-ops.mixin";
import { OutboxMixin } from "../mixins/outbox.mixin";
import { OutboxHost } from "../lib/outbox/host";
import { outboxDeps } from "../mixins/outbox-drain";
import { SessionLifecycleMixin } from "../mixins/session-lifecycle.mixin";
import { WorkspaceMixin, type Ref, type SessionsService } from "../mixins/workspace.mixin";

export interface SessionsServiceDeps {
  config: Config;
  /** The node's default engine (WA_ENGINE). */
  engineFactory: EngineFactory;
  /** Every engine installed on the node by name, the default among them (absent: the default only). */
  engines?: ReadonlyMap<string, EngineFactory>;
  cluster: ClusterRuntime;
  /** Where webhook-worthy events are appended for durable delivery (the webhooks service consumes it). */
  eventLog?: EventLog;
  /** Where received media is stored before its event is appended (MEDIA_TARGET). */
  media?: MediaStore;
}

export default function sessionsService({ config, engineFactory, engines, cluster, eventLog, media }: SessionsServiceDeps): ServiceSchema {
  // `this` in the lifecycle below is the service its mixins describe
  type Schema = ServiceSchema<ServiceSettingSchema, Record<string, any>, Record<string, any>, SessionsService>;
  let storage: SessionStorage;
  // workspaces read ahead during a failover's takeover margin, for their adoption
  let prepared: PreparedWorkspaces;
  let eventMetrics: SessionEventMetrics | undefined;
  let gauges: NodeJS.Timeout | undefined;
  let sweeper: MediaSweeper | undefined;
  let launchQueues: LaunchQueues;

  const schema: Schema = {
    name: "sessions",
    mixins: [WorkspaceMixin, SessionLifecycleMixin, MessagesMixin, OutboxMixin, MessageActionsMixin, ChatsMixin, ContactsMixin, GroupsMixin, CallsMixin, LabelsMixin, NodeOpsMixin] as Partial<ServiceSchema>[],

    created() {
      this.config = config;
      this.cursors = new CursorCodec(config.cursorSecret);
      this.eventLog = eventLog;
      this.media = media;
      this.memoryLimit = nodeMemoryLimit();
      if (this.broker.isMetricsEnabled()) {
        this.metrics = this.broker.metrics as unknown as MetricRegistryLike;
        registerSessionMetrics(this.metrics);
        eventMetrics = new SessionEventMetrics(this.metrics);
      }
      storage = new SessionStorage(config.sessionsDir);
      prepared = new PreparedWorkspaces({ ttlMs: config.leaseTtlMs });
      // one queue per kind of engine: held Chromium starts never hold a baileys session's start
      launchQueues = createLaunchQueues({
        browser: { concurrency: config.launchConcurrency, staggerMs: config.launchStaggerMs },
        socket: { concurrency: config.launchConcurrencySocket, staggerMs: config.launchStaggerSocketMs },
      });
      const node = this.broker.nodeID;
      const publish = <N extends EventName>(name: N, scope: Ref, payload: EventPayloads[N], id?: string) => {
        eventMetrics?.record(name, scope, payload);
        const event = makeEvent(name, { ...scope, node }, payload, new Date(), id);
        // broadcast: every gateway streams events to its own subscribers
        Promise.resolve(this.broker.broadcast(name, event)).catch((err: Error) =>
          this.logger.warn(`could not publish ${name}: ${err.message}`),
        );
        // the durable copy for webhooks (the log keeps retrying while NATS is away); the promise is
        // returned so a caller may wait until the event is durable (e.g. before acking a message)
        const durable = eventLog?.append(event);
        durable?.catch((err: Error) => this.logger.error(`event ${event.id} (${name}) not appended to the event log: ${err.message}`));
        // a session that became WORKING may have an outbox waiting for it
        if (name === "wa.session.status" && (payload as EventPayloads["wa.session.status"]).status === "WORKING") this.outboxes?.poke(scope.workspaceId, scope.sessionId);
        // the outbox's guard watches acks (stuck at SERVER) and restriction disconnects
        if (name === "wa.message.ack") {
          const { messageId, ack } = payload as EventPayloads["wa.message.ack"];
          this.outboxes?.ack(scope.workspaceId, scope.sessionId, messageId, ack);
        }
        if (name === "wa.session.disconnected" && RESTRICTION_REASONS.has((payload as EventPayloads["wa.session.disconnected"]).reason)) {
          this.outboxes?.restricted(scope.workspaceId, scope.sessionId, (payload as EventPayloads["wa.session.disconnected"]).reason).catch((err: Error) => this.logger.warn(`outbox of ${scope.workspaceId}/${scope.sessionId} not paused: ${err.message}`));
        }
        return durable;
      };
      this.manager = new SessionManager({
        storage,
        engineFactory,
        engines,
        launchQueue: launchQueues,
        node,
        logger: this.logger,
        startTimeoutMs: config.engineStartTimeoutMs,
        sendReadyWaitMs: config.sendReadyWaitMs,
        maxSessions: config.maxSessionsPerInstance,
        engineWeights: config.engineWeights,
        // meta.json writes carry the token the directory gave this node for the workspace
        fencingToken: (workspaceId: string) => this.ownership.tokenOf(workspaceId),
        admit: () => this.lease.valid(),
        media,
        mediaPresignSeconds: config.mediaPresignSeconds,
        overloaded: () => this.watchdog?.overloaded === true,
        publish,
      });
      this.outboxes = new OutboxHost({
        fileOf: (w, s) => storage.outboxFile(w, s),
        sessionsOf: (w) => this.manager.list(w).map((v) => v.sessionId),
        depsOf: (w, s) => outboxDeps(this, w, s, publish),
        logger: this.logger,
      });
    },

    async started() {
      const log = this.logger;
      const node = this.broker.nodeID;
      this.lease = new LeaseKeeper({
        directory: cluster.directory,
        node,
        ttlMs: config.leaseTtlMs,
        capacity: config.maxSessionsPerInstance,
        // what placement weighs: the running sessions by their engines' weights
        sessions: () => this.manager.load(),
        onFence: () => this.ownership.fence(),
        onValid: () => this.ownership?.scheduleReconcile(),
        logger: log,
      });
      this.ownership = new Ownership({
        directory: cluster.directory,
        view: cluster.view,
        node,
        lease: this.lease,
        host: {
          adopt: async (w) => {
            // read during the takeover margin, when this was a dead node's workspace planned here
            // (not if the dead node it was read for is alive again: its new tenure may have written since)
            const ready = prepared.take(w, (from) => cluster.view.node(from)?.alive === true);
            const { loaded, resumed } = await this.manager.restore([w], ready && (() => ready));
            if (loaded) log.info(`workspace ${w}: ${loaded} sessions loaded${ready ? " (read ahead)" : ""}, ${resumed} resuming`);
            // the drain moves with the session: this node drains the workspace's outboxes now
            await this.outboxes.adopt(w, ready?.outboxes);
          },
          prepare: async (w, from) => {
            const read = await storage.peekWorkspace(w);
            prepared.put(w, { ...read, outboxes: this.outboxes.journaled(w, read.metas.map((m) => m.sessionId)) }, from);
          },
          // the outboxes stop (a send in flight finishing) before the engines do
          drop: async (w) => {
            await this.outboxes.drop(w);
            await this.manager.dropWorkspace(w);
          },
          dropAll: async () => {
            await this.outboxes.dropAll();
            await this.manager.dropAll();
          },
        },
        logger: log,
      });
      const hasSessions = (target: string) => {
        const info = this.broker.registry.nodes.get(target) as any;
        return !!info?.available && !!info?.services?.some((s: any) => s.name === "sessions");
      };
      this.coordinator = new Coordinator({
        directory: cluster.directory,
        node,
        leaseTtlMs: config.leaseTtlMs,
        takeoverMarginMs: config.takeoverMarginMs,
        concurrency: config.rebalanceConcurrency,
        storedWorkspaceIds: () => storage.listWorkspaces(),
        // a workspace weighs what its running sessions weigh on their engines
        weightOf: (w) => storage.runningLoad(w, (engine) => this.manager.cost(engine ?? this.manager.defaultEngine)),
        release: async (target, w) => {
          await this.broker.call("sessions.release", { workspaceId: w }, { nodeID: target, timeout: config.moveWaitMs + config.engineStartTimeoutMs });
        },
        adoptHint: (target, w) => {
          // a node that just took its lease may not have announced its services yet; it adopts by itself then
          if (!hasSessions(target)) return;
          void Promise.resolve(this.broker.call("sessions.adopt", { workspaceId: w }, { nodeID: target, timeout: 5000 })).catch(() => undefined);
        },
        // while a dead node's takeover margin runs: its planned new owners read its workspaces
        prepareHint: (target, workspaceIds, dead) => {
          if (!hasSessions(target)) return;
          void Promise.resolve(this.broker.call("sessions.prepare", { workspaceIds, from: dead }, { nodeID: target, timeout: 5000 })).catch(() => undefined);
        },
        onFailover: (dead, workspaces, seconds) => {
          this.metrics?.increment(M.failovers);
          this.metrics?.observe(M.failoverSeconds, seconds);
          void Promise.resolve(this.broker.broadcast("wa.cluster.failover", makeEvent("wa.cluster.failover", { workspaceId: "*", sessionId: "*", node }, { node: dead, workspaces, seconds }))).catch(
            () => undefined,
          );
        },
        logger: log,
      });
      cluster.lease = this.lease;
      cluster.ownership = this.ownership;
      cluster.coordinator = this.coordinator;
      await this.lease.start();
      this.ownership.start();
      this.coordinator.start();
      this.watchdog = new MemoryWatchdog({
        intervalMs: config.watchdogIntervalMs,
        sessionLimitBytes: config.sessionMaxMemoryBytes,
        nodeLimitBytes: this.memoryLimit,
        watermark: config.nodeMemoryWatermark,
        sample: () => this.manager.memorySamples(),
        restart: async (w, s, bytes) => {
          this.metrics?.increment(M.watchdogRestarts);
          this.metrics?.increment(M.restarts, { reason: "memory" });
          await this.manager.find(w, s)?.restart(`MEMORY_LIMIT: ${Math.round(bytes / 1048576)} MB > ${Math.round(config.sessionMaxMemoryBytes / 1048576)} MB`);
        },
        onSample: (samples, engineBytes) => {
          if (!this.metrics) return;
          this.metrics.set(M.engineMemory, engineBytes);
          for (const x of samples) this.metrics.set(M.sessionMemory, x.bytes, { workspace: x.workspaceId, session: x.sessionId });
        },
        logger: log,
      });
      this.watchdog.start();
      gauges = setInterval(() => {
        if (!this.metrics) return;
        const st = this.manager.stats();
        for (const [status, n] of Object.entries(st.byStatus)) this.metrics.set(M.sessions, n, { status });
        for (const [engine, n] of Object.entries(st.byEngine)) this.metrics.set(M.sessionsByEngine, n, { engine });
        this.metrics.set(M.load, st.load);
        this.metrics.set(M.capacity, st.capacity);
        this.metrics.set(M.utilization, st.utilization);
        this.metrics.set(M.workspaces, this.ownership.ownedWorkspaces().length);
        this.metrics.set(M.leaseValid, this.lease.valid() ? 1 : 0);
        for (const kind of LAUNCH_KINDS) {
          this.metrics.set(M.launchWaiting, launchQueues[kind].pending, { kind });
          this.metrics.set(M.launchRunning, launchQueues[kind].active, { kind });
        }
        void this.outboxes.all().then((boxes) => {
          const byState: Record<string, number> = { queued: 0, sending: 0, sent: 0, failed: 0, cancelled: 0 };
          let paused = 0;
          for (const { outbox } of boxes) {
            for (const [state, n] of Object.entries(outbox.counts())) byState[state] = (byState[state] ?? 0) + n;
            if (outbox.pausedState) paused++;
          }
          for (const [state, n] of Object.entries(byState)) this.metrics?.set(M.outboxItems, n, { state });
          this.metrics?.set(M.outboxPaused, paused);
        });
      }, 1000);
      if (media) {
        // every session node sweeps (deletes are idempotent); a sweep is one listing of the store
        sweeper = new MediaSweeper({ store: media, retentionDays: config.mediaRetentionDays, intervalMs: config.mediaSweepIntervalMs, logger: log });
        sweeper.start();
      }
      this.logger.info(`sessions: node ${node} serving from ${config.sessionsDir} (lease ttl ${config.leaseTtlMs} ms${media ? `, media in ${media.description}` : ""})`);
    },

    async stopped() {
      clearInterval(gauges);
      this.watchdog?.stop();
      await this.coordinator?.stop();
      this.ownership?.stop();
      await this.outboxes.dropAll();
      await this.manager.haltAll();
      await this.lease?.stop();
      await sweeper?.stop();
    },
  };
  return schema as ServiceSchema;
}

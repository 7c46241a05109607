// `sessions` role: hosts this node's session actors and answers the session actions.
import type { Context, ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import { LaunchQueue } from "../lib/engines/launch-queue";
import type { EngineFactory } from "../lib/engines/types";
import { makeEvent, type EventName, type EventPayloads } from "../lib/events";
import { SessionManager } from "../lib/sessions/manager";
import { createSessionParams, listSessionsParams, pairingCodeParams, sendMessageParams, sessionRef } from "../lib/sessions/params";
import { SessionStorage } from "../lib/sessions/storage";

export interface SessionsServiceDeps {
  config: Config;
  engineFactory: EngineFactory;
}

type Ref = { workspaceId: string; sessionId: string };

export default function sessionsService({ config, engineFactory }: SessionsServiceDeps): ServiceSchema {
  let manager: SessionManager;
  return {
    name: "sessions",

    actions: {
      create: {
        params: createSessionParams,
        handler(ctx: Context<{ workspaceId: string; sessionId?: string; accountId?: string | null; start?: boolean; metadata?: Record<string, unknown> }>) {
          return manager.create(ctx.params);
        },
      },
      list: {
        params: listSessionsParams,
        handler(ctx: Context<{ workspaceId: string }>) {
          return manager.list(ctx.params.workspaceId);
        },
      },
      get: {
        params: sessionRef,
        handler(ctx: Context<Ref>) {
          return manager.get(ctx.params.workspaceId, ctx.params.sessionId).view();
        },
      },
      delete: {
        params: sessionRef,
        async handler(ctx: Context<Ref>) {
          await manager.remove(ctx.params.workspaceId, ctx.params.sessionId);
          return null;
        },
      },
      start: {
        params: sessionRef,
        handler(ctx: Context<Ref>) {
          return manager.start(ctx.params.workspaceId, ctx.params.sessionId);
        },
      },
      stop: {
        params: sessionRef,
        handler(ctx: Context<Ref>) {
          return manager.get(ctx.params.workspaceId, ctx.params.sessionId).stop();
        },
      },
      restart: {
        params: sessionRef,
        handler(ctx: Context<Ref>) {
          return manager.restart(ctx.params.workspaceId, ctx.params.sessionId);
        },
      },
      logout: {
        params: sessionRef,
        handler(ctx: Context<Ref>) {
          return manager.get(ctx.params.workspaceId, ctx.params.sessionId).logout();
        },
      },
      qr: {
        params: sessionRef,
        handler(ctx: Context<Ref>) {
          return manager.get(ctx.params.workspaceId, ctx.params.sessionId).currentQr();
        },
      },
      pairingCode: {
        params: pairingCodeParams,
        async handler(ctx: Context<Ref & { phoneNumber: string }>) {
          const code = await manager.get(ctx.params.workspaceId, ctx.params.sessionId).requestPairingCode(ctx.params.phoneNumber.replace(/^\+/, ""));
          return { code };
        },
      },
      sendMessage: {
        params: sendMessageParams,
        handler(ctx: Context<Ref & { to: string; text: string }>) {
          const { workspaceId, sessionId, to, text } = ctx.params;
          return manager.get(workspaceId, sessionId).sendMessage(to, { text });
        },
      },
      /** This node's session counts, for /cluster and the health service. */
      nodeStats: {
        handler() {
          return manager.stats();
        },
      },
    },

    created() {
      const storage = new SessionStorage(config.sessionsDir);
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
        // one owner in embedded mode; the cluster's directory hands out real tokens
        fencingToken: () => 0,
        publish: <N extends EventName>(name: N, scope: Ref, payload: EventPayloads[N]) => {
          // broadcast: every gateway streams events to its own subscribers
          Promise.resolve(this.broker.broadcast(name, makeEvent(name, { ...scope, node }, payload))).catch((err: Error) =>
            this.logger.warn(`could not publish ${name}: ${err.message}`),
          );
        },
      });
    },

    async started() {
      const { loaded, resumed } = await manager.restore();
      this.logger.info(`sessions: ${loaded} loaded from ${config.sessionsDir}, ${resumed} resuming`);
    },

    async stopped() {
      await manager.haltAll();
    },
  };
}

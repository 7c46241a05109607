// The session verbs, answered by the workspace's owner: create, list, get, delete, start, stop,
// restart, logout, the QR, a pairing code, and reload after a restore.
import type { Context } from "moleculer";
import { WafleetError } from "../lib/errors";
import { createSessionParams, listSessionsParams, pairingCodeParams, sessionRef } from "../lib/sessions/params";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

export const SessionLifecycleMixin: SessionsMixin = {
  actions: {
    create: {
      ...ROUTED,
      params: createSessionParams,
      async handler(ctx: Context<{ workspaceId: string; sessionId?: string; accountId?: string | null; start?: boolean; metadata?: Record<string, unknown>; engine?: string }>) {
        await this.own(ctx.params.workspaceId, true);
        return this.manager.create(ctx.params);
      },
    },
    list: {
      ...ROUTED,
      params: listSessionsParams,
      async handler(ctx: Context<{ workspaceId: string }>) {
        if ((await this.own(ctx.params.workspaceId)) === undefined) return [];
        return this.manager.list(ctx.params.workspaceId);
      },
    },
    get: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        return (await this.owned(ctx.params.workspaceId, ctx.params.sessionId)).view();
      },
    },
    delete: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        // its queue goes with it: the drain stops before the folder is removed
        await this.outboxes.close(ctx.params.workspaceId, ctx.params.sessionId);
        await this.manager.remove(ctx.params.workspaceId, ctx.params.sessionId);
        return null;
      },
    },
    start: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        return this.manager.start(ctx.params.workspaceId, ctx.params.sessionId);
      },
    },
    stop: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        return (await this.owned(ctx.params.workspaceId, ctx.params.sessionId)).stop();
      },
    },
    restart: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        return this.manager.restart(ctx.params.workspaceId, ctx.params.sessionId);
      },
    },
    logout: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        return (await this.owned(ctx.params.workspaceId, ctx.params.sessionId)).logout();
      },
    },
    qr: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        return (await this.owned(ctx.params.workspaceId, ctx.params.sessionId)).currentQr();
      },
    },
    pairingCode: {
      ...ROUTED,
      params: pairingCodeParams,
      async handler(ctx: Context<Ref & { phoneNumber: string }>) {
        const actor = await this.owned(ctx.params.workspaceId, ctx.params.sessionId);
        const code = await actor.requestPairingCode(ctx.params.phoneNumber.replace(/^\+/, ""));
        return { code };
      },
    },
    /** Re-reads a session from its folder after its files were replaced (a restore), and resumes it. */
    reload: {
      ...ROUTED,
      params: sessionRef,
      async handler(ctx: Context<Ref>) {
        const { workspaceId, sessionId } = ctx.params;
        if ((await this.own(workspaceId)) === undefined) throw new WafleetError("SESSION_NOT_FOUND", `Workspace ${workspaceId} has no owner yet`);
        const view = await this.manager.reload(workspaceId, sessionId);
        if (!view) throw new WafleetError("SESSION_NOT_FOUND", `Session ${sessionId} has no folder in workspace ${workspaceId}`);
        return view;
      },
    },
  },
};

// Calls (capability calls): reject a ringing call, and the session's call policy (reject every
// call automatically, with an optional text reply), kept in meta.json; answered by the owner.
import type { Context } from "moleculer";
import { WafleetError } from "../lib/errors";
import { DEFAULT_CALL_POLICY, type CallPolicy } from "../lib/sessions/call-policy";
import { callPolicyParams, callPolicyRef, callRef } from "../lib/sessions/group-params";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

export const CallsMixin: SessionsMixin = {
  actions: {
    rejectCall: {
      ...ROUTED,
      params: callRef,
      async handler(ctx: Context<Ref & { callId: string }>) {
        const { workspaceId, sessionId, callId } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        if (!(await actor.rejectCall(callId))) throw new WafleetError("CALL_NOT_FOUND", undefined, { callId });
        return { callId, rejected: true };
      },
    },
    getCallPolicy: {
      ...ROUTED,
      params: callPolicyRef,
      async handler(ctx: Context<Ref>) {
        const { workspaceId, sessionId } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        actor.assertCapabilities(["calls"]);
        return { ...DEFAULT_CALL_POLICY, ...actor.callPolicy };
      },
    },
    setCallPolicy: {
      ...ROUTED,
      params: callPolicyParams,
      async handler(ctx: Context<Ref & { autoReject: boolean; message?: string | null }>) {
        const { workspaceId, sessionId, autoReject, message } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        actor.assertCapabilities(["calls"]);
        const policy: CallPolicy = message ? { autoReject, message } : { autoReject };
        await actor.setCallPolicy(policy);
        return policy;
      },
    },
  },
};

// The original design's Laravel ProxyController routes, translated to wafleet's own actions:
// snake_case bodies and ids that PHP may send as numbers in (echoed back with the type they came
// in), `{success, ...}` answers out. Sessions created here are indexed by id, so
// DELETE /api/whatsapp/sessions/{id} (which names no workspace) finds theirs; a session it cannot
// find is a 404, never a `success: true` a client would take for "gone".
import { WafleetError } from "../errors";
import type { ApiStore } from "./store";

/** Calls an action as the request did (its context). */
export type Caller = <T = unknown>(action: string, params: Record<string, unknown>) => Promise<T>;

type Id = string | number;

const compatIndexKey = (sessionId: string) => `compat:session:${sessionId}`;

export class CompatRoutes {
  constructor(private readonly store: ApiStore) {}

  /** {workspace_id, session_id?, account_id?, metadata?, start?} -> {success, session_id, ...} */
  async create(call: Caller, p: { workspace_id: Id; session_id?: Id; account_id?: Id | null; metadata?: Record<string, unknown>; start?: boolean }) {
    const created: any = await call("sessions.create", {
      workspaceId: String(p.workspace_id),
      ...(p.session_id !== undefined ? { sessionId: String(p.session_id) } : {}),
      ...(p.account_id !== undefined ? { accountId: p.account_id === null ? null : String(p.account_id) } : {}),
      ...(p.metadata ? { metadata: p.metadata } : {}),
      ...(p.start !== undefined ? { start: p.start } : {}),
    });
    await this.store.addMember(compatIndexKey(created.sessionId), created.workspaceId);
    return {
      success: true,
      session_id: p.session_id ?? created.sessionId,
      workspace_id: p.workspace_id,
      account_id: p.account_id ?? created.accountId ?? null,
      status: created.status,
      session: created,
    };
  }

  /** {workspace_id, session_id, to, message | media, caption?} -> {success, message_id, ...} */
  async send(call: Caller, p: { workspace_id: Id; session_id: Id; to: Id; message?: string; media?: object; caption?: string }) {
    const sent: any = await call("sessions.sendMessage", {
      workspaceId: String(p.workspace_id),
      sessionId: String(p.session_id),
      to: String(p.to),
      ...(p.message !== undefined ? { text: p.message } : {}),
      ...(p.media !== undefined ? { media: p.media } : {}),
      ...(p.caption !== undefined ? { caption: p.caption } : {}),
    });
    return { success: true, message_id: sent.id, to: sent.to, ack: sent.ack, timestamp: sent.timestamp };
  }

  /** DELETE /sessions/{id}: the workspace comes from workspace_id, the key, or the index of sessions created here. */
  async delete(call: Caller, p: { id: Id; workspace_id?: Id }) {
    const sessionId = String(p.id);
    let workspaceId = p.workspace_id !== undefined ? String(p.workspace_id) : undefined;
    if (workspaceId === undefined) {
      const known = await this.store.members(compatIndexKey(sessionId));
      if (known.length > 1) throw new WafleetError("SESSION_AMBIGUOUS", `Session ${sessionId} exists in ${known.length} workspaces; send workspace_id`);
      workspaceId = known[0];
    }
    if (!workspaceId) {
      throw new WafleetError("SESSION_NOT_FOUND", `No session ${sessionId} was created through these routes; send workspace_id to delete a session created elsewhere`, { sessionId });
    }
    try {
      await call("sessions.delete", { workspaceId, sessionId });
    } catch (err: any) {
      if (err?.type === "SESSION_NOT_FOUND") await this.store.removeMember(compatIndexKey(sessionId), workspaceId);
      throw err;
    }
    await this.store.removeMember(compatIndexKey(sessionId), workspaceId);
    return { success: true, session_id: p.id, workspace_id: p.workspace_id ?? workspaceId, deleted: true };
  }
}

// Groups (capability groups): create, list, read, update subject/description/settings, leave,
// participants (add, remove, promote, demote: a result per participant), invite codes and the
// picture; answered by the session's owner.
import type { Context } from "moleculer";
import { WafleetError } from "../lib/errors";
import type { GroupChange, GroupInfo, ParticipantAction } from "../lib/engines/capabilities";
import {
  addParticipantsParams,
  createGroupParams,
  groupParticipantRef,
  groupPictureParams,
  groupRef,
  joinGroupParams,
  listGroupsParams,
  updateGroupParams,
} from "../lib/sessions/group-params";
import { PAGE_LIMIT_DEFAULT } from "../lib/sessions/params";
import { canonicalChatId } from "../lib/whatsapp";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

type GroupRef = Ref & { groupId: string };
type ParticipantRef = GroupRef & { contactId: string };

const notFound = (groupId: string) => new WafleetError("GROUP_NOT_FOUND", `No group ${groupId} in this session (unknown, or the account is not a member)`, { groupId });
const canonical = (ids: string[]) => [...new Set(ids.map(canonicalChatId))];

async function changeOne(this: any, ctx: Context<ParticipantRef>, action: ParticipantAction) {
  const { workspaceId, sessionId } = ctx.params;
  const groupId = canonicalChatId(ctx.params.groupId);
  const actor = await this.owned(workspaceId, sessionId);
  const results = await actor.withCapability("groups", (e: any) => e.changeParticipants(groupId, action, [canonicalChatId(ctx.params.contactId)]));
  if (!results) throw notFound(groupId);
  return { groupId, participants: results };
}

/** The group's invite code, read (`get`) or replaced by a new one (`revoke`), with its link. */
async function inviteCode(this: any, ctx: Context<GroupRef>, op: "get" | "revoke") {
  const { workspaceId, sessionId } = ctx.params;
  const groupId = canonicalChatId(ctx.params.groupId);
  const actor = await this.owned(workspaceId, sessionId);
  const code = await actor.withCapability("groups", (e: any) => (op === "get" ? e.getInviteCode!(groupId) : e.revokeInviteCode!(groupId)));
  if (!code) throw notFound(groupId);
  return { groupId, code, link: `https://chat.whatsapp.com/${code}` };
}

export const GroupsMixin: SessionsMixin = {
  actions: {
    createGroup: {
      ...ROUTED,
      params: createGroupParams,
      async handler(ctx: Context<Ref & { subject: string; participants: string[] }>) {
        const { workspaceId, sessionId, subject } = ctx.params;
        const actor = await this.owned(workspaceId, sessionId);
        const { group, participants } = await actor.withCapability("groups", (e) => e.createGroup!(subject, canonical(ctx.params.participants)));
        return { ...group, results: participants };
      },
    },
    listGroups: {
      ...ROUTED,
      params: listGroupsParams,
      async handler(ctx: Context<Ref & { limit?: number; cursor?: string }>) {
        const { workspaceId, sessionId, cursor } = ctx.params;
        const scope = { workspaceId, sessionId, kind: "groups" };
        const before = cursor === undefined ? undefined : this.cursors.decode(scope, cursor);
        const actor = await this.owned(workspaceId, sessionId);
        const page = await actor.withCapability("groups", (e) => e.listGroups!({ limit: ctx.params.limit ?? PAGE_LIMIT_DEFAULT, before }));
        return { items: page.items, nextCursor: page.next === undefined ? null : this.cursors.encode(scope, page.next) };
      },
    },
    getGroup: {
      ...ROUTED,
      params: groupRef,
      async handler(ctx: Context<GroupRef>) {
        const { workspaceId, sessionId } = ctx.params;
        const groupId = canonicalChatId(ctx.params.groupId);
        const actor = await this.owned(workspaceId, sessionId);
        const group = await actor.withCapability("groups", (e) => e.getGroup!(groupId));
        if (!group) throw notFound(groupId);
        return group;
      },
    },
    updateGroup: {
      ...ROUTED,
      params: updateGroupParams,
      async handler(ctx: Context<GroupRef & GroupChange>) {
        const { workspaceId, sessionId, subject, description, settings } = ctx.params;
        if (subject === undefined && description === undefined && settings === undefined) {
          throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): subject", [{ field: "subject", message: "send at least one of subject, description or settings", type: "required" }]);
        }
        const groupId = canonicalChatId(ctx.params.groupId);
        const change: GroupChange = {};
        if (subject !== undefined) change.subject = subject;
        if (description !== undefined) change.description = description;
        if (settings !== undefined) change.settings = settings;
        const actor = await this.owned(workspaceId, sessionId);
        const group: GroupInfo | undefined = await actor.withCapability("groups", (e) => e.updateGroup!(groupId, change));
        if (!group) throw notFound(groupId);
        return group;
      },
    },
    leaveGroup: {
      ...ROUTED,
      params: groupRef,
      async handler(ctx: Context<GroupRef>) {
        const { workspaceId, sessionId } = ctx.params;
        const groupId = canonicalChatId(ctx.params.groupId);
        const actor = await this.owned(workspaceId, sessionId);
        if (!(await actor.withCapability("groups", (e) => e.leaveGroup!(groupId)))) throw notFound(groupId);
        return { groupId, left: true };
      },
    },
    addParticipants: {
      ...ROUTED,
      params: addParticipantsParams,
      async handler(ctx: Context<GroupRef & { participants: string[] }>) {
        const { workspaceId, sessionId } = ctx.params;
        const groupId = canonicalChatId(ctx.params.groupId);
        const actor = await this.owned(workspaceId, sessionId);
        const results = await actor.withCapability("groups", (e) => e.changeParticipants!(groupId, "add", canonical(ctx.params.participants)));
        if (!results) throw notFound(groupId);
        return { groupId, participants: results };
      },
    },
    removeParticipant: {
      ...ROUTED,
      params: groupParticipantRef,
      handler(ctx: Context<ParticipantRef>) {
        return changeOne.call(this, ctx, "remove");
      },
    },
    promoteParticipant: {
      ...ROUTED,
      params: groupParticipantRef,
      handler(ctx: Context<ParticipantRef>) {
        return changeOne.call(this, ctx, "promote");
      },
    },
    demoteParticipant: {
      ...ROUTED,
      params: groupParticipantRef,
      handler(ctx: Context<ParticipantRef>) {
        return changeOne.call(this, ctx, "demote");
      },
    },
    getInviteCode: {
      ...ROUTED,
      params: groupRef,
      handler(ctx: Context<GroupRef>) {
        return inviteCode.call(this, ctx, "get");
      },
    },
    revokeInviteCode: {
      ...ROUTED,
      params: groupRef,
      handler(ctx: Context<GroupRef>) {
        return inviteCode.call(this, ctx, "revoke");
      },
    },
    joinGroup: {
      ...ROUTED,
      params: joinGroupParams,
      async handler(ctx: Context<Ref & { code: string }>) {
        const { workspaceId, sessionId } = ctx.params;
        const code = ctx.params.code.replace(/^https:\/\/chat\.whatsapp\.com\//, "");
        const actor = await this.owned(workspaceId, sessionId);
        const groupId = await actor.withCapability("groups", (e) => e.joinGroup!(code));
        if (!groupId) throw new WafleetError("GROUP_INVITE_NOT_FOUND", undefined, { code });
        return { groupId };
      },
    },
    getGroupPicture: {
      ...ROUTED,
      params: groupRef,
      async handler(ctx: Context<GroupRef>) {
        const { workspaceId, sessionId } = ctx.params;
        const groupId = canonicalChatId(ctx.params.groupId);
        const actor = await this.owned(workspaceId, sessionId);
        const picture = await actor.withCapability("groups", (e) => e.getGroupPicture!(groupId));
        if (picture === undefined) throw notFound(groupId);
        return { groupId, picture };
      },
    },
    setGroupPicture: {
      ...ROUTED,
      params: groupPictureParams,
      async handler(ctx: Context<GroupRef & { mimetype: string; data: string }>) {
        const { workspaceId, sessionId, mimetype, data } = ctx.params;
        const groupId = canonicalChatId(ctx.params.groupId);
        const actor = await this.owned(workspaceId, sessionId);
        if (!(await actor.withCapability("groups", (e) => e.setGroupPicture!(groupId, { mimetype, data })))) throw notFound(groupId);
        return { groupId, picture: { mimetype, size: Buffer.byteLength(data, "base64") } };
      },
    },
    deleteGroupPicture: {
      ...ROUTED,
      params: groupRef,
      async handler(ctx: Context<GroupRef>) {
        const { workspaceId, sessionId } = ctx.params;
        const groupId = canonicalChatId(ctx.params.groupId);
        const actor = await this.owned(workspaceId, sessionId);
        if (!(await actor.withCapability("groups", (e) => e.setGroupPicture!(groupId, null)))) throw notFound(groupId);
        return { groupId, picture: null };
      },
    },
  },
};

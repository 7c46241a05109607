// The REST route table (DESIGN section 6): the one list the gateway builds its aliases from, the
// OpenAPI document is generated from, and 404/405 answers are decided by.
import { mediaParams, mediaUploadParams } from "../media/params";
import { backupEmptyParams, restoreParams, snapshotParams } from "../backup/params";
import { clusterParams, drainParams, moveParams } from "../placement/params";
import type { Capability } from "../engines/capabilities";
import {
  chatRef,
  checkContactsParams,
  contactRef,
  createSessionParams,
  deleteMessageParams,
  editMessageParams,
  listChatsParams,
  listContactsParams,
  listMessagesParams,
  listSessionsParams,
  messageRef,
  pairingCodeParams,
  presenceParams,
  reactParams,
  sendMessageParams,
  sessionRef,
} from "../sessions/params";
import {
  addParticipantsParams,
  callPolicyParams,
  callPolicyRef,
  callRef,
  chatLabelParams,
  chatLabelsParams,
  createGroupParams,
  groupParticipantRef,
  groupPictureParams,
  groupRef,
  joinGroupParams,
  labelsParams,
  listGroupsParams,
  updateGroupParams,
} from "../sessions/group-params";
import { outboxEnqueueParams, outboxItemParams, outboxListParams, outboxPolicyParams, outboxRefParams } from "../outbox/params";
import { WEBHOOK_ROUTES } from "../webhooks/routes";
import { clusterEventStreamParams, compatCreateParams, compatDeleteParams, compatSendParams, createKeyParams, eventStreamParams, listKeysParams, emptyParams, revokeKeyParams, simulatedScanParams } from "./params";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
export type BodyMode = "json" | "raw";

export interface RouteDef {
  method: HttpMethod;
  /** Relative to `base` (default /api/v1), moleculer-web / path-to-regexp syntax. */
  path: string;
  action: string;
  /** Success status; 204 sends no body. */
  status: number;
  summary: string;
  /** The fastest-validator schema the action validates with (the OpenAPI document is built from it). */
  params?: Record<string, unknown>;
  /** Admin keys only (workspace-scoped keys get 403). */
  admin?: boolean;
  /** How the response is rendered: JSON (default), a QR PNG unless the client asks for JSON, or server-sent events. */
  render?: "json" | "qr" | "sse";
  /** Mount point; default API_BASE. The Laravel compatibility routes live under COMPAT_BASE. */
  base?: string;
  /** false: answered without an API key (the OpenAPI document). */
  auth?: false;
  /** Honours an Idempotency-Key header. */
  idempotencyKey?: boolean;
  /** The body carries media: its limit follows API_MEDIA_MAX_BYTES (as base64 in a JSON body), not API_BODY_LIMIT. */
  mediaBody?: boolean;
  /**
   * What the gateway does with the body once the request is admitted (lib/api/pipeline):
   * "json" (default) reads it whole, parses it strictly and merges its fields into the params;
   * "raw" hands it to the route's handler as a size-limited stream, never buffered whole.
   */
  body?: BodyMode;
  /**
   * PHP clients' bodies (the Laravel routes): a JSON body may also be form-encoded
   * (application/x-www-form-urlencoded, Laravel's asForm()), and PHP's empty array `[]` counts as
   * no fields.
   */
  formBodies?: boolean;
  /**
   * The gateway handler that answers the route (registered with the pipeline by the api service):
   * "action" (default) calls `action` and renders its answer as `render` says; "events" is the
   * server-sent event stream. A route that streams, serves files or answers by itself names its own.
   */
  handler?: string;
  /** The param naming the workspace a workspace-scoped key must own (default workspaceId). */
  workspaceParam?: string;
  /** OpenAPI tag. */
  tag?: string;
  /** The gateway's call timeout for this route (default 30 s); 0 = none. */
  timeoutMs?: number;
  /** Any valid key reaches it (it answers about the key itself), workspace keys included. */
  anyKey?: true;
  /** The engine capability the route needs (501 NOT_SUPPORTED without it; DESIGN section 4). */
  capability?: Capability;
  /** Exists only while the gateway runs against the simulated WhatsApp network (404 otherwise, and not in its OpenAPI document). */
  simulation?: true;
}

export const API_BASE = "/api/v1";
/** The original design's Laravel ProxyController calls these paths. */
export const COMPAT_BASE = "/api/whatsapp";

const S = "/workspaces/:workspaceId/sessions";
const K = "/workspaces/:workspaceId/keys";

const tagged = (tag: string, routes: RouteDef[]): RouteDef[] => routes.map((r) => ({ tag, ...r }));

export const ROUTES: RouteDef[] = [
  ...tagged("sessions", [
    { method: "POST", path: S, action: "sessions.create", status: 201, params: createSessionParams, summary: "Create a session (and start it unless start is false)" },
    { method: "GET", path: S, action: "sessions.list", status: 200, params: listSessionsParams, summary: "List the workspace's sessions" },
    { method: "GET", path: `${S}/:sessionId`, action: "sessions.get", status: 200, params: sessionRef, summary: "Get a session" },
    { method: "DELETE", path: `${S}/:sessionId`, action: "sessions.delete", status: 204, params: sessionRef, summary: "Stop, log out and delete a session and its data (idempotent: a missing session is 204 too)" },
    { method: "POST", path: `${S}/:sessionId/start`, action: "sessions.start", status: 200, params: sessionRef, summary: "Start a session (idempotent)" },
    { method: "POST", path: `${S}/:sessionId/stop`, action: "sessions.stop", status: 200, params: sessionRef, summary: "Stop a session, keeping its link (idempotent)" },
    { method: "POST", path: `${S}/:sessionId/restart`, action: "sessions.restart", status: 200, params: sessionRef, summary: "Restart a session's engine" },
    { method: "POST", path: `${S}/:sessionId/logout`, action: "sessions.logout", status: 200, params: sessionRef, summary: "Unlink the WhatsApp device and delete its credentials" },
    { method: "GET", path: `${S}/:sessionId/qr`, action: "sessions.qr", status: 200, params: sessionRef, summary: "The QR to scan: image/png, or JSON {qr, expiresAt, image (the PNG as a data URL)} with Accept: application/json", render: "qr" },
    { method: "POST", path: `${S}/:sessionId/pairing-code`, action: "sessions.pairingCode", status: 200, params: pairingCodeParams, summary: "Link by phone number instead of QR: returns the code to type on the phone" },
    {
      method: "POST",
      path: `${S}/:sessionId/messages`,
      action: "sessions.sendMessage",
      status: 201,
      params: sendMessageParams,
      idempotencyKey: true,
      mediaBody: true,
      summary:
        "Send a message: text ({to, text, linkPreview?}), media ({to, media: {mediaId} | {mimetype, data | url, filename}, caption?, voice?}), location, contact (vCard) or poll; replyTo and mentions with any. Fields beyond text and media need the engine's capability (501 NOT_SUPPORTED)",
    },
    {
      method: "POST",
      path: `${S}/:sessionId/simulated-scan`,
      action: "api.simulatedScan",
      status: 200,
      params: simulatedScanParams,
      simulation: true,
      summary: "Simulation only: a simulated phone scans the session's current QR (phone optional, a random 1555 number by default)",
    },
  ]),
  ...tagged("media", [
    {
      method: "POST",
      path: "/workspaces/:workspaceId/media",
      action: "api.mediaUpload",
      status: 201,
      params: mediaUploadParams,
      body: "raw",
      mediaBody: true,
      handler: "mediaUpload",
      summary: "Upload media once (the raw bytes as the body, its Content-Type one of WhatsApp's media types, ?filename= optional), then send it by media.mediaId any number of times",
    },
    {
      method: "GET",
      path: "/workspaces/:workspaceId/media/:mediaId",
      action: "api.mediaDownload",
      status: 200,
      params: mediaParams,
      handler: "mediaDownload",
      summary: "A media's bytes (received or uploaded), streamed with Content-Type, Content-Length, ETag (its sha256) and single byte Ranges",
    },
  ]),
  ...tagged("messages", [
    { method: "GET", path: `${S}/:sessionId/messages/:messageId`, action: "sessions.getMessage", status: 200, params: messageRef, capability: "history", summary: "One message (the id URL-encoded)" },
    { method: "PATCH", path: `${S}/:sessionId/messages/:messageId`, action: "sessions.editMessage", status: 200, params: editMessageParams, capability: "edit", summary: "Edit your own text message ({text})" },
    {
      method: "DELETE",
      path: `${S}/:sessionId/messages/:messageId`,
      action: "sessions.deleteMessage",
      status: 204,
      params: deleteMessageParams,
      capability: "revoke",
      summary: "Revoke your own message for everyone (default), or delete any message for this account only (?for=me)",
    },
    { method: "PUT", path: `${S}/:sessionId/messages/:messageId/reaction`, action: "sessions.react", status: 200, params: reactParams, capability: "reactions", summary: "Set your reaction ({emoji}); \"\" removes it (idempotent)" },
  ]),
  ...tagged("chats", [
    { method: "GET", path: `${S}/:sessionId/chats`, action: "sessions.listChats", status: 200, params: listChatsParams, capability: "chats", summary: "Chats, most recent first, with unread counts and the last message (cursor-paged: limit, cursor -> nextCursor)" },
    { method: "GET", path: `${S}/:sessionId/chats/:chatId`, action: "sessions.getChat", status: 200, params: chatRef, capability: "chats", summary: "One chat" },
    {
      method: "GET",
      path: `${S}/:sessionId/chats/:chatId/messages`,
      action: "sessions.listChatMessages",
      status: 200,
      params: listMessagesParams,
      capability: "history",
      summary: "A chat's messages, newest first (cursor-paged; since = Unix seconds, fromMe = only own or only others')",
    },
    { method: "POST", path: `${S}/:sessionId/chats/:chatId/read`, action: "sessions.markChatRead", status: 200, params: chatRef, capability: "read", summary: "Mark the chat read (blue ticks to the sender; idempotent)" },
    { method: "POST", path: `${S}/:sessionId/chats/:chatId/presence`, action: "sessions.sendPresence", status: 200, params: presenceParams, capability: "presence", summary: "Show typing, recording or paused in the chat" },
  ]),
  ...tagged("outbox", [
    {
      method: "POST",
      path: `${S}/:sessionId/outbox`,
      action: "sessions.outboxEnqueue",
      status: 202,
      params: outboxEnqueueParams,
      summary:
        "Queue one message (the messages route's fields, media by mediaId, plus key? and notBefore?) or a batch {items: [...]} of up to 1,000; 202 {items: [{index, id, state, duplicate?} | {index, error}], queued, rejected}. Sent by the session's owner at the session's pace",
    },
    { method: "GET", path: `${S}/:sessionId/outbox`, action: "sessions.outboxList", status: 200, params: outboxListParams, summary: "Outbox items, newest first (?state=&limit=&cursor= -> {items, nextCursor, paused, counts})" },
    { method: "GET", path: `${S}/:sessionId/outbox/policy`, action: "sessions.outboxGetPolicy", status: 200, params: outboxRefParams, summary: "The session's pacing policy (the defaults until one is set)" },
    {
      method: "PUT",
      path: `${S}/:sessionId/outbox/policy`,
      action: "sessions.outboxSetPolicy",
      status: 200,
      params: outboxPolicyParams,
      summary: "Set the pacing policy {perMinute, jitterMs, typing, typingMs?, dailyCap?, quietHours?: {from, to, timeZone}} (kept in meta.json)",
    },
    { method: "POST", path: `${S}/:sessionId/outbox/pause`, action: "sessions.outboxPause", status: 200, params: outboxRefParams, summary: "Pause the drain (before the next send; idempotent)" },
    { method: "POST", path: `${S}/:sessionId/outbox/resume`, action: "sessions.outboxResume", status: 200, params: outboxRefParams, summary: "Resume the drain (idempotent)" },
    { method: "GET", path: `${S}/:sessionId/outbox/:id`, action: "sessions.outboxGet", status: 200, params: outboxItemParams, summary: "One outbox item with its state" },
    { method: "DELETE", path: `${S}/:sessionId/outbox/:id`, action: "sessions.outboxCancel", status: 200, params: outboxItemParams, summary: "Cancel a queued item (409 OUTBOX_ITEM_NOT_QUEUED once it is sending or done; idempotent on a cancelled one)" },
  ]),
  ...tagged("contacts", [
    { method: "GET", path: `${S}/:sessionId/contacts`, action: "sessions.listContacts", status: 200, params: listContactsParams, capability: "contacts", summary: "The account's contacts (cursor-paged)" },
    { method: "POST", path: `${S}/:sessionId/contacts/check`, action: "sessions.checkContacts", status: 200, params: checkContactsParams, capability: "contacts", summary: "Which of up to 100 phone numbers are on WhatsApp, with their ids and LIDs" },
    { method: "GET", path: `${S}/:sessionId/contacts/:contactId`, action: "sessions.getContact", status: 200, params: contactRef, capability: "contacts", summary: "One contact by phone, <phone>@c.us or <lid>@lid: phone, LID, names, business flag, about, picture" },
    { method: "POST", path: `${S}/:sessionId/contacts/:contactId/block`, action: "sessions.blockContact", status: 200, params: contactRef, capability: "contacts", summary: "Block the contact (idempotent)" },
    { method: "POST", path: `${S}/:sessionId/contacts/:contactId/unblock`, action: "sessions.unblockContact", status: 200, params: contactRef, capability: "contacts", summary: "Unblock the contact (idempotent)" },
  ]),
  ...tagged("groups", [
    {
      method: "POST",
      path: `${S}/:sessionId/groups`,
      action: "sessions.createGroup",
      status: 201,
      params: createGroupParams,
      capability: "groups",
      summary: "Create a group ({subject, participants[] (at most 256)}): the group, with `results` per participant (added, not_on_whatsapp, invite_sent when their privacy forbids being added)",
    },
    { method: "GET", path: `${S}/:sessionId/groups`, action: "sessions.listGroups", status: 200, params: listGroupsParams, capability: "groups", summary: "The groups the account is in, newest first (cursor-paged)" },
    { method: "POST", path: `${S}/:sessionId/groups/join`, action: "sessions.joinGroup", status: 200, params: joinGroupParams, capability: "groups", summary: "Join a group by invite code (or its chat.whatsapp.com link)" },
    { method: "GET", path: `${S}/:sessionId/groups/:groupId`, action: "sessions.getGroup", status: 200, params: groupRef, capability: "groups", summary: "A group: subject, description, owner, participants with admin flags, settings" },
    {
      method: "PATCH",
      path: `${S}/:sessionId/groups/:groupId`,
      action: "sessions.updateGroup",
      status: 200,
      params: updateGroupParams,
      capability: "groups",
      summary: "Change the subject, description and settings ({announce: only admins send, restrict: only admins edit info}); 403 GROUP_NOT_ADMIN when the account may not",
    },
    { method: "POST", path: `${S}/:sessionId/groups/:groupId/leave`, action: "sessions.leaveGroup", status: 200, params: groupRef, capability: "groups", summary: "Leave the group" },
    {
      method: "POST",
      path: `${S}/:sessionId/groups/:groupId/participants`,
      action: "sessions.addParticipants",
      status: 200,
      params: addParticipantsParams,
      capability: "groups",
      summary: "Add participants (at most 256 per call; admins only): a result per participant (added, already_member, not_on_whatsapp, invite_sent)",
    },
    {
      method: "DELETE",
      path: `${S}/:sessionId/groups/:groupId/participants/:contactId`,
      action: "sessions.removeParticipant",
      status: 200,
      params: groupParticipantRef,
      capability: "groups",
      summary: "Remove a participant (admins only): its result (removed, or not_a_member)",
    },
    { method: "POST", path: `${S}/:sessionId/groups/:groupId/participants/:contactId/promote`, action: "sessions.promoteParticipant", status: 200, params: groupParticipantRef, capability: "groups", summary: "Make a participant an admin: its result (promoted, or not_a_member)" },
    { method: "POST", path: `${S}/:sessionId/groups/:groupId/participants/:contactId/demote`, action: "sessions.demoteParticipant", status: 200, params: groupParticipantRef, capability: "groups", summary: "Take a participant's admin rights: its result (demoted, or not_a_member)" },
    { method: "GET", path: `${S}/:sessionId/groups/:groupId/invite-code`, action: "sessions.getInviteCode", status: 200, params: groupRef, capability: "groups", summary: "The group's invite code and link (admins only)" },
    { method: "DELETE", path: `${S}/:sessionId/groups/:groupId/invite-code`, action: "sessions.revokeInviteCode", status: 200, params: groupRef, capability: "groups", summary: "Revoke the invite code (the old link stops working): the new code" },
    { method: "GET", path: `${S}/:sessionId/groups/:groupId/picture`, action: "sessions.getGroupPicture", status: 200, params: groupRef, capability: "groups", summary: "The group's picture {mimetype, data (base64)}, or null" },
    { method: "PUT", path: `${S}/:sessionId/groups/:groupId/picture`, action: "sessions.setGroupPicture", status: 200, params: groupPictureParams, capability: "groups", summary: "Set the group's picture ({mimetype: image/jpeg | image/png, data: base64 of at most 1 MiB})" },
    { method: "DELETE", path: `${S}/:sessionId/groups/:groupId/picture`, action: "sessions.deleteGroupPicture", status: 200, params: groupRef, capability: "groups", summary: "Remove the group's picture" },
  ]),
  ...tagged("calls", [
    { method: "POST", path: `${S}/:sessionId/calls/:callId/reject`, action: "sessions.rejectCall", status: 200, params: callRef, capability: "calls", summary: "Reject a ringing call (its id from wa.call.received)" },
    { method: "GET", path: `${S}/:sessionId/calls/policy`, action: "sessions.getCallPolicy", status: 200, params: callPolicyRef, capability: "calls", summary: "The session's call policy (default: calls ring)" },
    {
      method: "PUT",
      path: `${S}/:sessionId/calls/policy`,
      action: "sessions.setCallPolicy",
      status: 200,
      params: callPolicyParams,
      capability: "calls",
      summary: "Reject every incoming call automatically ({autoReject, message?}: the text replied to the caller); kept in meta.json, so it survives restarts and failovers",
    },
  ]),
  ...tagged("labels", [
    { method: "GET", path: `${S}/:sessionId/labels`, action: "sessions.listLabels", status: 200, params: labelsParams, capability: "labels", summary: "The account's WhatsApp Business labels (409 LABELS_NOT_AVAILABLE on other accounts)" },
    { method: "GET", path: `${S}/:sessionId/chats/:chatId/labels`, action: "sessions.getChatLabels", status: 200, params: chatLabelsParams, capability: "labels", summary: "A chat's labels" },
    { method: "PUT", path: `${S}/:sessionId/chats/:chatId/labels/:labelId`, action: "sessions.addChatLabel", status: 200, params: chatLabelParams, capability: "labels", summary: "Put a label on a chat (idempotent): the chat's labels" },
    { method: "DELETE", path: `${S}/:sessionId/chats/:chatId/labels/:labelId`, action: "sessions.removeChatLabel", status: 200, params: chatLabelParams, capability: "labels", summary: "Take a label off a chat (idempotent): the chat's labels" },
  ]),
  { method: "GET", path: "/workspaces/:workspaceId/events", action: "api.events", status: 200, params: eventStreamParams, render: "sse", handler: "events", tag: "events", summary: "Server-sent events: every wa.* event of the workspace's sessions (types=comma list filters)" },
  ...tagged("webhooks", WEBHOOK_ROUTES),
  ...tagged("keys", [
    { method: "POST", path: K, action: "api.createKey", status: 201, params: createKeyParams, admin: true, summary: "Create a workspace-scoped API key (the key is shown only in this answer)" },
    { method: "GET", path: K, action: "api.listKeys", status: 200, params: listKeysParams, admin: true, summary: "List the workspace's keys (ids and labels, never secrets)" },
    { method: "DELETE", path: `${K}/:keyId`, action: "api.revokeKey", status: 204, params: revokeKeyParams, admin: true, summary: "Revoke a workspace key" },
  ]),
  ...tagged("cluster", [
    { method: "GET", path: "/cluster", action: "placement.cluster", status: 200, params: clusterParams, admin: true, summary: "Nodes, capacity, utilisation and workspace assignments" },
    { method: "GET", path: "/cluster/events", action: "api.clusterEvents", status: 200, params: clusterEventStreamParams, admin: true, render: "sse", handler: "clusterEvents", summary: "Server-sent events of the cluster itself: wa.cluster.failover and wa.cluster.capacity as they happen (types=comma list filters)" },
    { method: "POST", path: "/cluster/nodes/:node/drain", action: "placement.drain", status: 200, params: drainParams, admin: true, timeoutMs: 130_000, summary: "Move every workspace off a node (before its shutdown)" },
    { method: "POST", path: "/cluster/nodes/:node/undrain", action: "placement.undrain", status: 200, params: drainParams, admin: true, summary: "Put a drained node back into placement" },
    { method: "POST", path: "/workspaces/:workspaceId/move", action: "placement.move", status: 200, params: moveParams, admin: true, summary: "Move a workspace's sessions to another node" },
  ]),
  ...tagged("backups", [
    { method: "GET", path: "/backups", action: "backup.list", status: 200, params: backupEmptyParams, admin: true, summary: "Snapshots, newest first, with their state (complete, verified)" },
    { method: "POST", path: "/backups", action: "backup.now", status: 201, params: backupEmptyParams, admin: true, timeoutMs: 0, summary: "Take a snapshot now, verify it and apply retention" },
    { method: "GET", path: "/backups/:snapshot", action: "backup.get", status: 200, params: snapshotParams, admin: true, summary: "A snapshot's manifest" },
    { method: "POST", path: "/backups/:snapshot/verify", action: "backup.verify", status: 200, params: snapshotParams, admin: true, timeoutMs: 0, summary: "Download a snapshot and check every archive against its manifest" },
    {
      method: "POST",
      path: "/backups/:snapshot/restore",
      action: "backup.restore",
      status: 200,
      params: restoreParams,
      admin: true,
      timeoutMs: 0,
      summary: "Restore a snapshot (one workspace with workspaceId, else all): verified first; only the sessions it touches stop",
    },
  ]),
  { method: "GET", base: "", path: "/healthz", action: "api.healthz", status: 200, params: emptyParams, auth: false, tag: "meta", summary: "Liveness of this gateway (no key needed)" },
  { method: "GET", path: "/openapi.json", action: "api.openapi", status: 200, params: emptyParams, auth: false, tag: "meta", summary: "This API's OpenAPI 3.1 document" },
  { method: "GET", path: "/me", action: "api.me", status: 200, params: emptyParams, anyKey: true, handler: "me", tag: "meta", summary: "Who this key is (admin, or one workspace's) and whether this gateway runs against the simulated WhatsApp network" },
  ...tagged("laravel", [
    { method: "POST", base: COMPAT_BASE, path: "/sessions/create", action: "api.compatCreate", status: 201, params: compatCreateParams, workspaceParam: "workspace_id", formBodies: true, summary: "Laravel ProxyController: create (and start) a session" },
    {
      method: "POST",
      base: COMPAT_BASE,
      path: "/messages/send",
      action: "api.compatSend",
      status: 200,
      params: compatSendParams,
      workspaceParam: "workspace_id",
      idempotencyKey: true,
      mediaBody: true,
      formBodies: true,
      summary: "Laravel ProxyController: send a message",
    },
    { method: "DELETE", base: COMPAT_BASE, path: "/sessions/:id", action: "api.compatDelete", status: 200, params: compatDeleteParams, workspaceParam: "workspace_id", formBodies: true, summary: "Laravel ProxyController: delete a session (workspace_id optional for sessions created here)" },
  ]),
];

/** The routes a gateway serves: the simulation-only ones only when it runs against the simulated network. */
export function routesFor(simulation: boolean, routes: RouteDef[] = ROUTES): RouteDef[] {
  return routes.filter((r) => simulation || !r.simulation);
}

export function fullPathOf(def: RouteDef): string {
  return `${def.base ?? API_BASE}${def.path}`;
}

interface Compiled {
  def: RouteDef;
  re: RegExp;
  names: string[];
}

export type RouteMatch = { def: RouteDef; params: Record<string, string> } | { allowed: HttpMethod[] } | undefined;

/** Matches request paths against ROUTES, as moleculer-web does: `:name` is one non-empty segment. */
export class RouteTable {
  private readonly compiled: Compiled[];

  constructor(readonly routes: RouteDef[] = ROUTES) {
    this.compiled = routes.map((def) => {
      const names: string[] = [];
      const src = fullPathOf(def)
        .split("/")
        .map((seg) => {
          if (!seg.startsWith(":")) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          names.push(seg.slice(1));
          return "([^/]+)";
        })
        .join("/");
      return { def, re: new RegExp(`^${src}/?$`), names };
    });
  }

  /** The route for method + path, or the methods the path allows (405), or undefined (404). */
  match(method: string, urlPath: string): RouteMatch {
    const allowed: HttpMethod[] = [];
    for (const c of this.compiled) {
      const m = c.re.exec(urlPath);
      if (!m) continue;
      if (c.def.method === method.toUpperCase()) {
        const params: Record<string, string> = {};
        c.names.forEach((n, i) => {
          try {
            params[n] = decodeURIComponent(m[i + 1]);
          } catch {
            params[n] = m[i + 1];
          }
        });
        return { def: c.def, params };
      }
      if (!allowed.includes(c.def.method)) allowed.push(c.def.method);
    }
    return allowed.length ? { allowed } : undefined;
  }
}

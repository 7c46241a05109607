// The OpenAPI 3.1 document, generated from the route table and the fastest-validator schemas the
// actions validate with, so the document cannot drift from what the gateway accepts.
import { ERROR_CATALOGUE } from "../errors";
import { ACK_LEVELS } from "../whatsapp";
import { fullPathOf, ROUTES, type RouteDef } from "./routes";
import { SESSION_STATUSES } from "../sessions/status";
import { MEDIA_MIMETYPES } from "../sessions/params";
import { CAPABILITIES } from "../engines/capabilities";
import { MESSAGE_TYPES } from "../whatsapp/message-types";

type JsonSchema = Record<string, unknown>;

/** One fastest-validator rule (object form or shorthand string) as JSON Schema 2020-12. */
export function ruleToJsonSchema(rule: any): JsonSchema {
  if (typeof rule === "string") rule = { type: rule.split("|")[0] };
  if (Array.isArray(rule)) return { oneOf: rule.map(ruleToJsonSchema) };
  const out: JsonSchema = {};
  switch (rule.type) {
    case "string":
      out.type = "string";
      if (rule.min !== undefined) out.minLength = rule.min;
      if (rule.max !== undefined) out.maxLength = rule.max;
      if (rule.length !== undefined) out.minLength = out.maxLength = rule.length;
      if (rule.pattern) out.pattern = rule.pattern instanceof RegExp ? rule.pattern.source : String(rule.pattern);
      if (rule.base64) out.contentEncoding = "base64";
      if (rule.enum) out.enum = [...rule.enum];
      break;
    case "number":
      out.type = rule.integer ? "integer" : "number";
      if (rule.min !== undefined) out.minimum = rule.min;
      if (rule.max !== undefined) out.maximum = rule.max;
      break;
    case "boolean":
      out.type = "boolean";
      break;
    case "enum":
      out.enum = [...rule.values];
      break;
    case "equal":
      out.const = rule.value;
      break;
    case "url":
      out.type = "string";
      out.format = "uri";
      break;
    case "email":
      out.type = "string";
      out.format = "email";
      break;
    case "uuid":
      out.type = "string";
      out.format = "uuid";
      break;
    case "date":
      out.type = "string";
      out.format = "date-time";
      break;
    case "array":
      out.type = "array";
      if (rule.items) out.items = ruleToJsonSchema(rule.items);
      if (rule.min !== undefined) out.minItems = rule.min;
      if (rule.max !== undefined) out.maxItems = rule.max;
      if (rule.length !== undefined) out.minItems = out.maxItems = rule.length;
      if (rule.unique) out.uniqueItems = true;
      break;
    case "object":
      Object.assign(out, objectSchema(rule.props ?? rule.properties, rule.strict === true || rule.strict === "remove"));
      if (rule.maxProps !== undefined) out.maxProperties = rule.maxProps;
      if (rule.minProps !== undefined) out.minProperties = rule.minProps;
      break;
    case "record":
      out.type = "object";
      if (rule.key) out.propertyNames = ruleToJsonSchema(rule.key);
      if (rule.value) out.additionalProperties = ruleToJsonSchema(rule.value);
      break;
    case "multi":
      out.oneOf = rule.rules.map(ruleToJsonSchema);
      break;
    case "any":
    default:
      break;
  }
  if (rule.nullable) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (out.enum) out.enum = [...(out.enum as unknown[]), null];
    else if (out.oneOf) out.oneOf = [...(out.oneOf as JsonSchema[]), { type: "null" }];
  }
  if (rule.default !== undefined && typeof rule.default !== "function") out.default = rule.default;
  if (rule.description) out.description = rule.description;
  return out;
}

function objectSchema(props: Record<string, any> | undefined, strict: boolean): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(props ?? {})) {
    if (name.startsWith("$$")) continue;
    properties[name] = ruleToJsonSchema(rule);
    if (!(typeof rule === "object" && (rule.optional || rule.default !== undefined)) && !(typeof rule === "string" && rule.includes("optional"))) required.push(name);
  }
  return { type: "object", properties, ...(required.length ? { required } : {}), ...(strict ? { additionalProperties: false } : {}) };
}

/** `/workspaces/:workspaceId` -> `/workspaces/{workspaceId}` */
export function openapiPath(def: RouteDef): string {
  return fullPathOf(def).replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function pathParamNames(def: RouteDef): string[] {
  return [...def.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
}

function operationId(def: RouteDef): string {
  const [svc, name] = def.action.split(".");
  const base = svc === "api" ? name : `${svc}${name[0].toUpperCase()}${name.slice(1)}`;
  return base;
}

const ERROR_STATUSES_BY_METHOD = (def: RouteDef): number[] => {
  const s = new Set<number>([400, 404, 405, 429, 500, 503]);
  if (def.auth !== false) [401, 403].forEach((x) => s.add(x));
  if (def.method === "POST" || def.method === "PUT" || def.method === "PATCH") [409, 413, 415].forEach((x) => s.add(x));
  if (def.action.startsWith("sessions.") || def.action.startsWith("api.compat")) [409, 502, 504].forEach((x) => s.add(x));
  if (def.action === "api.mediaDownload") [416, 502].forEach((x) => s.add(x));
  if (def.action === "api.mediaUpload") s.add(502);
  if (def.capability || def.action === "sessions.sendMessage") s.add(501);
  return [...s].sort();
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Answer bodies by action (the actions' return shapes); others are documented as any JSON. */
const RESPONSES: Record<string, JsonSchema> = {
  "api.mediaUpload": ref("MediaDescriptor"),
  "sessions.create": ref("Session"),
  "sessions.list": { type: "array", items: ref("Session") },
  "sessions.get": ref("Session"),
  "sessions.start": ref("Session"),
  "sessions.stop": ref("Session"),
  "sessions.restart": ref("Session"),
  "sessions.logout": ref("Session"),
  "sessions.pairingCode": { type: "object", required: ["code"], properties: { code: { type: "string" } } },
  "sessions.sendMessage": ref("SentMessage"),
  "sessions.listChats": { type: "object", required: ["items", "nextCursor"], properties: { items: { type: "array", items: ref("Chat") }, nextCursor: { type: ["string", "null"], description: "pass as cursor for the next page; null on the last" } } },
  "sessions.getChat": ref("Chat"),
  "sessions.listChatMessages": { type: "object", required: ["items", "nextCursor"], properties: { items: { type: "array", items: ref("Message") }, nextCursor: { type: ["string", "null"], description: "pass as cursor for older messages; null on the last page" } } },
  "sessions.react": { type: "object", required: ["messageId", "emoji"], properties: { messageId: { type: "string" }, emoji: { type: "string", description: "\"\" when the reaction was removed" } } },
  "sessions.createGroup": { allOf: [ref("Group"), { type: "object", required: ["results"], properties: { results: { type: "array", items: ref("ParticipantResult") } } }] },
  "sessions.listGroups": { type: "object", required: ["items", "nextCursor"], properties: { items: { type: "array", items: ref("Group") }, nextCursor: { type: ["string", "null"] } } },
  "sessions.getGroup": ref("Group"),
  "sessions.updateGroup": ref("Group"),
  "sessions.leaveGroup": { type: "object", required: ["groupId", "left"], properties: { groupId: { type: "string" }, left: { const: true } } },
  "sessions.joinGroup": { type: "object", required: ["groupId"], properties: { groupId: { type: "string" } } },
  "sessions.addParticipants": ref("ParticipantResults"),
  "sessions.removeParticipant": ref("ParticipantResults"),
  "sessions.promoteParticipant": ref("ParticipantResults"),
  "sessions.demoteParticipant": ref("ParticipantResults"),
  "sessions.getInviteCode": ref("InviteCode"),
  "sessions.revokeInviteCode": ref("InviteCode"),
  "sessions.getGroupPicture": {
    type: "object",
    required: ["groupId", "picture"],
    properties: { groupId: { type: "string" }, picture: { oneOf: [{ type: "null" }, { type: "object", required: ["mimetype", "data"], properties: { mimetype: { type: "string" }, data: { type: "string", description: "base64" } } }] } },
  },
  "sessions.rejectCall": { type: "object", required: ["callId", "rejected"], properties: { callId: { type: "string" }, rejected: { const: true } } },
  "sessions.getCallPolicy": ref("CallPolicy"),
  "sessions.setCallPolicy": ref("CallPolicy"),
  "sessions.listLabels": { type: "object", required: ["items"], properties: { items: { type: "array", items: ref("Label") } } },
  "sessions.getChatLabels": ref("ChatLabels"),
  "sessions.addChatLabel": ref("ChatLabels"),
  "sessions.removeChatLabel": ref("ChatLabels"),
  "api.createKey": { allOf: [ref("WorkspaceKey"), { type: "object", required: ["key"], properties: { key: { type: "string", description: "the key itself: shown only in this answer" } } }] },
  "api.listKeys": { type: "array", items: ref("WorkspaceKey") },
  "api.healthz": { type: "object", required: ["status"], properties: { status: { const: "ok" } } },
  "api.openapi": { type: "object", required: ["openapi", "paths"] },
  "api.me": ref("Me"),
  "api.simulatedScan": {
    type: "object",
    required: ["workspaceId", "sessionId", "phone", "me"],
    properties: { workspaceId: { type: "string" }, sessionId: { type: "string" }, phone: { type: "string", description: "the simulated phone that scanned" }, me: ref("LinkedAccount") },
  },
  "placement.cluster": ref("ClusterView"),
  "placement.drain": { type: "object", required: ["node", "moved", "remaining"], properties: { node: { type: "string" }, moved: { type: "array", items: { type: "string" } }, remaining: { type: "integer" } } },
  "placement.undrain": { type: "object", required: ["node", "draining"], properties: { node: { type: "string" }, draining: { const: false } } },
  "placement.move": { type: "object", required: ["workspaceId", "from", "to", "token"], properties: { workspaceId: { type: "string" }, from: { type: ["string", "null"] }, to: { type: "string" }, token: { type: "integer" } } },
  "webhooks.set": { allOf: [ref("Webhook"), { type: "object", properties: { secret: { type: "string", description: "only when wafleet generated it: shown in this answer only" } } }] },
  "webhooks.get": ref("Webhook"),
  "webhooks.deliveries": { type: "array", items: ref("Delivery") },
  "webhooks.deadLetters": { type: "array", items: ref("Delivery") },
  "webhooks.retry": { type: "object", required: ["id", "status", "replays"], properties: { id: { type: "string" }, status: { const: "pending" }, replays: { type: "integer" } } },
  "backup.list": { type: "array", items: ref("SnapshotSummary") },
  "backup.get": ref("SnapshotManifest"),
  "backup.verify": ref("VerifyResult"),
  "backup.restore": ref("RestoreReport"),
  "backup.now": {
    type: "object",
    required: ["snapshot", "createdAt", "durationMs", "totals", "verified", "pruned"],
    properties: { snapshot: { type: "string" }, createdAt: { type: "string", format: "date-time" }, durationMs: { type: "number" }, totals: ref("SnapshotTotals"), verified: { type: "boolean" }, pruned: { type: "integer" } },
  },
  "api.compatCreate": {
    type: "object",
    required: ["success", "session_id", "workspace_id", "status"],
    // ids come back with the type they were sent with (PHP sends integers)
    properties: { success: { const: true }, session_id: { type: ["string", "integer"] }, workspace_id: { type: ["string", "integer"] }, account_id: { type: ["string", "integer", "null"] }, status: ref("SessionStatus"), session: ref("Session") },
  },
  "api.compatSend": {
    type: "object",
    required: ["success", "message_id", "to", "ack", "timestamp"],
    properties: { success: { const: true }, message_id: { type: "string" }, to: { type: "string" }, ack: { enum: [...ACK_LEVELS] }, timestamp: { type: "integer" } },
  },
  "api.compatDelete": {
    type: "object",
    required: ["success", "session_id", "deleted"],
    properties: { success: { const: true }, session_id: { type: "string" }, workspace_id: { type: ["string", "integer"] }, deleted: { const: true } },
  },
};

const SCHEMAS: Record<string, JsonSchema> = {
  MediaDescriptor: {
    type: "object",
    description: "A stored media: what uploads answer and what a received message's event carries as message.media",
    required: ["mediaId", "mimetype", "size", "sha256", "url"],
    properties: {
      mediaId: { type: "string", pattern: "^[0-9A-HJKMNP-TV-Z]{26}$" },
      mimetype: { type: "string" },
      size: { type: "integer", description: "bytes" },
      sha256: { type: "string", description: "hex SHA-256 of the bytes (the download's ETag)" },
      filename: { type: "string" },
      url: { type: "string", description: "GET it with a key of the workspace: /api/v1/workspaces/{w}/media/{mediaId}" },
      presignedUrl: { type: "string", description: "events only, with MEDIA_PRESIGN_SECONDS on an S3 store: the bytes without a key" },
      presignedUntil: { type: "string", format: "date-time" },
    },
  },
  SessionStatus: { enum: [...SESSION_STATUSES] },
  Session: {
    type: "object",
    required: ["workspaceId", "sessionId", "status", "desired", "node", "me", "createdAt", "updatedAt"],
    properties: {
      workspaceId: { type: "string" },
      sessionId: { type: "string" },
      accountId: { type: ["string", "null"] },
      status: ref("SessionStatus"),
      desired: { enum: ["running", "stopped"] },
      node: { type: "string", description: "the session node that owns the workspace" },
      me: { oneOf: [{ type: "null" }, { type: "object", required: ["wid", "phone"], properties: { wid: { type: "string" }, phone: { type: "string" }, pushname: { type: "string" }, platform: { type: "string" } } }] },
      reason: { type: ["string", "null"] },
      metadata: { type: "object" },
      createdAt: { type: "string", format: "date-time" },
      updatedAt: { type: "string", format: "date-time" },
      engine: { type: "string", description: "the engine that runs it (simulator, wwebjs, baileys), chosen at create" },
      capabilities: { type: "array", items: ref("Capability"), description: "what its engine can do beyond the core; a route needing another answers 501 NOT_SUPPORTED" },
    },
  },
  Capability: { enum: [...CAPABILITIES] },
  Message: {
    type: "object",
    description: "A message as chats and history list it (media as a descriptor, never its bytes)",
    required: ["id", "from", "to", "body", "timestamp", "fromMe"],
    properties: {
      id: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      body: { type: "string" },
      timestamp: { type: "integer", description: "Unix seconds" },
      fromMe: { type: "boolean" },
      type: { enum: [...MESSAGE_TYPES] },
      chatId: { type: "string" },
      author: { type: "string", description: "a group message's sender (`from` is then the group)" },
      media: { type: "object", required: ["mimetype"], properties: { mimetype: { type: "string" }, filename: { type: "string" }, size: { type: "integer" }, mediaId: { type: "string" }, url: { type: "string" }, sha256: { type: "string" }, error: { type: "string" } } },
      replyTo: { type: "string", description: "the id of the message it quotes" },
      mentions: { type: "array", items: { type: "string" } },
      location: { type: "object", required: ["latitude", "longitude"], properties: { latitude: { type: "number" }, longitude: { type: "number" }, name: { type: "string" }, address: { type: "string" } } },
      vcard: { type: "string" },
      poll: { type: "object" },
      reactions: { type: "array", items: { type: "object", required: ["from", "emoji"], properties: { from: { type: "string" }, emoji: { type: "string" } } } },
      edited: { type: "boolean" },
      revoked: { type: "boolean" },
      ack: { enum: [...ACK_LEVELS] },
    },
  },
  Group: {
    type: "object",
    required: ["id", "subject", "description", "owner", "createdAt", "participants", "settings"],
    properties: {
      id: { type: "string", description: "<digits>@g.us" },
      subject: { type: "string" },
      description: { type: "string" },
      owner: { type: ["string", "null"], description: "the creator" },
      createdAt: { type: ["integer", "null"], description: "Unix seconds" },
      participants: { type: "array", items: { type: "object", required: ["id", "admin", "superAdmin"], properties: { id: { type: "string" }, admin: { type: "boolean" }, superAdmin: { type: "boolean", description: "the creator" } } } },
      settings: ref("GroupSettings"),
    },
  },
  GroupSettings: {
    type: "object",
    required: ["announce", "restrict"],
    properties: { announce: { type: "boolean", description: "only admins send messages" }, restrict: { type: "boolean", description: "only admins edit the group's info" } },
  },
  ParticipantResult: {
    type: "object",
    required: ["id", "status"],
    properties: {
      id: { type: "string" },
      status: { enum: ["added", "already_member", "not_on_whatsapp", "invite_sent", "removed", "promoted", "demoted", "not_a_member"], description: "invite_sent: their privacy forbids being added, WhatsApp sent them an invite instead" },
    },
  },
  ParticipantResults: { type: "object", required: ["groupId", "participants"], properties: { groupId: { type: "string" }, participants: { type: "array", items: ref("ParticipantResult") } } },
  InviteCode: { type: "object", required: ["groupId", "code", "link"], properties: { groupId: { type: "string" }, code: { type: "string" }, link: { type: "string" } } },
  CallPolicy: { type: "object", required: ["autoReject"], properties: { autoReject: { type: "boolean" }, message: { type: "string", description: "replied to the caller after an automatic rejection" } } },
  Label: { type: "object", required: ["id", "name", "color"], properties: { id: { type: "string" }, name: { type: "string" }, color: { type: "string", description: "#rrggbb" } } },
  ChatLabels: { type: "object", required: ["chatId", "labels"], properties: { chatId: { type: "string" }, labels: { type: "array", items: ref("Label") } } },
  Chat: {
    type: "object",
    required: ["id", "name", "isGroup", "unreadCount", "timestamp", "lastMessage"],
    properties: {
      id: { type: "string", description: "<digits>@c.us, <digits>@g.us or <digits>@lid" },
      name: { type: "string" },
      isGroup: { type: "boolean" },
      unreadCount: { type: "integer" },
      timestamp: { type: "integer", description: "Unix seconds of the last activity" },
      lastMessage: { oneOf: [{ type: "null" }, ref("Message")] },
    },
  },
  SentMessage: {
    type: "object",
    required: ["id", "to", "ack", "timestamp"],
    properties: { id: { type: "string" }, to: { type: "string" }, ack: { enum: [...ACK_LEVELS] }, timestamp: { type: "integer", description: "Unix seconds" } },
  },
  Me: {
    type: "object",
    required: ["kind", "keyId", "workspaceId", "simulation", "version"],
    properties: {
      kind: { enum: ["admin", "workspace"] },
      keyId: { type: "string", description: "the key's id (never the key)" },
      workspaceId: { type: ["string", "null"], description: "the one workspace a workspace key reaches; null for an admin key" },
      simulation: { type: "boolean", description: "true when this gateway runs against the simulated WhatsApp network (its simulation-only routes exist)" },
      version: { type: "string" },
    },
  },
  LinkedAccount: { type: "object", required: ["wid", "phone"], properties: { wid: { type: "string" }, phone: { type: "string" }, pushname: { type: "string" }, platform: { type: "string" } } },
  ClusterNode: {
    type: "object",
    required: ["node", "status", "sessions", "byStatus", "byEngine", "load", "capacity", "utilization", "workspaces", "leaseAgeMs", "joinedAt"],
    properties: {
      node: { type: "string" },
      status: { enum: ["up", "down", "draining", "unreachable"] },
      sessions: { type: "integer", description: "running sessions (desired running)" },
      byStatus: { type: ["object", "null"], additionalProperties: { type: "integer" } },
      byEngine: { type: ["object", "null"], additionalProperties: { type: "integer" }, description: "running sessions by engine (null: the node did not answer)" },
      load: { type: "number", description: "what the running sessions weigh, in sessions of the node's default engine (a browser is not a socket: ENGINE_WEIGHTS, docs/engines.md)" },
      capacity: { type: "integer", description: "MAX_SESSIONS_PER_INSTANCE of the node, in sessions of its default engine" },
      utilization: { type: "number", description: "load / capacity, 0-1" },
      workspaces: { type: "integer" },
      leaseAgeMs: { type: ["integer", "null"] },
      joinedAt: { type: "string", format: "date-time" },
      memory: {
        oneOf: [{ type: "null" }, { type: "object", required: ["used", "total", "rss"], properties: { used: { type: "integer", description: "bytes used by the node and its engines" }, total: { type: "integer", description: "the node's memory limit in bytes" }, rss: { type: "integer" } } }],
      },
    },
  },
  ClusterView: {
    type: "object",
    required: ["coordinator", "summary", "nodes", "assignments"],
    properties: {
      coordinator: { type: ["string", "null"] },
      summary: {
        type: "object",
        required: ["nodes", "nodesDown", "sessions", "load", "capacity", "utilization", "workspaces"],
        properties: { nodes: { type: "integer" }, nodesDown: { type: "integer" }, sessions: { type: "integer" }, load: { type: "number" }, capacity: { type: "integer" }, utilization: { type: "number", description: "load / capacity" }, workspaces: { type: "integer" } },
      },
      nodes: { type: "array", items: ref("ClusterNode") },
      assignments: { type: "array", items: { type: "object", required: ["workspaceId", "node", "token"], properties: { workspaceId: { type: "string" }, node: { type: "string" }, token: { type: "integer" } } } },
    },
  },
  Webhook: {
    type: "object",
    required: ["workspaceId", "url", "events", "headers", "secretSet", "createdAt", "updatedAt"],
    properties: {
      workspaceId: { type: "string" },
      url: { type: "string" },
      events: { type: "array", items: { type: "string" } },
      headers: { type: "array", items: { type: "string" }, description: "names of the extra headers (values are never shown)" },
      secretSet: { type: "boolean" },
      createdAt: { type: "string", format: "date-time" },
      updatedAt: { type: "string", format: "date-time" },
    },
  },
  Delivery: {
    type: "object",
    required: ["id", "workspaceId", "sessionId", "event", "status", "attempts", "replays", "updatedAt"],
    properties: {
      id: { type: "string", description: "the event's ULID (the webhook-id header)" },
      workspaceId: { type: "string" },
      sessionId: { type: "string" },
      event: { type: "string" },
      status: { enum: ["failed", "delivered", "pending"] },
      attempts: { type: "integer" },
      replays: { type: "integer" },
      lastStatus: { type: "integer" },
      lastError: { type: "string" },
      lastResponse: { type: "string" },
      durationMs: { type: "number" },
      url: { type: "string" },
      updatedAt: { type: "string", format: "date-time" },
    },
  },
  SnapshotTotals: { type: "object", required: ["workspaces", "sessions", "files", "bytes"], properties: { workspaces: { type: "integer" }, sessions: { type: "integer" }, files: { type: "integer" }, bytes: { type: "integer" } } },
  SnapshotSummary: {
    type: "object",
    required: ["id", "time", "complete", "verified", "objects", "bytes"],
    properties: { id: { type: "string" }, time: { type: "string", format: "date-time" }, complete: { type: "boolean" }, verified: { type: "boolean" }, objects: { type: "integer" }, bytes: { type: "integer" } },
  },
  SnapshotManifest: {
    type: "object",
    required: ["id", "createdAt", "archives", "totals"],
    properties: {
      id: { type: "string" },
      createdAt: { type: "string", format: "date-time" },
      finishedAt: { type: "string", format: "date-time" },
      durationMs: { type: "number" },
      node: { type: "string" },
      engine: { type: "string" },
      archives: {
        type: "array",
        items: {
          type: "object",
          required: ["workspaceId", "name", "size", "sha256", "files", "sessions"],
          properties: {
            workspaceId: { type: "string" },
            name: { type: "string" },
            size: { type: "integer" },
            sha256: { type: "string" },
            files: { type: "integer" },
            sessions: {
              type: "array",
              items: {
                type: "object",
                required: ["sessionId", "engine", "desired", "files", "bytes", "consistency"],
                properties: { sessionId: { type: "string" }, engine: { type: "string" }, desired: { enum: ["running", "stopped", null] }, files: { type: "integer" }, bytes: { type: "integer" }, consistency: { enum: ["stable", "crash"] } },
              },
            },
          },
        },
      },
      totals: ref("SnapshotTotals"),
    },
  },
  VerifyResult: {
    type: "object",
    required: ["snapshot", "ok", "archives", "checkedAt", "durationMs"],
    properties: {
      snapshot: { type: "string" },
      ok: { type: "boolean" },
      archives: { type: "array", items: { type: "object", required: ["workspaceId", "ok"], properties: { workspaceId: { type: "string" }, ok: { type: "boolean" }, error: { type: "string" } } } },
      checkedAt: { type: "string", format: "date-time" },
      durationMs: { type: "number" },
    },
  },
  RestoreReport: {
    type: "object",
    required: ["snapshot", "workspaces", "durationMs"],
    properties: {
      snapshot: { type: "string" },
      workspaces: {
        type: "array",
        items: {
          type: "object",
          required: ["workspaceId", "sessions"],
          properties: {
            workspaceId: { type: "string" },
            sessions: { type: "array", items: { type: "object", required: ["sessionId", "outcome"], properties: { sessionId: { type: "string" }, outcome: { type: "string" }, error: { type: "string" } } } },
          },
        },
      },
      durationMs: { type: "number" },
    },
  },
  WorkspaceKey: {
    type: "object",
    required: ["keyId", "workspaceId", "createdAt"],
    properties: { keyId: { type: "string" }, workspaceId: { type: "string" }, label: { type: "string" }, createdAt: { type: "string", format: "date-time" } },
  },
};

/** The documented answer body of a route (any JSON when its action's shape is not described here). */
export function responseSchemaOf(def: RouteDef): JsonSchema {
  return RESPONSES[def.action] ?? {};
}

export interface OpenApiOptions {
  version: string;
  serverUrl?: string;
}

export function buildOpenApiDocument(opts: OpenApiOptions, routes: RouteDef[] = ROUTES): Record<string, any> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const def of routes) {
    const schema = objectSchema(def.params as Record<string, any>, (def.params as any)?.$$strict === true);
    const props = schema.properties as Record<string, JsonSchema>;
    const inPath = pathParamNames(def);
    const parameters: unknown[] = inPath.map((name) => ({ name, in: "path", required: true, schema: props[name] ?? { type: "string" } }));
    const rest = Object.keys(props).filter((n) => !inPath.includes(n));
    const hasBody = def.method === "POST" || def.method === "PUT" || def.method === "PATCH";
    const required = (schema.required as string[] | undefined) ?? [];
    let requestBody: unknown;
    if (def.body === "raw") {
      // the body is the media itself; the other params are in the query
      for (const n of rest) parameters.push({ name: n, in: "query", required: required.includes(n), schema: props[n] });
      requestBody = { required: true, content: Object.fromEntries(MEDIA_MIMETYPES.map((t) => [t, { schema: { type: "string", contentMediaType: t } }])) };
    } else if (hasBody && rest.length) {
      const bodySchema: JsonSchema = { type: "object", properties: Object.fromEntries(rest.map((n) => [n, props[n]])), additionalProperties: schema.additionalProperties === false ? false : true };
      const req = required.filter((n) => rest.includes(n));
      if (req.length) bodySchema.required = req;
      // the Laravel routes also read forms (Laravel's asForm(); every value a string there)
      const content: Record<string, unknown> = { "application/json": { schema: bodySchema } };
      if (def.formBodies) content["application/x-www-form-urlencoded"] = { schema: bodySchema };
      requestBody = { required: req.length > 0, content };
    } else if (!hasBody) {
      for (const n of rest) parameters.push({ name: n, in: "query", required: required.includes(n), schema: props[n] });
    }
    if (def.idempotencyKey) parameters.push({ $ref: "#/components/parameters/IdempotencyKey" });

    const responses: Record<string, unknown> = {};
    if (def.status === 204) responses["204"] = { description: "Done; no content" };
    else if (def.render === "qr")
      responses["200"] = {
        description: "The QR code",
        content: { "image/png": { schema: { type: "string", contentMediaType: "image/png" } }, "application/json": { schema: { type: "object", properties: { qr: { type: "string", description: "the raw QR value" }, expiresAt: { type: "integer" }, image: { type: "string", description: "the PNG as a data: URL (base64)" } }, required: ["qr", "expiresAt", "image"] } } },
      };
    else if (def.action === "api.mediaDownload") {
      const bytes = { "*/*": { schema: { type: "string", contentMediaType: "application/octet-stream" } } };
      const headers = { ETag: { schema: { type: "string" }, description: "the sha256, quoted" }, "Content-Length": { schema: { type: "integer" } }, "Accept-Ranges": { schema: { type: "string", const: "bytes" } } };
      responses["200"] = { description: "The media's bytes, with its Content-Type", headers, content: bytes };
      responses["206"] = { description: "One byte range (Range: bytes=a-b, a- or -n)", headers: { ...headers, "Content-Range": { schema: { type: "string" } } }, content: bytes };
      responses["304"] = { description: "Not modified (If-None-Match matched the ETag)" };
    } else if (def.render === "sse") responses["200"] = { description: "An event stream (one event per wa.* event)", content: { "text/event-stream": { schema: { type: "string" } } } };
    else responses[String(def.status)] = { description: "Success", content: { "application/json": { schema: responseSchemaOf(def) } } };
    for (const s of ERROR_STATUSES_BY_METHOD(def)) responses[String(s)] = { $ref: `#/components/responses/E${s}` };

    const op: Record<string, unknown> = {
      operationId: operationId(def),
      summary: def.summary,
      tags: [def.tag ?? "other"],
      parameters,
      responses,
      security: def.auth === false ? [] : [{ bearer: [] }, { apiKey: [] }],
    };
    if (requestBody) op.requestBody = requestBody;
    if (def.admin) op["x-wafleet-admin"] = true;
    if (def.simulation) op["x-wafleet-simulation"] = true;
    (paths[openapiPath(def)] ??= {})[def.method.toLowerCase()] = op;
  }

  const byStatus = new Map<number, string[]>();
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) byStatus.set(spec.status, [...(byStatus.get(spec.status) ?? []), code]);
  byStatus.set(405, byStatus.get(405) ?? ["METHOD_NOT_ALLOWED"]);
  const responses: Record<string, unknown> = {};
  for (const s of [400, 401, 403, 404, 405, 408, 409, 413, 415, 416, 422, 429, 431, 500, 501, 502, 503, 504]) {
    const codes = byStatus.get(s) ?? [];
    responses[`E${s}`] = {
      description: `Error: ${codes.join(", ") || "see the code"}`,
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "wafleet REST API",
      version: opts.version,
      description: "WhatsApp Web sessions sharded by workspace. Errors are {error: {code, message, details?}} with the codes of components.schemas.ErrorCode. Rate limited per key (429 with Retry-After).",
    },
    servers: [{ url: opts.serverUrl ?? "/" }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An admin key (API_KEYS) or a workspace key (POST /workspaces/{w}/keys)" },
        apiKey: { type: "apiKey", in: "header", name: "X-Api-Key" },
      },
      parameters: {
        IdempotencyKey: {
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description: "Same key + same body within 24 h returns the first response and sends nothing; same key + another body is 409 IDEMPOTENCY_KEY_REUSED",
          schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$" },
        },
      },
      schemas: {
        ...SCHEMAS,
        ErrorCode: { type: "string", enum: Object.keys(ERROR_CATALOGUE).concat(Object.keys(ERROR_CATALOGUE).includes("METHOD_NOT_ALLOWED") ? [] : ["METHOD_NOT_ALLOWED"]) },
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: { code: { $ref: "#/components/schemas/ErrorCode" }, message: { type: "string" }, details: {} },
            },
            success: { type: "boolean", description: "Only on the Laravel compatibility routes (always false here)" },
          },
        },
      },
      responses,
    },
  };
}

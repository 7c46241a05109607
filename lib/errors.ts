// The error catalogue: every error wafleet returns has a stable code and one HTTP status.
// Errors extend Moleculer's so they cross nodes intact (`type` carries the code, `code` the status).
import { Errors } from "moleculer";

export interface ErrorSpec {
  status: number;
  message: string;
  retryable?: boolean;
}

export const ERROR_CATALOGUE = {
  VALIDATION_ERROR: { status: 400, message: "The request is invalid" },
  INVALID_JSON: { status: 400, message: "The body is not valid JSON" },
  UNAUTHORIZED: { status: 401, message: "A valid API key is required (Authorization: Bearer <key> or X-Api-Key)" },
  FORBIDDEN: { status: 403, message: "This key may not do that" },
  FORBIDDEN_WORKSPACE: { status: 403, message: "This key is not allowed to reach that workspace" },
  NOT_FOUND: { status: 404, message: "No such route" },
  SESSION_NOT_FOUND: { status: 404, message: "Session not found" },
  METHOD_NOT_ALLOWED: { status: 405, message: "Method not allowed on this route" },
  ENGINE_NOT_INSTALLED: { status: 400, message: "That engine is not installed on the session nodes" },
  SESSION_EXISTS: { status: 409, message: "A session with this id already exists in the workspace" },
  SESSION_NOT_READY: { status: 409, message: "The session is not connected to WhatsApp (status must be WORKING)" },
  QR_NOT_AVAILABLE: { status: 409, message: "No QR code to show: the session is not waiting for a scan" },
  PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "The body must be application/json" },
  RATE_LIMITED: { status: 429, message: "Too many requests for this key; wait for Retry-After seconds" },
  INTERNAL_ERROR: { status: 500, message: "Internal error" },
  ENGINE_ERROR: { status: 502, message: "The WhatsApp engine failed to do that" },
  INSTANCE_AT_CAPACITY: { status: 503, message: "This node runs as many sessions as it may", retryable: true },
  SERVICE_UNAVAILABLE: { status: 503, message: "The service is not available right now", retryable: true },
  STALE_FENCING_TOKEN: { status: 409, message: "This node no longer owns the workspace" },
  // ownership and placement (cluster)
  NODE_NOT_FOUND: { status: 404, message: "No such session node in the cluster" },
  NOT_OWNER: { status: 503, message: "This node does not own the workspace; retry on its owner", retryable: true },
  WORKSPACE_MOVING: { status: 503, message: "The workspace is moving to another node; retry shortly", retryable: true },
  NODE_NOT_AVAILABLE: { status: 409, message: "That node cannot take workspaces now (draining, down or full)" },
  LEASE_LOST: { status: 503, message: "This node lost its cluster lease and stopped its sessions", retryable: true },
  ENGINE_TIMEOUT: { status: 504, message: "The WhatsApp engine did not answer in time", retryable: true },
  // backups
  SNAPSHOT_NOT_FOUND: { status: 404, message: "No such complete snapshot (unknown, or interrupted before its manifest)" },
  SNAPSHOT_INVALID: { status: 422, message: "The snapshot does not match its manifest; nothing was restored" },
  BACKUP_FAILED: { status: 502, message: "The backup store or the sessions folder failed", retryable: true },
  // webhooks
  WEBHOOK_NOT_FOUND: { status: 404, message: "This workspace has no webhook" },
  DELIVERY_NOT_FOUND: { status: 404, message: "No such webhook delivery in this workspace" },
  DELIVERY_NOT_FAILED: { status: 409, message: "Only a dead-lettered delivery (status failed) can be retried" },
  WEBHOOK_URL_REFUSED: { status: 400, message: "Webhook URL refused (http/https only; private, loopback and link-local targets need WEBHOOK_ALLOW_PRIVATE=true)" },
  // REST API: bodies, keys, idempotency, media
  JSON_DUPLICATE_KEY: { status: 400, message: "The body repeats a key inside one object" },
  JSON_TOO_DEEP: { status: 400, message: "The body nests objects and arrays too deeply" },
  KEY_NOT_FOUND: { status: 404, message: "No such API key in this workspace" },
  IDEMPOTENCY_KEY_REUSED: { status: 409, message: "This Idempotency-Key was already used with a different request body" },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, message: "A request with this Idempotency-Key is still in progress; retry after it finishes", retryable: true },
  SESSION_AMBIGUOUS: { status: 409, message: "That session id exists in several workspaces; send workspace_id" },
  MEDIA_URL_REFUSED: { status: 400, message: "Media URL refused (http/https only; private, loopback and link-local targets need API_MEDIA_ALLOW_PRIVATE=true)" },
  MEDIA_FETCH_FAILED: { status: 422, message: "The media URL could not be fetched" },
  MEDIA_TOO_LARGE: { status: 413, message: "The media is larger than API_MEDIA_MAX_BYTES" },
  MALFORMED_REQUEST: { status: 400, message: "The HTTP request is malformed" },
  REQUEST_TIMEOUT: { status: 408, message: "The request was not received in time" },
  HEADERS_TOO_LARGE: { status: 431, message: "The request headers are too large" },
  TOO_MANY_STREAMS: { status: 429, message: "This key, or this gateway, has as many event streams open as it may; close one first" },
  GATEWAY_BUSY: { status: 503, message: "This gateway is doing as much of this at once as it may (large bodies, media fetches); retry shortly", retryable: true },
  // the WhatsApp surface
  NOT_SUPPORTED: { status: 501, message: "The session's engine does not support this" },
  CHAT_NOT_FOUND: { status: 404, message: "No such chat in this session" },
  MESSAGE_NOT_FOUND: { status: 404, message: "No such message in this session" },
  CONTACT_NOT_FOUND: { status: 404, message: "No such contact (not on WhatsApp, or an unknown LID)" },
  CONTACT_BLOCKED: { status: 409, message: "You blocked this contact; unblock it to message it" },
  MESSAGE_NOT_EDITABLE: { status: 409, message: "Only your own text messages that are not revoked can be edited or revoked for everyone" },
  GROUP_NOT_FOUND: { status: 404, message: "No such group (unknown, or this account is not a member)" },
  GROUP_NOT_ADMIN: { status: 403, message: "Only a group admin may do that (or the group's settings let only admins)" },
  GROUP_FULL: { status: 409, message: "The group has as many members as WhatsApp allows" },
  GROUP_INVITE_NOT_FOUND: { status: 404, message: "No group has this invite code (wrong, or revoked)" },
  CALL_NOT_FOUND: { status: 404, message: "No such call ringing this session (unknown, ended or already rejected)" },
  LABELS_NOT_AVAILABLE: { status: 409, message: "Labels are a WhatsApp Business feature; this account is not a business account" },
  LABEL_NOT_FOUND: { status: 404, message: "No such label on this account" },
  INVALID_CURSOR: { status: 400, message: "The cursor is not one this list handed out (changed, truncated, or from another list)" },
  // the event log and media
  EVENT_TOO_LARGE: { status: 413, message: "The event is larger than the event log accepts (EVENT_MAX_BYTES or the NATS server's max_payload)" },
  MEDIA_NOT_FOUND: { status: 404, message: "No such media in this workspace (unknown, expired or deleted)" },
  RANGE_NOT_SATISFIABLE: { status: 416, message: "The requested range is outside the media" },
  MEDIA_STORE_FAILED: { status: 502, message: "The media store failed", retryable: true },
  // the outbox
  OUTBOX_ITEM_NOT_FOUND: { status: 404, message: "No such outbox item in this session (unknown, or past retention)" },
  OUTBOX_ITEM_NOT_QUEUED: { status: 409, message: "Only a queued outbox item can be cancelled; this one is sending or done" },
  OUTBOX_UNAVAILABLE: { status: 503, message: "The session's outbox is not open on this node now (moving, or its store failed); retry shortly", retryable: true },
  SIMULATION_REFUSED: { status: 409, message: "The simulated WhatsApp network refused that (an expired QR, a phone linked elsewhere)" },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class WafleetError extends Errors.MoleculerError {
  constructor(code: ErrorCode, message?: string, details?: unknown) {
    const spec: ErrorSpec = ERROR_CATALOGUE[code];
    super(message ?? spec.message, spec.status, code, details as any);
    this.name = "WafleetError";
    this.retryable = spec.retryable === true;
  }
}

/** The stable code of any error, Wafleet's or Moleculer's, as the API shows it. */
export function errorCodeOf(err: any): ErrorCode {
  if (err && typeof err.type === "string" && err.type in ERROR_CATALOGUE) return err.type as ErrorCode;
  switch (err?.type) {
    case "VALIDATION_ERROR":
      return "VALIDATION_ERROR";
    case "SERVICE_NOT_FOUND":
    case "SERVICE_NOT_AVAILABLE":
    case "REQUEST_TIMEOUT":
    case "REQUEST_REJECTED":
      return "SERVICE_UNAVAILABLE";
    case "UNAUTHORIZED":
    case "NO_TOKEN":
    case "INVALID_TOKEN":
      return "UNAUTHORIZED";
    case "FORBIDDEN":
      return "FORBIDDEN";
    case "NOT_FOUND":
      return "NOT_FOUND";
    case "PAYLOAD_TOO_LARGE":
      return "PAYLOAD_TOO_LARGE";
    case "UNSUPPORTED_MEDIA_TYPE":
      return "UNSUPPORTED_MEDIA_TYPE";
    case "RATE_LIMIT_EXCEEDED":
      return "RATE_LIMITED";
    case "INVALID_REQUEST_BODY":
    case "entity.parse.failed":
      return "INVALID_JSON";
  }
  if (err?.code === 413 || err?.status === 413 || err?.type === "entity.too.large") return "PAYLOAD_TOO_LARGE";
  if (err?.code === 415 || err?.status === 415) return "UNSUPPORTED_MEDIA_TYPE";
  if (err?.type === "UNABLE_DECODE_PARAM") return "VALIDATION_ERROR";
  // body-parser and other http-errors style client errors that carry no type we know
  if (err?.status === 400 || err?.statusCode === 400) return "INVALID_JSON";
  const byStatus: Record<number, ErrorCode> = { 400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 429: "RATE_LIMITED" };
  if (typeof err?.code === "number" && byStatus[err.code]) return byStatus[err.code];
  return "INTERNAL_ERROR";
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** The public shape of an error: no stack, no internal paths; 5xx messages are generic. */
export function toErrorBody(err: any): { status: number; body: ErrorBody } {
  const code = errorCodeOf(err);
  const spec: ErrorSpec = ERROR_CATALOGUE[code];
  let message: string = spec.message;
  let details: unknown;
  if (code === "VALIDATION_ERROR" && Array.isArray(err?.data)) {
    // an unknown field ($$strict) has no `field`: name the unknown key(s) instead
    details = err.data.map((d: any) =>
      d.type === "objectStrict" ? { field: d.field ? `${d.field}.${String(d.actual).slice(0, 128)}` : String(d.actual).slice(0, 128), message: "unknown field (not allowed)", type: d.type } : { field: d.field, message: d.message, type: d.type },
    );
    const fields = [...new Set((details as any[]).map((d: any) => d.field).filter(Boolean))];
    if (fields.length) message = `Invalid field(s): ${fields.join(", ")}`;
  } else if (spec.status < 500 || code === "INSTANCE_AT_CAPACITY" || code === "ENGINE_TIMEOUT" || code === "ENGINE_ERROR" || code === "NOT_SUPPORTED") {
    if (err instanceof Errors.MoleculerError && err.type === code && typeof err.message === "string") message = err.message;
    if (err?.type === code && err?.data !== undefined && err?.data !== null) details = err.data;
  }
  return { status: spec.status, body: { error: details === undefined ? { code, message } : { code, message, details } } };
}

// Validation schemas (fastest-validator) for the routes the gateway answers itself: workspace
// keys and the Laravel compatibility routes. The route table and the OpenAPI document use them.
import { MEDIA_MIMETYPES, sendMessageParams, sessionIdParam, workspaceIdParam } from "../sessions/params";
import { ID_PATTERN } from "../sessions/storage";
import { CHAT_ID_PATTERN } from "../whatsapp";

export const createKeyParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  label: { type: "string", min: 1, max: 128, pattern: /^[^\r\n]*$/, optional: true },
} as const;

export const listKeysParams = { $$strict: true, workspaceId: workspaceIdParam } as const;

export const revokeKeyParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  keyId: { type: "string", pattern: /^[0-9a-f]{16}$/, messages: { stringPattern: "expected a key id (16 hex digits)" } },
} as const;

/** Routes that take no parameters (healthz, the OpenAPI document). */
export const emptyParams = { $$strict: true } as const;

/** The simulated phone scanning a session's QR (simulation only). */
export const simulatedScanParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  phone: { type: "string", pattern: /^\+?[0-9]{5,20}$/, optional: true, messages: { stringPattern: "expected a phone number: 5-20 digits, optionally with a leading +" } },
} as const;

export const eventStreamParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  types: { type: "string", max: 1024, optional: true },
} as const;

/** The cluster's own event stream (admin): wa.cluster.* events, optionally filtered by types. */
export const clusterEventStreamParams = {
  $$strict: true,
  types: { type: "string", max: 1024, optional: true },
} as const;

const idMessages = { stringPattern: "expected 1-64 characters of A-Z a-z 0-9 _ -", numberInteger: "expected a whole number", numberMin: "expected a number >= 0" };

/** PHP clients send ids as numbers or strings: both are accepted and turned into the string form. */
const compatId = (optional: boolean) =>
  ({
    type: "multi",
    optional,
    rules: [
      { type: "string", pattern: ID_PATTERN, messages: idMessages },
      { type: "number", integer: true, min: 0, max: Number.MAX_SAFE_INTEGER, messages: idMessages },
    ],
  }) as const;

export const compatCreateParams = {
  $$strict: true,
  workspace_id: compatId(false),
  session_id: compatId(true),
  account_id: { type: "multi", optional: true, nullable: true, rules: [{ type: "string", min: 1, max: 128 }, { type: "number", integer: true }] },
  metadata: { type: "object", optional: true, maxProps: 32 },
  // forms send "1"/"0"/"true"/"false"
  start: { type: "boolean", optional: true, convert: true },
} as const;

export const compatSendParams = {
  $$strict: true,
  workspace_id: compatId(false),
  session_id: compatId(false),
  to: {
    type: "multi",
    rules: [
      { type: "string", pattern: CHAT_ID_PATTERN, messages: { stringPattern: "expected a phone number (digits) or a chat id like 15550001111@c.us" } },
      { type: "number", integer: true, min: 10000, max: Number.MAX_SAFE_INTEGER },
    ],
  },
  message: { type: "string", min: 1, max: 65536, optional: true },
  media: sendMessageParams.media,
  caption: sendMessageParams.caption,
} as const;

export const compatDeleteParams = {
  $$strict: true,
  id: compatId(false),
  workspace_id: compatId(true),
} as const;

export { MEDIA_MIMETYPES };

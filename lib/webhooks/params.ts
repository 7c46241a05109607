// Validation schemas (fastest-validator) for the webhook actions. The route table and the OpenAPI
// document read them from here.
import { EVENT_NAMES } from "../events";
import { workspaceIdParam } from "../sessions/params";

export const webhookRef = { $$strict: true, workspaceId: workspaceIdParam } as const;

export const setWebhookParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  url: { type: "string", min: 8, max: 2048, pattern: /^https?:\/\/\S+$/i, messages: { stringPattern: "expected an http:// or https:// URL" } },
  events: { type: "array", items: { type: "enum", values: ["*", ...EVENT_NAMES] }, min: 1, max: 32, unique: true, optional: true },
  /** Standard Webhooks secret (`whsec_` + base64 of 24+ random bytes); generated and shown once when absent. */
  secret: { type: "string", pattern: /^whsec_[A-Za-z0-9+/]{32,344}={0,2}$/, optional: true, messages: { stringPattern: "expected whsec_ followed by base64 of at least 24 random bytes" } },
  headers: {
    type: "record",
    key: { type: "string", pattern: /^(?!(host|content-type|content-length|transfer-encoding|connection|user-agent|webhook-id|webhook-timestamp|webhook-signature)$)[A-Za-z0-9-]{1,64}$/i, messages: { stringPattern: "expected a header name (not one wafleet sets itself)" } },
    value: { type: "string", max: 1024, pattern: /^[^\r\n]*$/ },
    optional: true,
  },
} as const;

export const listDeliveriesParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  status: { type: "enum", values: ["failed", "delivered", "pending"], optional: true },
  limit: { type: "number", integer: true, min: 1, max: 500, convert: true, optional: true },
} as const;

/** The dead letters of every workspace (admin): newest first, `before` (ms, exclusive) pages back. */
export const listDeadLettersParams = {
  $$strict: true,
  limit: { type: "number", integer: true, min: 1, max: 500, convert: true, optional: true },
  before: { type: "number", integer: true, min: 0, max: 8_640_000_000_000_000, convert: true, optional: true },
} as const;

export const retryDeliveryParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  deliveryId: { type: "string", pattern: /^[0-9A-HJKMNP-TV-Z]{26}$/, messages: { stringPattern: "expected a delivery id (ULID)" } },
} as const;

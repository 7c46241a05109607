// Validation schemas (fastest-validator) for the webhook actions. The webhooks issue owns their
// details; the route table and the OpenAPI document read them from here.
import { workspaceIdParam } from "../sessions/params";

export const webhookRef = { $$strict: true, workspaceId: workspaceIdParam } as const;

export const setWebhookParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  url: { type: "url" },
  events: { type: "array", items: { type: "string", min: 1, max: 64 }, min: 1, max: 32, optional: true },
  secret: { type: "string", min: 24, max: 256, optional: true },
  headers: { type: "record", key: { type: "string", pattern: /^[A-Za-z0-9-]{1,64}$/ }, value: { type: "string", max: 1024 }, optional: true },
} as const;

export const listDeliveriesParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  status: { type: "enum", values: ["failed", "delivered", "pending"], optional: true },
  limit: { type: "number", integer: true, min: 1, max: 500, convert: true, optional: true },
} as const;

export const retryDeliveryParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  deliveryId: { type: "string", pattern: /^[0-9A-HJKMNP-TV-Z]{26}$/, messages: { stringPattern: "expected a delivery id (ULID)" } },
} as const;

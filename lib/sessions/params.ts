// Validation schemas (fastest-validator) for session actions: the gateway validates with these and
// the OpenAPI document is generated from them, so there is one definition per field.
import { ID_PATTERN } from "./storage";

const idMessages = { stringPattern: "expected 1-64 characters of A-Z a-z 0-9 _ -", stringMin: "must not be empty" };

export const workspaceIdParam = { type: "string", pattern: ID_PATTERN, messages: idMessages } as const;
export const sessionIdParam = { type: "string", pattern: ID_PATTERN, messages: idMessages } as const;

/** A phone number (digits, optional leading +) or a WhatsApp jid (`<digits>@c.us`, `@g.us`, `@lid`). */
export const CHAT_ID_PATTERN = /^(\+?[0-9]{5,20}|[0-9]{5,20}(-[0-9]{1,20})?@(c\.us|g\.us|lid|s\.whatsapp\.net))$/;

export const sessionRef = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam } as const;

export const createSessionParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: { ...sessionIdParam, optional: true },
  accountId: { type: "string", min: 1, max: 128, optional: true, nullable: true },
  start: { type: "boolean", optional: true },
  metadata: { type: "object", optional: true, maxProps: 32 },
} as const;

export const listSessionsParams = { $$strict: true, workspaceId: workspaceIdParam } as const;

export const sendMessageParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  to: { type: "string", pattern: CHAT_ID_PATTERN, messages: { stringPattern: "expected a phone number (digits) or a chat id like 15550001111@c.us" } },
  text: { type: "string", min: 1, max: 65536 },
} as const;

export const pairingCodeParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  phoneNumber: { type: "string", pattern: /^\+?[0-9]{5,20}$/, messages: { stringPattern: "expected a phone number in international format, digits only" } },
} as const;

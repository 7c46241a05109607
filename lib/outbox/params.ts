// Validation schemas (fastest-validator) for the outbox's actions, and the per-item check of a
// batch: a batch is accepted as a whole, and each item is queued or answered with its own error.
import Validator from "fastest-validator";
import { WafleetError } from "../errors";
import { checkMessageShape, sendMessageParams, sessionIdParam, workspaceIdParam, type SendMessageInput } from "../sessions/params";
import { DEFAULT_OUTBOX_GUARD, OUTBOX_BATCH_MAX, OUTBOX_STATES, outboxPolicyProps, type OutboxPolicy } from "./types";
import { isTimeZone } from "./pacer";
import type { EnqueueInput } from "./outbox";

const { workspaceId: _w, sessionId: _s, $$strict: _strict, ...messageFields } = sendMessageParams;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const itemFields = {
  ...messageFields,
  key: { type: "string", min: 1, max: 255, pattern: /^[\x21-\x7e]+$/, optional: true, messages: { stringPattern: "expected 1-255 visible ASCII characters" } },
  notBefore: { type: "string", pattern: ISO_DATE, optional: true, messages: { stringPattern: "expected an ISO 8601 date-time with a zone, e.g. 2026-12-01T09:00:00Z" } },
} as const;

/** One message, or `items` (a batch of up to 1,000); each is checked on its own by the owner. */
export const outboxEnqueueParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  // each item is checked by the owner on its own (a bad one gets its own error), so any value passes here
  items: { type: "array", optional: true, min: 1, max: OUTBOX_BATCH_MAX, items: { type: "any" } },
  ...Object.fromEntries(Object.entries(itemFields).map(([k, v]) => [k, { ...v, optional: true }])),
} as const;

const ITEM_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const outboxListParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  state: { type: "enum", values: [...OUTBOX_STATES], optional: true },
  limit: { type: "number", integer: true, min: 1, max: 500, convert: true, optional: true },
  cursor: { type: "string", pattern: ITEM_ID, optional: true, messages: { stringPattern: "expected the nextCursor of the previous page" } },
} as const;
export const outboxItemParams = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam, id: { type: "string", pattern: ITEM_ID, messages: { stringPattern: "expected an outbox item id (26 characters)" } } } as const;
export const outboxRefParams = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam } as const;
export const outboxPolicyParams = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam, ...outboxPolicyProps } as const;

const checkItem = new Validator({ haltOnFirstError: false }).compile({ $$strict: true, ...itemFields } as any) as (v: unknown) => true | Array<{ field: string; message: string; type: string }>;

/** An item of a batch as the outbox keeps it, or the error that refuses it. */
export function parseOutboxItem(raw: unknown, maxBytes: number, now: number): EnqueueInput {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): item", [{ field: "item", message: "expected an object", type: "object" }]);
  const copy = { ...(raw as Record<string, unknown>) };
  const result = checkItem(copy);
  if (result !== true) throw new WafleetError("VALIDATION_ERROR", `Invalid field(s): ${result.map((e) => e.field).join(", ")}`, result.map((e) => ({ field: e.field, message: e.message, type: e.type })));
  const { key, notBefore, ...message } = copy as unknown as SendMessageInput & { key?: string; notBefore?: string };
  checkMessageShape(message, maxBytes);
  if (message.media && message.media.mediaId === undefined) {
    throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): media", [{ field: "media", message: "the outbox sends uploaded media: POST /workspaces/:workspaceId/media once, then queue {media: {mediaId}}", type: "oneOf" }]);
  }
  const out: EnqueueInput = { message };
  if (key !== undefined) out.key = key;
  if (notBefore !== undefined) {
    const t = Date.parse(notBefore);
    if (!Number.isFinite(t) || t > now + 366 * 86_400_000) throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): notBefore", [{ field: "notBefore", message: "expected a date-time within a year", type: "date" }]);
    out.notBefore = t;
  }
  return out;
}

/** The policy a PUT carries, complete (optional fields given their defaults' meaning). */
export function parseOutboxPolicy(p: Record<string, any>): OutboxPolicy {
  if (p.quietHours && !isTimeZone(p.quietHours.timeZone)) {
    throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): quietHours.timeZone", [{ field: "quietHours.timeZone", message: "expected an IANA time zone such as Europe/Berlin", type: "timeZone" }]);
  }
  return {
    perMinute: p.perMinute,
    jitterMs: p.jitterMs,
    typing: p.typing,
    typingMs: p.typingMs ?? 1500,
    dailyCap: p.dailyCap ?? null,
    quietHours: p.quietHours ? { from: p.quietHours.from, to: p.quietHours.to, timeZone: p.quietHours.timeZone } : null,
    guard: { ...DEFAULT_OUTBOX_GUARD, ...p.guard },
  };
}

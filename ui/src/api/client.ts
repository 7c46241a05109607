// The REST client: openapi-fetch typed by the paths openapi-typescript generated from the
// gateway's own OpenAPI document, so every call's path, parameters and answer are checked against
// the API. The key rides in the Authorization header only (never in a URL).
import createClient from "openapi-fetch";
import type { components, paths } from "./openapi.gen";
import { auth } from "../auth";

export type Schemas = components["schemas"];
export type Session = Schemas["Session"];
export type SessionStatus = Schemas["SessionStatus"];
export type Me = Schemas["Me"];
export type ClusterView = Schemas["ClusterView"];
export type ClusterNode = Schemas["ClusterNode"];
export type Webhook = Schemas["Webhook"];
export type Delivery = Schemas["Delivery"];
export type SnapshotSummary = Schemas["SnapshotSummary"];
export type SnapshotManifest = Schemas["SnapshotManifest"];
export type ErrorCode = Schemas["ErrorCode"];

/** An answer that is not 2xx (status 0: the gateway could not be reached at all). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "GATEWAY_UNREACHABLE" | "BAD_GATEWAY_ANSWER",
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The gateway itself is away (down, restarting, or a proxy answering for it). */
  get gatewayDown(): boolean {
    return this.code === "GATEWAY_UNREACHABLE" || this.code === "BAD_GATEWAY_ANSWER";
  }
}

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? "" });

api.use({
  onRequest({ request }) {
    const key = auth.key();
    if (key) request.headers.set("Authorization", `Bearer ${key}`);
    return request;
  },
});

/** Listeners for answers that concern the whole dashboard: a refused key, a gateway that is down or back. */
type Health = { kind: "unauthorized"; message: string } | { kind: "down"; message: string } | { kind: "up" };
const healthListeners = new Set<(h: Health) => void>();
export function onGatewayHealth(fn: (h: Health) => void): () => void {
  healthListeners.add(fn);
  return () => healthListeners.delete(fn);
}
export function reportHealth(h: Health): void {
  for (const fn of healthListeners) fn(h);
}

/** The error an answer carries: the catalogue's {error: {code, message}}, or what a proxy sent instead. */
export function errorOf(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  if (e && typeof e.code === "string") return new ApiError(status, e.code as ErrorCode, e.message ?? e.code, e.details);
  if (status >= 500) return new ApiError(status, "BAD_GATEWAY_ANSWER", `The gateway answered ${status} without a wafleet error; it may be down or restarting`);
  return new ApiError(status, "INTERNAL_ERROR", `Unexpected answer ${status}`);
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/**
 * Awaits an openapi-fetch call and returns its data, or throws ApiError. A 401 signs the user out
 * (the key was revoked or mistyped); an unreachable gateway is reported so the shell can say so.
 */
export async function ok<T>(call: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await call;
  } catch (err) {
    const e = new ApiError(0, "GATEWAY_UNREACHABLE", `The gateway cannot be reached (${(err as Error).message})`);
    reportHealth({ kind: "down", message: e.message });
    throw e;
  }
  const { response } = answer;
  if (response.ok) {
    reportHealth({ kind: "up" });
    return answer.data as T;
  }
  const e = errorOf(response.status, answer.error);
  if (e.gatewayDown) reportHealth({ kind: "down", message: e.message });
  else reportHealth({ kind: "up" });
  if (response.status === 401) reportHealth({ kind: "unauthorized", message: e.message });
  throw e;
}

/** A message for people: the catalogue's message and code. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) return err.status ? `${err.message} (${err.code})` : err.message;
  return (err as Error)?.message ?? String(err);
}

// The REST route table (DESIGN section 6): the one list the gateway builds its aliases from.
import { clusterParams, drainParams, moveParams } from "../placement/params";
import { createSessionParams, listSessionsParams, pairingCodeParams, sendMessageParams, sessionRef } from "../sessions/params";
import { WEBHOOK_ROUTES } from "../webhooks/routes";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface RouteDef {
  method: HttpMethod;
  /** Relative to the API base (/api/v1), moleculer-web / path-to-regexp syntax. */
  path: string;
  action: string;
  /** Success status; 204 sends no body. */
  status: number;
  summary: string;
  /** The fastest-validator schema the action validates with (the OpenAPI document is built from it). */
  params?: Record<string, unknown>;
  /** Admin keys only (workspace-scoped keys get 403). */
  admin?: boolean;
  /** How the response is rendered: JSON (default) or a QR PNG unless the client asks for JSON. */
  render?: "json" | "qr";
}

export const API_BASE = "/api/v1";


const S = "/workspaces/:workspaceId/sessions";

export const ROUTES: RouteDef[] = [
  { method: "POST", path: S, action: "sessions.create", status: 201, params: createSessionParams, summary: "Create a session (and start it unless start is false)" },
  { method: "GET", path: S, action: "sessions.list", status: 200, params: listSessionsParams, summary: "List the workspace's sessions" },
  { method: "GET", path: `${S}/:sessionId`, action: "sessions.get", status: 200, params: sessionRef, summary: "Get a session" },
  { method: "DELETE", path: `${S}/:sessionId`, action: "sessions.delete", status: 204, params: sessionRef, summary: "Stop, log out and delete a session and its data" },
  { method: "POST", path: `${S}/:sessionId/start`, action: "sessions.start", status: 200, params: sessionRef, summary: "Start a session (idempotent)" },
  { method: "POST", path: `${S}/:sessionId/stop`, action: "sessions.stop", status: 200, params: sessionRef, summary: "Stop a session, keeping its link (idempotent)" },
  { method: "POST", path: `${S}/:sessionId/restart`, action: "sessions.restart", status: 200, params: sessionRef, summary: "Restart a session's engine" },
  { method: "POST", path: `${S}/:sessionId/logout`, action: "sessions.logout", status: 200, params: sessionRef, summary: "Unlink the WhatsApp device and delete its credentials" },
  { method: "GET", path: `${S}/:sessionId/qr`, action: "sessions.qr", status: 200, params: sessionRef, summary: "The QR to scan: image/png, or JSON {qr, expiresAt} with Accept: application/json", render: "qr" },
  { method: "POST", path: `${S}/:sessionId/pairing-code`, action: "sessions.pairingCode", status: 200, params: pairingCodeParams, summary: "Link by phone number instead of QR: returns the code to type on the phone" },
  { method: "POST", path: `${S}/:sessionId/messages`, action: "sessions.sendMessage", status: 201, params: sendMessageParams, summary: "Send a text message" },
  ...WEBHOOK_ROUTES,
  { method: "GET", path: "/cluster", action: "placement.cluster", status: 200, params: clusterParams, admin: true, summary: "Nodes, capacity, utilisation and workspace assignments" },
  { method: "POST", path: "/cluster/nodes/:node/drain", action: "placement.drain", status: 200, params: drainParams, admin: true, summary: "Move every workspace off a node (before its shutdown)" },
  { method: "POST", path: "/workspaces/:workspaceId/move", action: "placement.move", status: 200, params: moveParams, admin: true, summary: "Move a workspace's sessions to another node" },
];

export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

// Webhook routes (DESIGN section 6), merged into the gateway's route table by lib/api/routes.ts.
import type { RouteDef } from "../api/routes";
import { listDeadLettersParams, listDeliveriesParams, retryDeliveryParams, setWebhookParams, webhookRef } from "./params";

const W = "/workspaces/:workspaceId/webhook";

export const WEBHOOK_ROUTES: RouteDef[] = [
  { method: "PUT", path: W, action: "webhooks.set", status: 200, params: setWebhookParams, summary: "Set the workspace's webhook: url, events filter (* for all), optional secret and headers" },
  { method: "GET", path: W, action: "webhooks.get", status: 200, params: webhookRef, summary: "Get the workspace's webhook (the secret is never shown)" },
  { method: "DELETE", path: W, action: "webhooks.remove", status: 204, params: webhookRef, summary: "Remove the workspace's webhook" },
  { method: "GET", path: `${W}/deliveries`, action: "webhooks.deliveries", status: 200, params: listDeliveriesParams, summary: "List webhook deliveries (status=failed: the dead letters)" },
  { method: "POST", path: `${W}/deliveries/:deliveryId/retry`, action: "webhooks.retry", status: 202, params: retryDeliveryParams, summary: "Deliver a dead-lettered event again" },
  {
    method: "GET",
    path: "/webhooks/dead-letters",
    action: "webhooks.deadLetters",
    status: 200,
    params: listDeadLettersParams,
    admin: true,
    summary: "The dead letters of every workspace, newest first (before=<ms of the last one seen> pages back); replay one with its workspace's retry route",
  },
];

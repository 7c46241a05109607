// `api` role: the moleculer-web REST gateway. Routes come from lib/api/routes; this file wires
// authentication, response rendering, the error shape and the server-sent event stream.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import QRCode from "qrcode";
import type { Config } from "../lib/config";
import { toErrorBody, WafleetError } from "../lib/errors";
import type { WafleetEvent } from "../lib/events";
import { EVENT_NAMES } from "../lib/events";
import { matchesAny, presentedKey, type AdminKeySet } from "../lib/api/keys";
import { API_BASE, ROUTES, type RouteDef } from "../lib/api/routes";
import { isValidId } from "../lib/sessions/storage";

export interface ApiServiceDeps {
  config: Config;
  keys: AdminKeySet;
}

type Req = IncomingMessage & { $alias?: { wafleetRoute?: RouteDef }; $params?: Record<string, any>; $ctx?: Context<any, any>; headers: Record<string, any> };
type Res = ServerResponse;

interface Subscriber {
  workspaceId: string;
  types: Set<string> | null;
  res: Res;
}

const SSE_HEARTBEAT_MS = 15000;

export default function apiService({ config, keys }: ApiServiceDeps): ServiceSchema {
  const subscribers = new Set<Subscriber>();
  let heartbeat: NodeJS.Timeout | undefined;

  function sendError(res: Res, err: unknown): void {
    const { status, body } = toErrorBody(err);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    if (status === 503) res.setHeader("Retry-After", "5");
    res.end(JSON.stringify(body));
  }

  const aliases: Record<string, unknown> = {};
  for (const r of ROUTES) aliases[`${r.method} ${r.path}`] = { action: r.action, wafleetRoute: r };

  /** Server-sent events for one workspace: every wa.* event of its sessions, as it happens. */
  aliases["GET /workspaces/:workspaceId/events"] = function (this: any, req: Req, res: Res) {
    const workspaceId = req.$params?.workspaceId;
    if (!isValidId(workspaceId)) {
      sendError(res, new WafleetError("VALIDATION_ERROR", "Invalid field(s): workspaceId", [{ field: "workspaceId", message: "expected 1-64 characters of A-Z a-z 0-9 _ -", type: "stringPattern" }]));
      return;
    }
    const typesParam = req.$params?.types;
    let types: Set<string> | null = null;
    if (typeof typesParam === "string" && typesParam) {
      types = new Set(typesParam.split(","));
      const unknown = [...types].filter((t) => !EVENT_NAMES.includes(t as any));
      if (unknown.length) {
        sendError(res, new WafleetError("VALIDATION_ERROR", `Invalid field(s): types`, [{ field: "types", message: `unknown event type(s): ${unknown.join(", ")}`, type: "enumValue" }]));
        return;
      }
    }
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.write(": wafleet event stream\n\n");
    const sub: Subscriber = { workspaceId, types, res };
    subscribers.add(sub);
    req.on("close", () => subscribers.delete(sub));
  };

  return {
    name: "api",
    mixins: [ApiGateway],

    settings: <any>{
      port: config.apiPort,
      ip: config.apiHost,
      logRequestParams: null,
      logResponseData: null,
      log4XXResponses: false,
      routes: [
        {
          path: "/",
          mappingPolicy: "restrict",
          authentication: false,
          bodyParsers: false,
          aliases: {
            "GET /healthz"(_req: Req, res: Res) {
              res.setHeader("Content-Type", "application/json; charset=utf-8");
              res.end(JSON.stringify({ status: "ok" }));
            },
          },
        },
        {
          path: API_BASE,
          mappingPolicy: "restrict",
          autoAliases: false,
          authentication: true,
          bodyParsers: { json: { strict: true, limit: "1mb" } },
          aliases,
          callOptions: { timeout: 30000 },
          onBeforeCall(ctx: Context<any, any>, _route: unknown, req: Req) {
            ctx.meta.accept = String(req.headers["accept"] ?? "");
          },
          async onAfterCall(ctx: Context<any, any>, _route: unknown, req: Req, _res: Res, data: any) {
            const def = req.$alias?.wafleetRoute;
            if (!def) return data;
            ctx.meta.$statusCode = def.status;
            if (def.status === 201 && data && typeof data === "object") {
              const base = `${API_BASE}/workspaces/${req.$params?.workspaceId}/sessions`;
              ctx.meta.$location = def.action === "sessions.create" ? `${base}/${data.sessionId}` : `${base}/${req.$params?.sessionId}/messages/${encodeURIComponent(data.id ?? "")}`;
            }
            if (def.status === 204) return null;
            if (def.render === "qr" && !/application\/json/i.test(String(ctx.meta.accept))) {
              ctx.meta.$responseType = "image/png";
              ctx.meta.$responseHeaders = { "Cache-Control": "no-store", "X-QR-Expires-At": String(data.expiresAt) };
              return QRCode.toBuffer(data.qr, { type: "png", errorCorrectionLevel: "M", margin: 2, width: 320 });
            }
            return data;
          },
          onError(req: Req, res: Res, err: any) {
            sendError(res, err);
          },
        },
      ],
      onError(_req: Req, res: Res, err: any) {
        sendError(res, err);
      },
    },

    events: {
      "wa.**"(ctx: Context<WafleetEvent>) {
        if (!subscribers.size) return;
        const event = ctx.params;
        const name = ctx.eventName ?? event.event;
        const frame = `id: ${event.id}\nevent: ${name}\ndata: ${JSON.stringify(event)}\n\n`;
        for (const sub of subscribers) {
          if (sub.workspaceId !== event.workspaceId) continue;
          if (sub.types && !sub.types.has(name)) continue;
          sub.res.write(frame);
        }
      },
    },

    methods: {
      authenticate(_ctx: Context, _route: unknown, req: Req) {
        const key = presentedKey(req.headers);
        if (!key || !matchesAny(key, keys.hashes)) throw new WafleetError("UNAUTHORIZED");
        return { role: "admin" };
      },
    },

    started() {
      heartbeat = setInterval(() => {
        for (const sub of subscribers) sub.res.write(": keepalive\n\n");
      }, SSE_HEARTBEAT_MS);
      const addr = (this as any).server?.address?.();
      this.logger.info(`API listening on http://${config.apiHost}:${addr?.port ?? config.apiPort}${API_BASE}`);
    },

    stopped() {
      clearInterval(heartbeat);
      for (const sub of subscribers) sub.res.end();
      subscribers.clear();
    },
  };
}

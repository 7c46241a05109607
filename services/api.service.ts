// `api` role: the moleculer-web REST gateway. Routes come from lib/api/routes; this file wires
// them to moleculer-web: strict JSON bodies, keys and scopes, rate limits, idempotent sends, media
// URLs, response rendering, the error shape (404/405 included) and the server-sent event stream.
import { createHash } from "node:crypto";
import path from "node:path";
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import { Errors, type Context, type ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import Validator from "fastest-validator";
import type { Config } from "../lib/config";
import { toErrorBody, WafleetError } from "../lib/errors";
import type { WafleetEvent } from "../lib/events";
import { EVENT_NAMES } from "../lib/events";
import { readJsonBody } from "../lib/api/body";
import { fingerprintOf, IDEMPOTENCY_KEY_PATTERN, IdempotencyKeys, type StoredResponse } from "../lib/api/idempotency";
import { adminKeyIdOf, presentedKey, WorkspaceKeys, type AdminKeySet, type Principal } from "../lib/api/keys";
import { fetchMedia } from "../lib/api/media-fetch";
import { buildOpenApiDocument } from "../lib/api/openapi";
import { compatCreateParams, compatDeleteParams, compatSendParams, createKeyParams, listKeysParams, emptyParams, revokeKeyParams, simulatedScanParams } from "../lib/api/params";
import { AuthFailureThrottle, clientAddress } from "../lib/api/auth-throttle";
import { QrPngCache } from "../lib/api/qr-png";
import { RateLimiter } from "../lib/api/rate-limit";
import { API_BASE, COMPAT_BASE, fullPathOf, routesFor, RouteTable, type RouteDef } from "../lib/api/routes";
import { Dashboard } from "../lib/api/dashboard";
import { randomSimulatedPhone, scanWithSimulatedPhone } from "../lib/api/simulation";
import { MemoryApiStore, RedisApiStore, type ApiStore } from "../lib/api/store";
import { checkMessageShape } from "../lib/sessions/params";
import { isValidId } from "../lib/sessions/storage";

export interface ApiServiceDeps {
  config: Config;
  keys: AdminKeySet;
  /** The gateway's store; by default Redis when REDIS_URL is set, else memory persisted under DATA_DIR. */
  store?: ApiStore;
  /** The simulated network the sessions run against (the embedded one's URL); default WA_SIM_URL; empty = WhatsApp. */
  simUrl?: string;
}

type Req = IncomingMessage & {
  $alias?: { wafleetRoute?: RouteDef };
  $params?: Record<string, any>;
  $ctx?: Context<any, any>;
  parsedUrl?: string;
  body?: unknown;
  headers: Record<string, any>;
};
type Res = ServerResponse;

interface Subscriber {
  workspaceId: string;
  types: Set<string> | null;
  res: Res;
}

const SSE_HEARTBEAT_MS = 15000;
/** Sessions created through the Laravel routes, so DELETE /api/whatsapp/sessions/:id finds their workspace. */
const compatIndexKey = (sessionId: string) => `compat:session:${sessionId}`;

export function createApiStore(config: Config): Promise<ApiStore> {
  if (config.redisUrl) return Promise.resolve(new RedisApiStore(config.redisUrl, config.redisPrefix));
  return new MemoryApiStore(path.join(config.dataDir, "api-store.json")).load();
}

export default function apiService({ config, keys, store: givenStore, simUrl = config.simUrl }: ApiServiceDeps): ServiceSchema {
  const subscribers = new Set<Subscriber>();
  // simulation-only routes (the dashboard's simulated scan) exist only against the simulated network
  const ROUTES = routesFor(simUrl !== "");
  const table = new RouteTable(ROUTES);
  let dashboard: Dashboard | undefined;
  const qrImages = new QrPngCache();
  const validator = new Validator({ useNewCustomCheckerFunction: true });
  const checkers = new Map<RouteDef, (p: unknown) => true | any[]>();
  // base64 grows media by 4/3; the rest of a message body is small
  const mediaBodyLimit = Math.ceil(config.apiMediaMaxBytes / 3) * 4 + 64 * 1024;
  let heartbeat: NodeJS.Timeout | undefined;
  let store: ApiStore;
  /** Resolves once the store is loaded; the server may take requests before that. */
  let ready: Promise<void> = Promise.resolve();
  let workspaceKeys: WorkspaceKeys;
  let limiter: RateLimiter;
  let authFailures: AuthFailureThrottle;
  let idempotency: IdempotencyKeys;
  let openapi: Record<string, unknown>;

  /** Store trouble (Redis away) is a 503 the client may retry, not a 500. */
  async function storeCall<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof WafleetError) throw err;
      throw new WafleetError("SERVICE_UNAVAILABLE", "The API key and idempotency store is not reachable; retry shortly");
    }
  }

  /** storeCall, retried for up to ~5 s: for writes that must not be lost to a short store outage. */
  async function persistently<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await storeCall(op);
      } catch (err) {
        if (attempt >= 8) throw err;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1000)));
      }
    }
  }

  function defOf(req: Req): RouteDef | undefined {
    if (req.$alias?.wafleetRoute) return req.$alias.wafleetRoute;
    const m = req.parsedUrl ? table.match(req.method ?? "GET", req.parsedUrl) : undefined;
    return m && "def" in m ? m.def : undefined;
  }

  function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const payload = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": String(Buffer.byteLength(payload)), ...headers });
    res.end(payload);
  }

  function sendError(req: Req, res: Res, err: any): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    let e = err;
    const headers: Record<string, string> = {};
    // moleculer-web's "no alias" (only that: a remote NODE_NOT_FOUND or SESSION_NOT_FOUND is a 404 too)
    if (e?.type === "NOT_FOUND" && !(e instanceof WafleetError)) {
      // a path the table knows under other methods: 405 with Allow
      const m = table.match(req.method ?? "GET", (req.parsedUrl ?? req.url ?? "/").split("?")[0]);
      if (m && "allowed" in m) {
        e = new WafleetError("METHOD_NOT_ALLOWED", `${req.method} is not allowed here; use ${m.allowed.join(", ")}`);
        headers.Allow = m.allowed.join(", ");
      } else e = new WafleetError("NOT_FOUND", `No route ${String(req.method).slice(0, 10)} ${String(req.parsedUrl ?? "").slice(0, 200)}`);
    }
    const { status, body } = toErrorBody(e);
    if (status === 503) headers["Retry-After"] = "5";
    if (status === 429) headers["Retry-After"] = String(e?.data?.retryAfter ?? 1);
    if (body.error.code === "IDEMPOTENCY_KEY_IN_USE") headers["Retry-After"] = "1";
    // a body we did not read must not be taken for the next request on this connection
    if (status === 413 || status === 415) headers.Connection = "close";
    const def = defOf(req);
    if (def?.base === COMPAT_BASE) sendJson(res, status, { success: false, message: body.error.message, ...body }, headers);
    else sendJson(res, status, body, headers);
  }

  function checkerFor(def: RouteDef): (p: unknown) => true | any[] {
    let c = checkers.get(def);
    if (!c) {
      c = validator.compile({ ...(def.params ?? {}) } as any) as any;
      checkers.set(def, c!);
    }
    return c!;
  }

  /** media.url -> media.data, after the body passed its schema (nothing is fetched for a bad request). */
  async function resolveMediaUrl(def: RouteDef, params: Record<string, any>): Promise<Record<string, any>> {
    if (!params.media || typeof params.media !== "object" || params.media.url === undefined) return params;
    checkMessageShape({ to: String(params.to), text: params.text ?? params.message, media: params.media, caption: params.caption }, config.apiMediaMaxBytes);
    const fetched = await fetchMedia(params.media.url, { maxBytes: config.apiMediaMaxBytes, timeoutMs: config.apiMediaFetchTimeoutMs, allowPrivate: config.apiMediaAllowPrivate });
    const { url: _url, ...rest } = params.media;
    return { ...params, media: { ...rest, data: fetched.data } };
  }

  function locationOf(def: RouteDef, params: Record<string, any>, data: any): string | undefined {
    const ws = `${API_BASE}/workspaces/${encodeURIComponent(params.workspaceId ?? "")}`;
    if (def.action === "sessions.create") return `${ws}/sessions/${encodeURIComponent(data?.sessionId ?? "")}`;
    if (def.action === "sessions.sendMessage") return `${ws}/sessions/${encodeURIComponent(params.sessionId)}/messages/${encodeURIComponent(data?.id ?? "")}`;
    if (def.action === "api.createKey") return `${ws}/keys/${data?.keyId}`;
    return undefined;
  }

  /**
   * A send under an Idempotency-Key carries a message id derived from it, so a retry after an
   * ambiguous failure (the owner died mid-send) is recognised by the network instead of delivered
   * twice. Engines that cannot choose ids (wwebjs) ignore it.
   */
  function messageIdFor(def: RouteDef, req: Req, params: Record<string, any>): string | undefined {
    const key = req.headers["idempotency-key"];
    if (!def.idempotencyKey || typeof key !== "string" || !IDEMPOTENCY_KEY_PATTERN.test(key)) return undefined;
    const scope = `${params.workspaceId ?? params.workspace_id}|${params.sessionId ?? params.session_id}|${key}`;
    return `WFI${createHash("sha256").update(scope).digest("hex").slice(0, 29).toUpperCase()}`;
  }

  /** Calls the route's action and renders its answer as the route says. */
  async function perform(def: RouteDef, req: Req, params: Record<string, any>): Promise<StoredResponse & { raw?: Buffer; contentType?: string }> {
    const ctx = req.$ctx!;
    if (def.mediaBody) params = await resolveMediaUrl(def, params);
    let data: any;
    try {
      data = await ctx.call(def.action, params, { timeout: def.timeoutMs ?? 30000, meta: { messageId: messageIdFor(def, req, params) } });
    } catch (err: any) {
      // DELETE is idempotent: the session is gone either way
      if (def.action === "sessions.delete" && err?.type === "SESSION_NOT_FOUND") return { status: 204, body: null };
      throw err;
    }
    if (def.status === 204) return { status: 204, body: null };
    if (def.render === "qr") {
      // three forms (as WAHA offers): the PNG itself, or JSON with the raw value and the PNG as a data URL
      const png = qrImages.get(data.qr);
      if (/application\/json/i.test(String(req.headers["accept"] ?? ""))) {
        return { status: 200, body: { ...data, image: `data:image/png;base64,${png.toString("base64")}` }, headers: { "Cache-Control": "no-store" } };
      }
      return { status: 200, body: null, raw: png, contentType: "image/png", headers: { "Cache-Control": "no-store", "X-QR-Expires-At": String(data.expiresAt) } };
    }
    const location = def.status === 201 ? locationOf(def, params, data) : undefined;
    return { status: def.status, body: data ?? null, headers: location ? { Location: location } : undefined };
  }

  function write(res: Res, r: StoredResponse & { raw?: Buffer; contentType?: string }, extra: Record<string, string> = {}): void {
    if (r.raw) {
      res.writeHead(r.status, { "Content-Type": r.contentType ?? "application/octet-stream", "Content-Length": String(r.raw.length), ...(r.headers ?? {}), ...extra });
      res.end(r.raw);
    } else if (r.status === 204) {
      res.writeHead(204, { ...(r.headers ?? {}), ...extra });
      res.end();
    } else sendJson(res, r.status, r.body, { ...(r.headers ?? {}), ...extra });
  }

  /** The alias handler of every route in the table except the event stream. */
  function routeHandler(def: RouteDef) {
    return async function (req: Req, res: Res, next: (err?: unknown) => void) {
      try {
        const params = { ...(req.$params ?? {}) };
        // validated here too: a bad request never reaches (or waits for) a service, present or not
        const valid = checkerFor(def)(params);
        if (valid !== true) throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", valid as any);
        const header = req.headers["idempotency-key"];
        if (!def.idempotencyKey || header === undefined) {
          write(res, await perform(def, req, params));
          return;
        }
        if (typeof header !== "string" || !IDEMPOTENCY_KEY_PATTERN.test(header)) {
          throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): Idempotency-Key", [{ field: "Idempotency-Key", message: "expected 1-255 visible ASCII characters", type: "header" }]);
        }
        const scope = `${def.action}|${params.workspaceId ?? params.workspace_id}|${params.sessionId ?? params.session_id}`;
        const fingerprint = fingerprintOf({ route: `${def.method} ${fullPathOf(def)}`, params });
        const replay = await storeCall(() => idempotency.begin(scope, header, fingerprint));
        if (replay) {
          write(res, replay, { "Idempotent-Replayed": "true" });
          return;
        }
        let result: StoredResponse;
        try {
          result = await perform(def, req, params);
        } catch (err) {
          await persistently(() => idempotency.abandon(scope, header)).catch(() => undefined);
          throw err;
        }
        // the message went out: remembering that must survive a store blip (a Redis restart takes
        // a second), or the key would stay reserved and every retry answer IN_USE until it expires
        await persistently(() => idempotency.complete(scope, header, fingerprint, { status: result.status, body: result.body, headers: result.headers }));
        write(res, result);
      } catch (err) {
        next(err);
      }
    };
  }

  /** Server-sent events for one workspace: every wa.* event of its sessions, as it happens. */
  function eventStream(req: Req, res: Res, next: (err?: unknown) => void) {
    // the cluster's own events (wa.cluster.*) carry the workspace "*": the admin stream subscribes to that
    const cluster = defOf(req)?.action === "api.clusterEvents";
    const workspaceId = cluster ? "*" : req.$params?.workspaceId;
    if (!cluster && !isValidId(workspaceId)) {
      next(new WafleetError("VALIDATION_ERROR", "Invalid field(s): workspaceId", [{ field: "workspaceId", message: "expected 1-64 characters of A-Z a-z 0-9 _ -", type: "stringPattern" }]));
      return;
    }
    const unknownParams = Object.keys(req.$params ?? {}).filter((k) => (cluster || k !== "workspaceId") && k !== "types");
    if (unknownParams.length) {
      next(new WafleetError("VALIDATION_ERROR", `Invalid field(s): ${unknownParams.join(", ").slice(0, 200)}`, unknownParams.map((f) => ({ field: f.slice(0, 128), message: "unknown field (not allowed)", type: "objectStrict" }))));
      return;
    }
    const typesParam = req.$params?.types;
    let types: Set<string> | null = null;
    if (typesParam !== undefined) {
      if (typeof typesParam !== "string" || typesParam.length > 1024) {
        next(new WafleetError("VALIDATION_ERROR", "Invalid field(s): types", [{ field: "types", message: "expected a comma list of event types", type: "string" }]));
        return;
      }
      if (typesParam) {
        types = new Set(typesParam.split(","));
        const unknown = [...types].filter((t) => !EVENT_NAMES.includes(t as any));
        if (unknown.length) {
          next(new WafleetError("VALIDATION_ERROR", `Invalid field(s): types`, [{ field: "types", message: `unknown event type(s): ${unknown.join(", ").slice(0, 200)}`, type: "enumValue" }]));
          return;
        }
      }
    }
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.write(": wafleet event stream\n\n");
    const sub: Subscriber = { workspaceId, types, res };
    subscribers.add(sub);
    req.on("close", () => subscribers.delete(sub));
  }

  /** bodyParsers replacement: the route decides the limit; unknown routes read nothing (they 404/405). */
  function jsonBodies(req: Req, _res: Res, next: (err?: unknown) => void) {
    const def = defOf(req);
    if (!def) {
      req.body = {};
      req.resume();
      next();
      return;
    }
    readJsonBody(req, { limit: def.mediaBody ? Math.max(mediaBodyLimit, config.apiBodyLimit) : config.apiBodyLimit, maxDepth: config.apiJsonMaxDepth }).then(
      () => next(),
      (err) => next(err),
    );
  }

  const aliasesFor = (base: string) => {
    const aliases: Record<string, unknown> = {};
    for (const def of ROUTES) {
      if ((def.base ?? API_BASE) !== base || def.auth === false) continue;
      aliases[`${def.method} ${def.path}`] = { handler: def.render === "sse" ? eventStream : routeHandler(def), wafleetRoute: def };
    }
    return aliases;
  };

  const apiRoute = (base: string) => ({
    path: base,
    mappingPolicy: "restrict",
    autoAliases: false,
    authentication: true,
    authorization: true,
    bodyParsers: false,
    use: [jsonBodies],
    aliases: aliasesFor(base),
    onError(req: Req, res: Res, err: any) {
      sendError(req, res, err);
    },
  });

  const publicAliases: Record<string, unknown> = {};
  for (const def of ROUTES.filter((r) => r.auth === false)) {
    publicAliases[`${def.method} ${fullPathOf(def)}`] = { handler: routeHandler(def), wafleetRoute: def };
  }

  return {
    name: "api",
    mixins: [ApiGateway],

    settings: <any>{
      port: config.apiPort,
      ip: config.apiHost,
      // a client gets 2 minutes to send a whole request (a 21 MB media body on a slow link), then 408
      requestTimeout: 120_000,
      logRequest: "debug",
      logResponse: "debug",
      logRequestParams: null,
      logResponseData: null,
      log4XXResponses: false,
      // a client's X-Request-ID is echoed in a header: only a plain token is taken
      rootCallOptions(options: { requestID?: string }) {
        if (options.requestID !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(String(options.requestID))) delete options.requestID;
      },
      routes: [
        {
          path: "/",
          mappingPolicy: "restrict",
          authentication: false,
          bodyParsers: false,
          // the dashboard's files first (only its exact paths; /api/* is never one of them)
          use: [(req: Req, res: Res, next: () => void) => (dashboard?.serve(req, res) ? undefined : next()), jsonBodies],
          aliases: publicAliases,
          onError(req: Req, res: Res, err: any) {
            sendError(req, res, err);
          },
        },
        apiRoute(API_BASE),
        apiRoute(COMPAT_BASE),
      ],
      onError(req: Req, res: Res, err: any) {
        sendError(req, res, err);
      },
    },

    actions: {
      healthz: {
        params: emptyParams,
        handler() {
          return { status: "ok" };
        },
      },
      openapi: {
        params: emptyParams,
        handler() {
          return openapi;
        },
      },
      /** Who the key is, and whether this gateway runs against the simulated network (the dashboard reads it after sign-in). */
      me: {
        params: emptyParams,
        handler(ctx: Context<unknown, { user: Principal }>) {
          const who = ctx.meta.user;
          return { kind: who.kind, keyId: who.keyId, workspaceId: who.kind === "workspace" ? who.workspaceId : null, simulation: simUrl !== "", version: process.env.npm_package_version ?? "0.1.0" };
        },
      },
      /** Simulation only: a simulated phone scans the session's current QR (the route does not exist otherwise). */
      simulatedScan: {
        params: simulatedScanParams,
        async handler(ctx: Context<{ workspaceId: string; sessionId: string; phone?: string }>) {
          if (!simUrl) throw new WafleetError("NOT_FOUND", "No route: this gateway does not run against the simulated network");
          const { workspaceId, sessionId } = ctx.params;
          const { qr } = await ctx.call<{ qr: string }, unknown>("sessions.qr", { workspaceId, sessionId });
          const phone = (ctx.params.phone ?? randomSimulatedPhone()).replace(/^\+/, "");
          const me = await scanWithSimulatedPhone(simUrl, qr, phone);
          return { workspaceId, sessionId, phone, me };
        },
      },
      createKey: {
        params: createKeyParams,
        async handler(ctx: Context<{ workspaceId: string; label?: string }>) {
          return workspaceKeys.create(ctx.params.workspaceId, ctx.params.label);
        },
      },
      listKeys: {
        params: listKeysParams,
        async handler(ctx: Context<{ workspaceId: string }>) {
          return workspaceKeys.list(ctx.params.workspaceId);
        },
      },
      revokeKey: {
        params: revokeKeyParams,
        async handler(ctx: Context<{ workspaceId: string; keyId: string }>) {
          if (!(await workspaceKeys.revoke(ctx.params.workspaceId, ctx.params.keyId))) throw new WafleetError("KEY_NOT_FOUND");
          return null;
        },
      },
      /** Laravel: {workspace_id, session_id?, account_id?} -> {success, session_id, ...}. */
      compatCreate: {
        params: compatCreateParams,
        async handler(ctx: Context<{ workspace_id: string | number; session_id?: string | number; account_id?: string | number | null; metadata?: Record<string, unknown>; start?: boolean }>) {
          const p = ctx.params;
          const created: any = await ctx.call("sessions.create", {
            workspaceId: String(p.workspace_id),
            ...(p.session_id !== undefined ? { sessionId: String(p.session_id) } : {}),
            ...(p.account_id !== undefined ? { accountId: p.account_id === null ? null : String(p.account_id) } : {}),
            ...(p.metadata ? { metadata: p.metadata } : {}),
            ...(p.start !== undefined ? { start: p.start } : {}),
          });
          await store.addMember(compatIndexKey(created.sessionId), created.workspaceId);
          return { success: true, session_id: created.sessionId, workspace_id: created.workspaceId, account_id: created.accountId ?? null, status: created.status, session: created };
        },
      },
      /** Laravel: {workspace_id, session_id, to, message} -> {success, message_id, ...}. */
      compatSend: {
        params: compatSendParams,
        async handler(ctx: Context<{ workspace_id: string | number; session_id: string | number; to: string | number; message?: string; media?: object; caption?: string }>) {
          const p = ctx.params;
          const sent: any = await ctx.call("sessions.sendMessage", {
            workspaceId: String(p.workspace_id),
            sessionId: String(p.session_id),
            to: String(p.to),
            ...(p.message !== undefined ? { text: p.message } : {}),
            ...(p.media !== undefined ? { media: p.media } : {}),
            ...(p.caption !== undefined ? { caption: p.caption } : {}),
          });
          return { success: true, message_id: sent.id, to: sent.to, ack: sent.ack, timestamp: sent.timestamp };
        },
      },
      /** Laravel: DELETE /sessions/{id}; the workspace comes from workspace_id, the key, or the index of sessions created here. */
      compatDelete: {
        params: compatDeleteParams,
        async handler(ctx: Context<{ id: string | number; workspace_id?: string | number }>) {
          const sessionId = String(ctx.params.id);
          let workspaceId = ctx.params.workspace_id !== undefined ? String(ctx.params.workspace_id) : undefined;
          if (workspaceId === undefined) {
            const known = await store.members(compatIndexKey(sessionId));
            if (known.length > 1) throw new WafleetError("SESSION_AMBIGUOUS", `Session ${sessionId} exists in ${known.length} workspaces; send workspace_id`);
            workspaceId = known[0];
          }
          if (!workspaceId) return { success: true, session_id: sessionId, deleted: false };
          try {
            await ctx.call("sessions.delete", { workspaceId, sessionId });
          } catch (err: any) {
            if (err?.type !== "SESSION_NOT_FOUND") throw err;
            await store.removeMember(compatIndexKey(sessionId), workspaceId);
            return { success: true, session_id: sessionId, workspace_id: workspaceId, deleted: false };
          }
          await store.removeMember(compatIndexKey(sessionId), workspaceId);
          return { success: true, session_id: sessionId, workspace_id: workspaceId, deleted: true };
        },
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
      /**
       * Who the key is (admin or one workspace), then the per-key rate limit. An address with too
       * many failed authentications in the window is refused before any key is looked up. Keys are
       * never logged.
       */
      async authenticate(_ctx: Context, _route: unknown, req: Req, res: Res): Promise<Principal> {
        await ready;
        const address = clientAddress(req, config.apiTrustedProxyHops);
        if (authFailures.enabled) {
          const b = authFailures.blocked(address);
          if (b.blocked) throw new WafleetError("RATE_LIMITED", `Too many failed authentications from this address; retry in ${b.resetSeconds} s`, { retryAfter: b.resetSeconds });
        }
        const refuse = async (): Promise<never> => {
          if (authFailures.enabled) await storeCall(() => authFailures.failed(address));
          throw new WafleetError("UNAUTHORIZED");
        };
        const key = presentedKey(req.headers);
        if (!key || key.length > 512) return refuse();
        const adminId = adminKeyIdOf(key, keys.hashes);
        const principal: Principal | undefined = adminId ? { kind: "admin", keyId: adminId } : await storeCall(() => workspaceKeys.verify(key));
        if (!principal) return refuse();
        if (limiter.enabled) {
          const d = await storeCall(() => limiter.check(principal.keyId));
          res.setHeader("RateLimit-Limit", String(d.limit));
          res.setHeader("RateLimit-Remaining", String(d.remaining));
          res.setHeader("RateLimit-Reset", String(d.resetSeconds));
          if (!d.allowed) throw new WafleetError("RATE_LIMITED", `More than ${d.limit} requests in ${config.apiRateWindowMs} ms for this key; retry in ${d.resetSeconds} s`, { retryAfter: d.resetSeconds });
        }
        return principal;
      },

      /** Admin routes need an admin key; a workspace key reaches its own workspace only (no hint about others). */
      authorize(ctx: Context<any, any>, _route: unknown, req: Req, _res: Res, alias: { wafleetRoute?: RouteDef }) {
        const def = alias?.wafleetRoute;
        const who = ctx.meta.user as Principal;
        if (!def || who.kind === "admin") return;
        if (def.admin) throw new WafleetError("FORBIDDEN", "This route needs an admin key");
        if (def.anyKey) return;
        const field = def.workspaceParam ?? "workspaceId";
        const target = req.$params?.[field];
        if (target === undefined && field === "workspace_id") {
          // Laravel's DELETE /sessions/{id} names no workspace: the key's own is meant
          req.$params![field] = who.workspaceId;
          return;
        }
        if (typeof target !== "string" && typeof target !== "number") throw new WafleetError("FORBIDDEN_WORKSPACE");
        if (String(target) !== who.workspaceId) throw new WafleetError("FORBIDDEN_WORKSPACE");
      },
    },

    created() {
      openapi = buildOpenApiDocument({ version: process.env.npm_package_version ?? "0.1.0" }, ROUTES);
      ready = (async () => {
        store = givenStore ?? (await createApiStore(config));
        workspaceKeys = new WorkspaceKeys(store);
        limiter = new RateLimiter(store, config.apiRateLimit, config.apiRateWindowMs);
        authFailures = new AuthFailureThrottle(store, config.apiAuthFailureLimit, config.apiRateWindowMs);
        idempotency = new IdempotencyKeys(store, config.apiIdempotencyTtlMs);
        if (config.apiDashboard) {
          dashboard = await Dashboard.load();
          if (dashboard.missing) this.logger.warn(`dashboard: ${dashboard.missing}`);
        }
      })();
      // surfaced by started(); a rejected promise nobody awaits yet must not count as unhandled
      ready.catch(() => undefined);
    },

    async started() {
      await ready;
      // requests Node's HTTP parser refuses before any route sees them still get a catalogue error
      (this as any).server?.on("clientError", (err: NodeJS.ErrnoException, socket: import("node:net").Socket) => {
        if (err.code === "ECONNRESET" || !socket.writable) {
          socket.destroy();
          return;
        }
        const code = err.code === "HPE_HEADER_OVERFLOW" ? "HEADERS_TOO_LARGE" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "REQUEST_TIMEOUT" : "MALFORMED_REQUEST";
        const { status, body } = toErrorBody(new WafleetError(code));
        const payload = JSON.stringify(body);
        socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`);
      });
      heartbeat = setInterval(() => {
        for (const sub of subscribers) sub.res.write(": keepalive\n\n");
      }, SSE_HEARTBEAT_MS);
      const addr = (this as any).server?.address?.();
      this.logger.info(`API listening on http://${config.apiHost}:${addr?.port ?? config.apiPort}${API_BASE}`);
      if (dashboard?.size) this.logger.info(`Dashboard on http://${config.apiHost === "0.0.0.0" ? "127.0.0.1" : config.apiHost}:${addr?.port ?? config.apiPort}/`);
    },

    async stopped() {
      clearInterval(heartbeat);
      for (const sub of subscribers) sub.res.end();
      subscribers.clear();
      await store?.close();
    },
  };
}

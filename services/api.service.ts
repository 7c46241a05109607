// `api` role: the REST gateway. moleculer-web hosts it (the HTTP server, a Moleculer context per
// request); every request goes through lib/api/pipeline (route, then key and scope from the
// headers alone, then the body, params and the route's handler). This file wires those pieces
// together and declares the gateway's own actions: health, the OpenAPI document, workspace keys
// and the Laravel compatibility routes.
import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import type { Config } from "../lib/config";
import { toErrorBody, WafleetError } from "../lib/errors";
import type { WafleetEvent } from "../lib/events";
import { actionRoute } from "../lib/api/action-route";
import { AuthFailureThrottle } from "../lib/api/auth-throttle";
import { CompatRoutes } from "../lib/api/compat";
import { EventStreams } from "../lib/api/event-stream";
import { Gatekeeper } from "../lib/api/gate";
import { IdempotencyKeys } from "../lib/api/idempotency";
import { WorkspaceKeys, type AdminKeySet } from "../lib/api/keys";
import { buildOpenApiDocument } from "../lib/api/openapi";
import { compatCreateParams, compatDeleteParams, compatSendParams, createKeyParams, emptyParams, listKeysParams, revokeKeyParams, simulatedScanParams } from "../lib/api/params";
import { RequestPipeline } from "../lib/api/pipeline";
import { QrPngCache } from "../lib/api/qr-png";
import { RateLimiter } from "../lib/api/rate-limit";
import { sendError, sendJson } from "../lib/api/reply";
import { API_BASE, routesFor } from "../lib/api/routes";
import { Dashboard } from "../lib/api/dashboard";
import { randomSimulatedPhone, scanWithSimulatedPhone } from "../lib/api/simulation";
import { Slots } from "../lib/api/slots";
import { openApiStore, type ApiStore } from "../lib/api/store";
import { addStamps, startTiming, timed } from "../lib/api/timing";
import { mediaRoutes } from "../lib/api/media-routes";
import type { MediaStore } from "../lib/media/store";
import { openMediaStore } from "../lib/media/target";

export interface ApiServiceDeps {
  config: Config;
  keys: AdminKeySet;
  /** The gateway's store; by default Redis when REDIS_URL is set, else memory persisted under DATA_DIR. */
  store?: ApiStore;
  /** The simulated network the sessions run against (the embedded one's URL); default WA_SIM_URL; empty = WhatsApp. */
  simUrl?: string;
  /** The media store uploads go to and downloads come from; by default MEDIA_TARGET's. */
  media?: MediaStore;
}

export default function apiService({ config, keys, store: givenStore, simUrl = config.simUrl, media: givenMedia }: ApiServiceDeps): ServiceSchema {
  // simulation-only routes (the dashboard's simulated scan) exist only against the simulated network
  const routes = routesFor(simUrl !== "");
  let dashboard: Dashboard | undefined;
  let dashboardLoaded: Promise<unknown> = Promise.resolve();
  let store: ApiStore;
  /** Resolves once the store is loaded; the server may take requests before that. */
  let ready: Promise<void> = Promise.resolve();
  let workspaceKeys: WorkspaceKeys;
  let compat: CompatRoutes;
  let pipeline: RequestPipeline;
  let openapi: Record<string, unknown>;
  const streams = new EventStreams({ maxPerKey: config.apiStreamsPerKey, maxStreams: config.apiStreamsMax, maxBufferedBytes: config.apiStreamMaxBufferBytes });
  const media = givenMedia ?? openMediaStore(config.mediaTarget, { s3Endpoint: config.s3Endpoint, partSize: config.backupPartSize, maxBytes: Math.max(config.mediaMaxBytes, config.apiMediaMaxBytes) });

  return {
    name: "api",
    mixins: [ApiGateway],

    settings: <any>{
      port: config.apiPort,
      ip: config.apiHost,
      logRequest: "debug",
      logResponse: "debug",
      logRequestParams: null,
      logResponseData: null,
      log4XXResponses: false,
      // a client's X-Request-ID is echoed in a header: only a plain token is taken
      rootCallOptions(options: { requestID?: string }) {
        if (options.requestID !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(String(options.requestID))) delete options.requestID;
      },
      // one route takes every request into the pipeline, which routes it by lib/api/routes
      routes: [
        {
          path: "/",
          mappingPolicy: "restrict",
          authentication: false,
          authorization: false,
          bodyParsers: false,
          // the dashboard's own files first (exact paths only; /api/* is never one of them)
          use: [(req: IncomingMessage, res: ServerResponse) => dashboard?.serve(req, res) || pipeline.handle(req, res)],
        },
      ],
      onError(req: IncomingMessage, res: ServerResponse, err: unknown) {
        sendError(res, err);
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
          await ready;
          return workspaceKeys.create(ctx.params.workspaceId, ctx.params.label);
        },
      },
      listKeys: {
        params: listKeysParams,
        async handler(ctx: Context<{ workspaceId: string }>) {
          await ready;
          return workspaceKeys.list(ctx.params.workspaceId);
        },
      },
      revokeKey: {
        params: revokeKeyParams,
        async handler(ctx: Context<{ workspaceId: string; keyId: string }>) {
          await ready;
          if (!(await workspaceKeys.revoke(ctx.params.workspaceId, ctx.params.keyId))) throw new WafleetError("KEY_NOT_FOUND");
          return null;
        },
      },
      compatCreate: {
        params: compatCreateParams,
        async handler(ctx: Context<any>) {
          await ready;
          return compat.create((action, params) => ctx.call(action, params), ctx.params);
        },
      },
      compatSend: {
        params: compatSendParams,
        async handler(ctx: Context<any>) {
          return compat.send((action, params) => ctx.call(action, params), ctx.params);
        },
      },
      compatDelete: {
        params: compatDeleteParams,
        async handler(ctx: Context<any>) {
          await ready;
          return compat.delete((action, params) => ctx.call(action, params), ctx.params);
        },
      },
    },

    events: {
      "wa.**"(ctx: Context<WafleetEvent>) {
        streams.publish(ctx.eventName ?? ctx.params.event, ctx.params);
      },
    },

    methods: {
      /**
       * moleculer-web's server, with the bounds a gateway facing the internet needs: connections
       * (more are dropped on accept), a deadline for the headers and one for the whole request
       * (both answered 408 by the clientError handler), checked often enough to matter.
       */
      createServer(this: any) {
        const server = http.createServer(
          {
            headersTimeout: config.apiHeadersTimeoutMs,
            requestTimeout: config.apiRequestTimeoutMs,
            connectionsCheckingInterval: Math.max(250, Math.min(5000, Math.floor(config.apiHeadersTimeoutMs / 4))),
          },
          (req: IncomingMessage, res: ServerResponse) => {
            startTiming(req);
            this.httpHandler(req, res);
          },
        );
        server.maxConnections = config.apiMaxConnections;
        this.server = server;
        this.isHTTPS = false;
      },
    },

    created() {
      openapi = buildOpenApiDocument({ version: process.env.npm_package_version ?? "0.1.0" }, routes);
      if (config.apiDashboard) dashboardLoaded = Dashboard.load().then((d) => (dashboard = d));
      const opened = givenStore ? { store: givenStore, ready: Promise.resolve() } : openApiStore(config);
      store = opened.store;
      ready = opened.ready;
      // surfaced by started(); a rejected promise nobody awaits yet must not count as unhandled
      ready.catch(() => undefined);
      workspaceKeys = new WorkspaceKeys(store);
      // a revoked key loses its open streams at the next heartbeat
      streams.configure({ keyActive: (keyId) => workspaceKeys.isActive(keyId), onDrop: (reason, keyId) => this.logger.info(`event stream of key ${keyId ?? "-"} dropped: ${reason === "slow" ? "its client stopped reading" : "the key was revoked"}`) });
      compat = new CompatRoutes(store);
      const gate = new Gatekeeper({
        adminKeyHashes: keys.hashes,
        workspaceKeys,
        limiter: new RateLimiter(store, config.apiRateLimit, config.apiRateWindowMs),
        authFailures: new AuthFailureThrottle(store, config.apiAuthFailureLimit, config.apiRateWindowMs),
        trustedProxyHops: config.apiTrustedProxyHops,
        rateWindowMs: config.apiRateWindowMs,
      });
      const logger = this.logger;
      pipeline = new RequestPipeline({
        routes,
        gate,
        ready,
        handlers: {
          action: actionRoute({
            idempotency: new IdempotencyKeys(store, config.apiIdempotencyTtlMs),
            qrImages: new QrPngCache(),
            mediaFetch: { maxBytes: config.apiMediaMaxBytes, timeoutMs: config.apiMediaFetchTimeoutMs, allowPrivate: config.apiMediaAllowPrivate },
            media,
            mediaFetches: new Slots(config.apiMediaFetchConcurrency),
          }),
          ...mediaRoutes({ store: media, maxUploadBytes: config.apiMediaMaxBytes }),
          events: streams.handler,
          clusterEvents: streams.clusterHandler,
          // who the key is, and whether this gateway runs against the simulated network (the dashboard asks after sign-in)
          me: ({ res, principal: who }) => {
            if (!who) throw new WafleetError("UNAUTHORIZED");
            sendJson(res, 200, { kind: who.kind, keyId: who.keyId, workspaceId: who.kind === "workspace" ? who.workspaceId : null, simulation: simUrl !== "", version: process.env.npm_package_version ?? "0.1.0" }, { "Cache-Control": "no-store" });
          },
        },
        call: async (req, action, params, opts) => {
          const ctx = (req as any).$ctx;
          const data = await ctx.call(action, params, opts);
          // the owner's stamps come back in the call's meta (lib/api/timing.ts)
          if (timed(req)) addStamps(req, ctx.meta?.timing);
          return data;
        },
        limits: {
          body: config.apiBodyLimit,
          // base64 grows media by 4/3; the rest of a message body is small
          mediaJson: Math.ceil(config.apiMediaMaxBytes / 3) * 4 + 64 * 1024,
          mediaRaw: config.apiMediaMaxBytes,
          jsonMaxDepth: config.apiJsonMaxDepth,
          bodyIdleMs: config.apiBodyIdleTimeoutMs,
          largeBodies: new Slots(config.apiMaxLargeBodies),
          largeBodyWaitMs: 10_000,
        },
        onInternalError: (err, req) => logger.error(`${req.method} ${String(req.url).split("?")[0]} failed:`, err),
      });
      (this as any).pipeline = pipeline;
    },

    async started() {
      await ready;
      await dashboardLoaded;
      if (dashboard?.missing) this.logger.warn(`dashboard: ${dashboard.missing}`);
      // requests Node's HTTP parser refuses before any route sees them still get a catalogue error
      (this as any).server?.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
        if (err.code === "ECONNRESET" || !socket.writable) {
          socket.destroy();
          return;
        }
        const code = err.code === "HPE_HEADER_OVERFLOW" ? "HEADERS_TOO_LARGE" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "REQUEST_TIMEOUT" : "MALFORMED_REQUEST";
        const { status, body } = toErrorBody(new WafleetError(code));
        const payload = JSON.stringify(body);
        socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`);
      });
      streams.start();
      const addr = (this as any).server?.address?.();
      this.logger.info(`API listening on http://${config.apiHost}:${addr?.port ?? config.apiPort}${API_BASE}`);
      if (dashboard?.size) this.logger.info(`Dashboard on http://${config.apiHost === "0.0.0.0" ? "127.0.0.1" : config.apiHost}:${addr?.port ?? config.apiPort}/`);
    },

    async stopped() {
      streams.stop();
      await store?.close();
      if (!givenMedia) await media.close();
    },
  };
}

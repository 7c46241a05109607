// The gateway's request pipeline: one pass per request, in an order that spends nothing on a
// request before it is admitted.
//
//   route        the route table: 404, or 405 with Allow
//   gate         from the headers and path alone: the address's failed-auth block, the key, the
//                key's rate limit, the route's scope (admin, own workspace)
//   body         as the route's body mode says ("json": read whole and parsed strictly, within the
//                route's limit, bodies above API_BODY_LIMIT taking one of a bounded number of
//                slots; "raw": handed to the handler as a size-limited stream)
//   params       body < query < path, the scope again (a workspace named in the body), validation
//   handler      the route's handler by name ("action" calls the route's action and renders it)
//
// A request refused before its body was read is answered at once with `Connection: close`, so
// the server closes the connection instead of reading a body nobody wants.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import Validator from "fastest-validator";
import type { CallingOptions } from "moleculer";
import qs from "qs";
import { toErrorBody, WafleetError } from "../errors";
import { declaredLength, hasBody, limitedBody, readJsonBody } from "./body";
import type { Gatekeeper } from "./gate";
import type { Principal } from "./keys";
import { lingerOnClose, sendError } from "./reply";
import { COMPAT_BASE, RouteTable, type RouteDef } from "./routes";
import type { Release, Slots } from "./slots";

/** One request on its way through a route's handler. */
export interface Exchange {
  readonly def: RouteDef;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Body fields (json mode), query and path params, merged in that order and validated. */
  readonly params: Record<string, any>;
  /** Who the request acts as; undefined on public routes (auth: false). */
  readonly principal?: Principal;
  /** Raw mode: the body as a stream limited to the route's size and idle deadline. */
  readonly body?: Readable;
  /** Calls an action as this request (its Moleculer context: request id, tracing). */
  call<T = unknown>(action: string, params: Record<string, unknown>, opts?: CallingOptions): Promise<T>;
}

/** Answers an admitted request; throwing a WafleetError answers it with that error. */
export type RouteHandler = (x: Exchange) => Promise<void> | void;

export interface PipelineLimits {
  /** Largest JSON body on ordinary routes (API_BODY_LIMIT). */
  body: number;
  /** Largest JSON body on routes whose body carries media (base64 grows it by 4/3). */
  mediaJson: number;
  /** Largest raw body on routes whose body is media (API_MEDIA_MAX_BYTES). */
  mediaRaw: number;
  jsonMaxDepth: number;
  /** A body that sends no byte for this long is answered 408 (0 = never). */
  bodyIdleMs: number;
  /** JSON bodies above `body` held in memory at once, per gateway. */
  largeBodies: Slots;
  /** How long a large body waits for a slot before 503 GATEWAY_BUSY. */
  largeBodyWaitMs: number;
}

export interface PipelineOptions {
  routes: readonly RouteDef[];
  gate: Gatekeeper;
  /** Authenticated routes wait for this (the key store loading). */
  ready?: Promise<unknown>;
  /** Handlers by name; a route names its own with `handler` (default "action"). */
  handlers: Record<string, RouteHandler>;
  /** How an exchange calls an action (behind moleculer-web: the request's context). */
  call(req: IncomingMessage, action: string, params: Record<string, unknown>, opts?: CallingOptions): Promise<unknown>;
  limits: PipelineLimits;
  /** Told about errors that became a 500 (bugs, not refusals). */
  onInternalError?(err: unknown, req: IncomingMessage): void;
}

type Checker = (params: unknown) => true | unknown[];

/** How long a refused request's connection may keep sending (discarded) before it is closed. */
const LINGER_MS = 2000;

export class RequestPipeline {
  readonly table: RouteTable;
  private readonly validator = new Validator({ useNewCustomCheckerFunction: true });
  private readonly checkers = new Map<RouteDef, Checker>();

  constructor(private readonly opts: PipelineOptions) {
    this.table = new RouteTable([...opts.routes]);
    // a route naming a handler nobody registered is a wiring mistake: refuse to start with it
    for (const def of opts.routes) {
      const name = def.handler ?? "action";
      if (!opts.handlers[name]) throw new Error(`route ${def.method} ${def.path} names the handler "${name}", which is not registered`);
    }
  }

  get routes(): readonly RouteDef[] {
    return this.table.routes;
  }

  /** A node:http request listener (or a moleculer-web route middleware: it never calls next). */
  readonly handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let def: RouteDef | undefined;
    let release: Release | undefined;
    try {
      const rawUrl: string = (req as any).originalUrl ?? req.url ?? "/";
      const q = rawUrl.indexOf("?");
      const urlPath = trimSlash(q >= 0 ? rawUrl.slice(0, q) : rawUrl);
      const method = req.method ?? "GET";
      const m = this.table.match(method, urlPath);
      if (!m) throw new WafleetError("NOT_FOUND", `No route ${method.slice(0, 10)} ${urlPath.slice(0, 200)}`);
      if ("allowed" in m) throw Object.assign(new WafleetError("METHOD_NOT_ALLOWED", `${method.slice(0, 10)} is not allowed here; use ${m.allowed.join(", ")}`), { allow: m.allowed.join(", ") });
      def = m.def;
      const query = q >= 0 ? parseQuery(rawUrl.slice(q + 1)) : {};

      let principal: Principal | undefined;
      if (def.auth !== false) {
        await this.opts.ready;
        principal = await this.opts.gate.admit(req, (name, value) => res.setHeader(name, value));
        this.opts.gate.authorize(def, principal, { ...query, ...m.params }, false);
      }

      let fields: Record<string, unknown> = {};
      let body: Readable | undefined;
      if ((def.body ?? "json") === "json") {
        const limit = def.mediaBody ? Math.max(this.opts.limits.mediaJson, this.opts.limits.body) : this.opts.limits.body;
        fields = await readJsonBody(req, {
          limit,
          maxDepth: this.opts.limits.jsonMaxDepth,
          idleMs: this.opts.limits.bodyIdleMs,
          formBodies: def.formBodies === true,
          beforeRead: async () => {
            release = await this.largeBodySlot(req, limit);
          },
        });
      } else {
        body = limitedBody(req, { limit: def.mediaBody ? this.opts.limits.mediaRaw : this.opts.limits.body, idleMs: this.opts.limits.bodyIdleMs });
      }

      const params: Record<string, any> = Object.assign({}, fields, query, m.params);
      // moleculer-web's name for a request's merged params (the Workspace routing strategy reads it)
      (req as any).$params = params;
      if (principal) this.opts.gate.authorize(def, principal, params, true);
      const valid = this.checkerFor(def)(params);
      if (valid !== true) throw new WafleetError("VALIDATION_ERROR", "Parameters validation error!", valid);

      const handler = this.opts.handlers[def.handler ?? "action"]!;
      await handler({ def, req, res, params, principal, body, call: (action, p, o) => this.opts.call(req, action, p, o) as Promise<any> });
    } catch (err) {
      this.fail(req, res, def, err);
    } finally {
      release?.();
    }
  };

  /** Answers a request with an error; one whose body was not read to its end loses its connection. */
  fail(req: IncomingMessage, res: ServerResponse, def: RouteDef | undefined, err: any): void {
    const headers: Record<string, string> = {};
    if (err?.allow) headers.Allow = err.allow;
    const { status, body } = toErrorBody(err);
    // a body we did not read must not be taken for the next request on this connection; and the
    // answer must reach a client that is still sending it
    const unread = hasBody(req) && !req.complete;
    if (unread || status === 413 || status === 415) headers.Connection = "close";
    if (unread && req.socket) lingerOnClose(req.socket, LINGER_MS);
    if (body.error.code === "INTERNAL_ERROR") this.opts.onInternalError?.(err, req);
    sendError(res, err, { compat: def?.base === COMPAT_BASE, headers });
  }

  /** A slot for a JSON body that may exceed the ordinary limit (declared so, or chunked). */
  private async largeBodySlot(req: IncomingMessage, limit: number): Promise<Release | undefined> {
    const { body, largeBodies, largeBodyWaitMs } = this.opts.limits;
    if (limit <= body) return undefined;
    const declared = declaredLength(req);
    if (declared !== undefined && declared <= body) return undefined;
    const release = await largeBodies.acquire(largeBodyWaitMs);
    if (!release) throw new WafleetError("GATEWAY_BUSY", `This gateway is reading as many large bodies as it may (${largeBodies.size}); retry shortly`, { retryAfter: 1 });
    return release;
  }

  private checkerFor(def: RouteDef): Checker {
    let c = this.checkers.get(def);
    if (!c) {
      c = this.validator.compile({ ...(def.params ?? {}) } as any) as Checker;
      this.checkers.set(def, c);
    }
    return c;
  }
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

/**
 * The query string as moleculer-web parses it, so clients see no change: qs, with `a[]=1` arrays
 * and `a[b]=1` objects (PHP's http_build_query writes those), and keys that would reach object
 * prototypes dropped.
 */
export function parseQuery(raw: string): Record<string, unknown> {
  return qs.parse(raw) as Record<string, unknown>;
}

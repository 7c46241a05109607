// The pipeline's default handler ("action"): calls the route's action with the request's params
// and renders its answer (JSON, 204, a QR as PNG or JSON, Location on 201). Sends under an
// Idempotency-Key are remembered and replayed; a message's media.url is fetched here, once the
// body passed its schema, so nothing is fetched for a bad request.
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { WafleetError } from "../errors";
import { checkMessageShape } from "../sessions/params";
import { fingerprintOf, IDEMPOTENCY_KEY_PATTERN, type IdempotencyKeys, type StoredResponse } from "./idempotency";
import type { MediaStore } from "../media/store";
import type { MediaFetchOptions } from "./media-fetch";
import { fetchMedia } from "./media-fetch";
import type { Exchange, RouteHandler } from "./pipeline";
import type { QrPngCache } from "./qr-png";
import { sendJson } from "./reply";
import type { Slots } from "./slots";
import { API_BASE, fullPathOf, type RouteDef } from "./routes";
import { persistently, storeCall } from "./store";
import { stamp, timed, timingHeaderOf } from "./timing";

export interface ActionRouteOptions {
  idempotency: IdempotencyKeys;
  qrImages: QrPngCache;
  /** media.url fetches: the size cap, deadline and private-address rule. */
  mediaFetch: MediaFetchOptions;
  /**
   * Where a message's media.data or fetched media.url goes before the send is called, so the call
   * carries only {mediaId} (media bytes never ride a Moleculer message). Without one, as base64.
   */
  media?: MediaStore;
  /** media.url fetches in flight at once on this gateway (each may hold API_MEDIA_MAX_BYTES). */
  mediaFetches?: Slots;
  /** How long a fetch waits for a slot before 503 GATEWAY_BUSY (default 10 s). */
  mediaFetchWaitMs?: number;
  /** The gateway's call timeout when a route sets none. */
  defaultTimeoutMs?: number;
}

type Rendered = StoredResponse & { raw?: Buffer; contentType?: string };

export function actionRoute(opts: ActionRouteOptions): RouteHandler {
  const { idempotency } = opts;

  /** media.url fetched and media.data stored (-> media.mediaId), after the body passed its schema. */
  async function resolveMedia(params: Record<string, any>): Promise<Record<string, any>> {
    if (!params.media || typeof params.media !== "object" || params.media.mediaId !== undefined) return params;
    checkMessageShape({ to: String(params.to), text: params.text ?? params.message, media: params.media, caption: params.caption }, opts.mediaFetch.maxBytes);
    const { url, data: given, ...rest } = params.media;
    let data: string = given;
    if (url !== undefined) {
      const release = opts.mediaFetches ? await opts.mediaFetches.acquire(opts.mediaFetchWaitMs ?? 10_000) : () => undefined;
      if (!release) throw new WafleetError("GATEWAY_BUSY", `This gateway is fetching as many media URLs as it may (${opts.mediaFetches!.size}); retry shortly`, { retryAfter: 1 });
      try {
        data = (await fetchMedia(url, opts.mediaFetch)).data;
      } finally {
        release();
      }
    }
    const workspaceId = params.workspaceId ?? (params.workspace_id !== undefined ? String(params.workspace_id) : undefined);
    if (!opts.media || !workspaceId) return { ...params, media: { ...rest, data } };
    const stored = await opts.media.putBase64(workspaceId, data, { mimetype: rest.mimetype, filename: rest.filename, maxBytes: opts.mediaFetch.maxBytes });
    return { ...params, media: { ...rest, mediaId: stored.mediaId } };
  }

  /** Calls the route's action and renders its answer as the route says. */
  async function perform(x: Exchange, params: Record<string, any>): Promise<Rendered> {
    const { def, req } = x;
    const given = params;
    if (def.mediaBody) params = await resolveMedia(params);
    let data: any;
    try {
      // a timed request asks the owner for its stamps too (lib/api/timing.ts)
      const meta: Record<string, unknown> = { messageId: messageIdFor(def, req.headers["idempotency-key"], params) };
      if (timed(req)) meta.timing = true;
      stamp(req, "g2");
      data = await x.call(def.action, params, { timeout: def.timeoutMs ?? opts.defaultTimeoutMs ?? 30000, meta });
      stamp(req, "g3");
    } catch (err: any) {
      // media this request stored for a send that was refused is not kept (the owner reads it
      // before sending, so a refusal means nobody holds it)
      const storedId = params.media?.mediaId;
      if (storedId && storedId !== given.media?.mediaId && opts.media && err?.code >= 400 && err?.code < 500) {
        await opts.media.delete(String(params.workspaceId ?? params.workspace_id), storedId).catch(() => undefined);
      }
      // DELETE is idempotent: the session is gone either way
      if (def.action === "sessions.delete" && err?.type === "SESSION_NOT_FOUND") return { status: 204, body: null };
      throw err;
    }
    if (def.status === 204) return { status: 204, body: null };
    if (def.render === "qr") {
      // three forms (as WAHA offers): the PNG itself, or JSON with the raw value and the PNG as a data URL
      const png = opts.qrImages.get(data.qr);
      if (/application\/json/i.test(String(req.headers["accept"] ?? ""))) {
        return { status: 200, body: { ...data, image: `data:image/png;base64,${png.toString("base64")}` }, headers: { "Cache-Control": "no-store" } };
      }
      return { status: 200, body: null, raw: png, contentType: "image/png", headers: { "Cache-Control": "no-store", "X-QR-Expires-At": String(data.expiresAt) } };
    }
    const location = def.status === 201 ? locationOf(def, params, data) : undefined;
    return { status: def.status, body: data ?? null, headers: location ? { Location: location } : undefined };
  }

  return async (x) => {
    const { def, req, res, params } = x;
    const header = req.headers["idempotency-key"];
    stamp(req, "g1");
    const timingOf = () => {
      stamp(req, "g4");
      const t = timingHeaderOf(req, x.principal?.kind === "admin");
      return t ? { "X-Wafleet-Timing": t } : undefined;
    };
    if (!def.idempotencyKey || header === undefined) {
      const r = await perform(x, params);
      write(res, r, timingOf());
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
      result = await perform(x, params);
    } catch (err) {
      await persistently(() => idempotency.abandon(scope, header)).catch(() => undefined);
      throw err;
    }
    // the message went out: remembering that must survive a store blip (a Redis restart takes
    // a second), or the key would stay reserved and every retry answer IN_USE until it expires
    await persistently(() => idempotency.complete(scope, header, fingerprint, { status: result.status, body: result.body, headers: result.headers }));
    write(res, result, timingOf());
  };
}

function write(res: ServerResponse, r: Rendered, extra: Record<string, string> | undefined = {}): void {
  if (r.raw) {
    res.writeHead(r.status, { "Content-Type": r.contentType ?? "application/octet-stream", "Content-Length": String(r.raw.length), ...(r.headers ?? {}), ...extra });
    res.end(r.raw);
  } else if (r.status === 204) {
    res.writeHead(204, { ...(r.headers ?? {}), ...extra });
    res.end();
  } else sendJson(res, r.status, r.body, { ...(r.headers ?? {}), ...extra });
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
export function messageIdFor(def: RouteDef, key: unknown, params: Record<string, any>): string | undefined {
  if (!def.idempotencyKey || typeof key !== "string" || !IDEMPOTENCY_KEY_PATTERN.test(key)) return undefined;
  const scope = `${params.workspaceId ?? params.workspace_id}|${params.sessionId ?? params.session_id}|${key}`;
  return `WFI${createHash("sha256").update(scope).digest("hex").slice(0, 29).toUpperCase()}`;
}

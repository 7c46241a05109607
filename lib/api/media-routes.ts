// The gateway's media handlers (DESIGN section 6): uploads stream from the request into the media
// store, downloads stream from the store into the response, with Content-Length, ETag (the
// sha256) and single byte ranges. The gateway reads the store itself (S3, or the folder every node
// mounts), so media bytes never travel as Moleculer messages.
import { pipeline } from "node:stream/promises";
import { WafleetError } from "../errors";
import type { MediaStore } from "../media/store";
import { MEDIA_MIMETYPES } from "../sessions/params";
import type { Exchange, RouteHandler } from "./pipeline";
import { sendJson } from "./reply";

export interface MediaRouteOptions {
  store: MediaStore;
  /** API_MEDIA_MAX_BYTES: the largest upload. */
  maxUploadBytes: number;
}

const ALLOWED = new Set<string>(MEDIA_MIMETYPES);

/** The Content-Type's media type, lower-cased, without parameters. */
function mimetypeOf(header: string | undefined): string {
  return String(header ?? "")
    .split(";")[0]!
    .trim()
    .toLowerCase();
}

/**
 * One `bytes=` range as {start?, end?} (start-end, start-, -suffix); undefined for no header or a
 * form we do not serve (several ranges, other units): the whole media is sent then, as RFC 9110
 * allows. A malformed single range is refused with 416.
 */
export function parseRangeHeader(header: string | undefined): { start?: number; end?: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header.trim());
  if (!m) {
    if (/^bytes=/i.test(header.trim()) && !header.includes(",")) throw new WafleetError("RANGE_NOT_SATISFIABLE", "The Range header is malformed");
    return undefined;
  }
  const [, a, b] = m;
  if (a === "" && b === "") throw new WafleetError("RANGE_NOT_SATISFIABLE", "The Range header is malformed");
  const num = (s: string) => (s === "" ? undefined : Number(s));
  const start = num(a!);
  const end = num(b!);
  if ((start !== undefined && !Number.isSafeInteger(start)) || (end !== undefined && !Number.isSafeInteger(end))) throw new WafleetError("RANGE_NOT_SATISFIABLE", "The Range header is out of bounds");
  return { start, end };
}

export function mediaRoutes(opts: MediaRouteOptions): Record<"mediaUpload" | "mediaDownload", RouteHandler> {
  const { store } = opts;

  async function upload(x: Exchange): Promise<void> {
    const mimetype = mimetypeOf(x.req.headers["content-type"]);
    if (!ALLOWED.has(mimetype)) {
      x.body?.destroy();
      throw new WafleetError("UNSUPPORTED_MEDIA_TYPE", `Content-Type must be one of WhatsApp's media types (${MEDIA_MIMETYPES.join(", ")}); got ${JSON.stringify(mimetype.slice(0, 100) || "none")}`);
    }
    if (!x.body) throw new WafleetError("VALIDATION_ERROR", "The media is the request body");
    const { workspaceId, filename } = x.params as { workspaceId: string; filename?: string };
    const d = await store.put(workspaceId, x.body, { mimetype, filename, maxBytes: opts.maxUploadBytes });
    if (d.size === 0) {
      await store.delete(workspaceId, d.mediaId).catch(() => undefined);
      throw new WafleetError("VALIDATION_ERROR", "The media is empty", [{ field: "body", message: "send the media's bytes as the request body", type: "required" }]);
    }
    sendJson(x.res, 201, d, { Location: d.url });
  }

  async function download(x: Exchange): Promise<void> {
    const { workspaceId, mediaId } = x.params as { workspaceId: string; mediaId: string };
    const { req, res } = x;
    const meta = await store.stat(workspaceId, mediaId);
    const etag = `"${meta.sha256}"`;
    const common: Record<string, string> = {
      ETag: etag,
      "Accept-Ranges": "bytes",
      "Cache-Control": "private, max-age=86400, immutable",
      "X-Content-Type-Options": "nosniff",
      ...(meta.filename ? { "Content-Disposition": `inline; filename*=UTF-8''${encodeURIComponent(meta.filename)}` } : {}),
    };
    const inm = req.headers["if-none-match"];
    if (inm && inm.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
      res.writeHead(304, common);
      res.end();
      return;
    }
    let range: { start?: number; end?: number } | undefined;
    try {
      range = parseRangeHeader(req.headers.range);
      // If-Range with another validator: the client's copy is stale, send everything
      const ifRange = req.headers["if-range"];
      if (range && ifRange && ifRange !== etag) range = undefined;
      const opened = await store.open(workspaceId, mediaId, range);
      const served = opened.range;
      const length = served ? served.end - served.start + 1 : meta.size;
      res.writeHead(served ? 206 : 200, {
        ...common,
        "Content-Type": meta.mimetype,
        "Content-Length": String(length),
        ...(served ? { "Content-Range": `bytes ${served.start}-${served.end}/${meta.size}` } : {}),
      });
      await pipeline(opened.stream, res).catch((err: Error) => {
        // the client went away, or the store failed mid-stream: the response cannot be fixed now
        opened.stream.destroy();
        res.destroy(err);
      });
    } catch (err: any) {
      if (err?.type === "RANGE_NOT_SATISFIABLE") res.setHeader("Content-Range", `bytes */${meta.size}`);
      throw err;
    }
  }

  return { mediaUpload: upload, mediaDownload: download };
}

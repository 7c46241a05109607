// The operator dashboard's static files (ui/, built into dist/ui by `npm run build`), served by
// the gateway at `/`. Every file is read once at start into a fixed table keyed by URL path, so a
// request path is only ever looked up, never joined onto a folder: no traversal is possible.
import { createHash } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { toErrorBody, WafleetError } from "../errors";

/**
 * Only the dashboard's own files run (no inline script or style, no eval), it talks only to this
 * origin, QR codes arrive as data: URLs and downloads as blob: URLs; nothing may frame it.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".json": "application/json; charset=utf-8",
};

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": DASHBOARD_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

interface StaticFile {
  body: Buffer;
  gzip?: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

/** The package root: the nearest folder above this module that holds package.json (source or dist). */
function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) return from;
    dir = up;
  }
  return dir;
}

export const DEFAULT_DASHBOARD_DIR = path.join(packageRoot(__dirname), "dist", "ui");

export class Dashboard {
  private constructor(
    private readonly files: Map<string, StaticFile>,
    /** Why nothing is served (the folder was not built), for the log and the 404's message. */
    readonly missing?: string,
  ) {}

  get size(): number {
    return this.files.size;
  }

  /**
   * Reads the built dashboard: `index.html` is served at `/` and revalidated on every load;
   * `assets/*` carry a content hash in their names, so browsers may keep them for a year.
   */
  static async load(dir: string = DEFAULT_DASHBOARD_DIR): Promise<Dashboard> {
    const files = new Map<string, StaticFile>();
    const index = await fs.readFile(path.join(dir, "index.html")).catch(() => undefined);
    if (!index) return new Dashboard(files, `the dashboard is not built (no ${path.join(dir, "index.html")}; run npm run build)`);
    files.set("/", fileOf(index, ".html", "no-cache"));
    const assets = await fs.readdir(path.join(dir, "assets"), { withFileTypes: true }).catch(() => []);
    for (const e of assets) {
      const ext = path.extname(e.name);
      if (!e.isFile() || !TYPES[ext] || !/^[A-Za-z0-9._-]+$/.test(e.name)) continue;
      files.set(`/assets/${e.name}`, fileOf(await fs.readFile(path.join(dir, "assets", e.name)), ext, "public, max-age=31536000, immutable"));
    }
    return new Dashboard(files);
  }

  /** True when `urlPath` (no query) is one of the dashboard's files. */
  has(urlPath: string): boolean {
    return this.files.has(urlPath);
  }

  /**
   * Answers the request if its path is a dashboard file (GET and HEAD; other methods 405) and
   * returns true; returns false for every other path, which the API then answers (its 404/405).
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    // moleculer-web rewrites req.url relative to its route; the original is the request line's
    const urlPath = String((req as { originalUrl?: string }).originalUrl ?? req.url ?? "/").split("?")[0]!;
    const file = this.files.get(urlPath);
    if (!file) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      const { status, body } = toErrorBody(new WafleetError("METHOD_NOT_ALLOWED", `${String(req.method).slice(0, 10)} is not allowed here; use GET, HEAD`));
      const payload = JSON.stringify(body);
      req.resume();
      res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": String(Buffer.byteLength(payload)), Allow: "GET, HEAD", Connection: "close" });
      res.end(payload);
      return true;
    }
    req.resume();
    const headers: Record<string, string> = { ...SECURITY_HEADERS, "Content-Type": file.type, "Cache-Control": file.cacheControl, ETag: file.etag, Vary: "Accept-Encoding" };
    if (etagMatches(req.headers["if-none-match"], file.etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzip = file.gzip && /\bgzip\b/i.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gzip ? file.gzip! : file.body;
    if (gzip) headers["Content-Encoding"] = "gzip";
    headers["Content-Length"] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  }
}

function fileOf(body: Buffer, ext: string, cacheControl: string): StaticFile {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  // text compresses well; PNGs are compressed already, and source maps are only read by devtools
  const gzip = ext !== ".png" && ext !== ".map" && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined;
  return { body, gzip: gzip && gzip.length < body.length ? gzip : undefined, type: TYPES[ext]!, etag, cacheControl };
}

function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (typeof header !== "string") return false;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*");
}

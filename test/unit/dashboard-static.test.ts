// The dashboard's static files as the gateway serves them: a fixed table of paths (nothing joined
// onto a folder), the right types, revalidated HTML and immutable hashed assets, a strict CSP,
// and every other path left to the API (its own 404/405).
import { promises as fs } from "node:fs";
import http from "node:http";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { Dashboard, DASHBOARD_CSP } from "../../lib/api/dashboard";
import { request } from "../helpers/http";
import { tempDir } from "../helpers/processes";

let dir: string;
let server: http.Server;
let base: string;
let dashboard: Dashboard;
const JS = `console.log(${JSON.stringify("x".repeat(4000))});`;

beforeAll(async () => {
  dir = await tempDir("dashboard");
  await fs.mkdir(path.join(dir, "assets"), { recursive: true });
  await fs.writeFile(path.join(dir, "index.html"), "<!doctype html><title>wafleet</title>");
  await fs.writeFile(path.join(dir, "assets", "app-ABC123.js"), JS);
  await fs.writeFile(path.join(dir, "assets", "app-ABC123.css"), "body{}");
  await fs.writeFile(path.join(dir, "assets", "notes.exe"), "MZ");
  await fs.writeFile(path.join(dir, "secret.txt"), "not served");
  dashboard = await Dashboard.load(dir);
  server = http.createServer((req, res) => {
    if (!dashboard.serve(req, res)) {
      res.writeHead(418, { "content-type": "text/plain" });
      res.end("the API answers this");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as any).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await fs.rm(dir, { recursive: true, force: true });
});

describe("the dashboard's static files", () => {
  it("serves index.html at / with a strict Content-Security-Policy, revalidated on every load", async () => {
    const r = await request(base, "GET", "/");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.headers["cache-control"]).toBe("no-cache");
    expect(r.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("default-src 'none'");
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["x-frame-options"]).toBe("DENY");
    expect(r.headers["referrer-policy"]).toBe("no-referrer");
    expect(r.body.toString()).toContain("<title>wafleet</title>");
    expect(r.headers["content-length"]).toBe(String(r.body.length));
  });

  it("serves hashed assets with their type, cached for a year, gzipped when asked", async () => {
    const plain = await request(base, "GET", "/assets/app-ABC123.js");
    expect(plain.status).toBe(200);
    expect(plain.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(plain.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(plain.body.toString()).toBe(JS);
    const gz = await request(base, "GET", "/assets/app-ABC123.js", { headers: { "accept-encoding": "gzip, br" } });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.headers.vary).toBe("Accept-Encoding");
    expect(gunzipSync(gz.body).toString()).toBe(JS);
    expect(gz.body.length).toBeLessThan(JS.length / 4);
    expect((await request(base, "GET", "/assets/app-ABC123.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
  });

  it("answers a matching If-None-Match with 304 and HEAD without a body", async () => {
    const first = await request(base, "GET", "/");
    const again = await request(base, "GET", "/", { headers: { "if-none-match": String(first.headers.etag) } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const head = await request(base, "HEAD", "/assets/app-ABC123.js");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers["content-length"]).toBe(String(JS.length));
  });

  it("refuses other methods on its own paths with 405 and Allow", async () => {
    const r = await request(base, "POST", "/", { body: { a: 1 } });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe("GET, HEAD");
    expect(r.json.error.code).toBe("METHOD_NOT_ALLOWED");
  });

  it.each([
    "/index.html",
    "/secret.txt",
    "/assets/notes.exe",
    "/assets/../secret.txt",
    "/assets/%2e%2e/secret.txt",
    "/assets/..%2fsecret.txt",
    "/assets//app-ABC123.js",
    "/assets/app-ABC123.js/",
    "//assets/app-ABC123.js",
    "/api/v1/openapi.json",
    "/api/v1/nope",
    "/ASSETS/app-ABC123.js",
  ])("leaves %s to the API (never a file outside its table)", async (p) => {
    const r = await request(base, "GET", p);
    expect(r.status).toBe(418);
    expect(r.body.toString()).toBe("the API answers this");
  });

  it("serves nothing, and says why, when the dashboard was not built", async () => {
    const empty = await Dashboard.load(path.join(dir, "missing"));
    expect(empty.size).toBe(0);
    expect(empty.missing).toMatch(/not built.*npm run build/);
    expect(empty.has("/")).toBe(false);
  });
});

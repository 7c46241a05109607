// The gateway's request pipeline on a plain node:http server, without a broker: routes, the gate
// decided from headers and path before any body byte is read, body modes and their limits, the
// bound on large bodies held at once, params and validation, and the error shape.
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { sha256Hex } from "../../lib/config";
import { AuthFailureThrottle } from "../../lib/api/auth-throttle";
import { Gatekeeper } from "../../lib/api/gate";
import { WorkspaceKeys } from "../../lib/api/keys";
import { RequestPipeline, type Exchange, type PipelineOptions, type RouteHandler } from "../../lib/api/pipeline";
import { RateLimiter } from "../../lib/api/rate-limit";
import { COMPAT_BASE, type RouteDef } from "../../lib/api/routes";
import { Slots } from "../../lib/api/slots";
import { MemoryApiStore } from "../../lib/api/store";
import { request } from "../helpers/http";

const ADMIN = "pipeline-admin-key-0123456789";
const id = { type: "string", pattern: /^[A-Za-z0-9_-]{1,64}$/ };

const ROUTES: RouteDef[] = [
  { method: "GET", base: "", path: "/ping", action: "t.ping", status: 200, params: { $$strict: true }, auth: false, summary: "public" },
  { method: "POST", path: "/workspaces/:workspaceId/things", action: "t.create", status: 201, params: { $$strict: true, workspaceId: id, name: { type: "string", max: 32 }, tag: { type: "string", optional: true } }, summary: "json" },
  { method: "GET", path: "/workspaces/:workspaceId/things", action: "t.list", status: 200, params: { $$strict: true, workspaceId: id, tag: { type: "string", optional: true } }, summary: "list" },
  { method: "POST", path: "/workspaces/:workspaceId/media", action: "t.media", status: 201, params: { $$strict: true, workspaceId: id, data: { type: "string", optional: true } }, mediaBody: true, summary: "large json" },
  { method: "POST", path: "/workspaces/:workspaceId/upload", action: "t.upload", status: 201, params: { $$strict: true, workspaceId: id }, body: "raw", mediaBody: true, handler: "upload", summary: "raw" },
  { method: "GET", path: "/admin-only", action: "t.admin", status: 200, params: { $$strict: true }, admin: true, summary: "admin" },
  { method: "POST", base: COMPAT_BASE, path: "/send", action: "t.compat", status: 200, params: { $$strict: true, workspace_id: id, text: { type: "string" } }, workspaceParam: "workspace_id", summary: "compat" },
  { method: "GET", path: "/boom", action: "t.boom", status: 200, params: { $$strict: true }, summary: "a bug" },
];

interface Rig {
  url: string;
  port: number;
  calls: Array<{ action: string; params: Record<string, unknown> }>;
  /** Times a handler ran. */
  handled: number;
  acmeKey: string;
  internalErrors: unknown[];
  close(): Promise<void>;
}

async function rig(limits: Partial<PipelineOptions["limits"]> = {}, extra: Partial<PipelineOptions> = {}): Promise<Rig> {
  const store = new MemoryApiStore();
  const workspaceKeys = new WorkspaceKeys(store);
  const acmeKey = (await workspaceKeys.create("acme")).key;
  const gate = new Gatekeeper({
    adminKeyHashes: [Buffer.from(sha256Hex(ADMIN), "hex")],
    workspaceKeys,
    limiter: new RateLimiter(store, 0, 60000),
    authFailures: new AuthFailureThrottle(store, 3, 60000),
    trustedProxyHops: 0,
    rateWindowMs: 60000,
  });
  const state: Rig = { url: "", port: 0, calls: [], handled: 0, acmeKey, internalErrors: [], close: async () => undefined };
  const action: RouteHandler = async (x: Exchange) => {
    state.handled++;
    const data = await x.call(x.def.action, x.params);
    res(x, x.def.status, data);
  };
  const upload: RouteHandler = async (x) => {
    state.handled++;
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of x.body!) {
      size += chunk.length;
      hash.update(chunk);
    }
    res(x, 201, { size, sha256: hash.digest("hex") });
  };
  const pipeline = new RequestPipeline({
    routes: ROUTES,
    gate,
    handlers: { action, upload },
    call: async (_req, a, params) => {
      if (a === "t.boom") throw new Error("a bug with a /secret/path in it");
      state.calls.push({ action: a, params });
      return { ok: true, action: a };
    },
    limits: { body: 1024, mediaJson: 64 * 1024, mediaRaw: 32 * 1024, jsonMaxDepth: 8, bodyIdleMs: 0, largeBodies: new Slots(0), largeBodyWaitMs: 0, ...limits },
    onInternalError: (err) => state.internalErrors.push(err),
    ...extra,
  });
  const server = http.createServer(pipeline.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}`;
  state.close = () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  };
  return state;
}

function res(x: Exchange, status: number, body: unknown) {
  const payload = JSON.stringify(body);
  x.res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) });
  x.res.end(payload);
}

/** Sends a request's head only (declaring a body of `length` bytes) and resolves with the raw answer once the server closes. */
function headOnly(port: number, method: string, path: string, headers: Record<string, string>, length: number): Promise<{ status: number; body: any; raw: string }> {
  return new Promise((resolve, reject) => {
    let data = "";
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write([`${method} ${path} HTTP/1.1`, "Host: t", "Content-Type: application/json", `Content-Length: ${length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n"));
    });
    socket.on("data", (d) => (data += d.toString()));
    socket.on("close", () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`no answer: ${JSON.stringify(data)}`));
      resolve({ status: Number(m[1]), body: JSON.parse(data.slice(data.indexOf("\r\n\r\n") + 4)), raw: data });
    });
    socket.on("error", reject);
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

describe("the request pipeline", () => {
  let t: Rig;
  beforeEach(async () => {
    t = await rig();
  });
  afterEach(async () => {
    await t.close();
  });

  it("answers unknown paths 404 and known paths with another method 405 with Allow, without a key", async () => {
    const nope = await request(t.url, "GET", "/api/v1/nope");
    expect([nope.status, nope.json.error.code]).toEqual([404, "NOT_FOUND"]);
    const wrong = await request(t.url, "DELETE", "/api/v1/workspaces/acme/things");
    expect([wrong.status, wrong.json.error.code, wrong.headers.allow]).toEqual([405, "METHOD_NOT_ALLOWED", "POST, GET"]);
    expect((await request(t.url, "GET", "/ping")).json).toEqual({ ok: true, action: "t.ping" });
  });

  it("refuses a keyless request from its headers: no body byte was sent, and the connection is closed", async () => {
    const a = await headOnly(t.port, "POST", "/api/v1/workspaces/acme/things", {}, 1000);
    expect([a.status, a.body.error.code]).toEqual([401, "UNAUTHORIZED"]);
    expect(a.raw).toMatch(/\r\nConnection: close\r\n/i);
    expect(t.handled).toBe(0);
  });

  it("refuses a workspace key on a foreign workspace, and a workspace key on an admin route, from the path", async () => {
    const foreign = await headOnly(t.port, "POST", "/api/v1/workspaces/beta/things", { Authorization: `Bearer ${t.acmeKey}` }, 1000);
    expect([foreign.status, foreign.body.error.code]).toEqual([403, "FORBIDDEN_WORKSPACE"]);
    const admin = await headOnly(t.port, "GET", "/api/v1/admin-only", { Authorization: `Bearer ${t.acmeKey}` }, 10);
    expect([admin.status, admin.body.error.code]).toEqual([403, "FORBIDDEN"]);
    expect(t.handled).toBe(0);
  });

  it("refuses an address past its failed authentications before looking at its key", async () => {
    for (let i = 0; i < 3; i++) expect((await request(t.url, "GET", "/api/v1/workspaces/acme/things", { key: "wrong-key-0123456789" })).status).toBe(401);
    const blocked = await headOnly(t.port, "POST", "/api/v1/workspaces/acme/things", { Authorization: `Bearer ${ADMIN}` }, 1000);
    expect([blocked.status, blocked.body.error.code]).toEqual([429, "RATE_LIMITED"]);
    expect(blocked.raw).toMatch(/\r\nRetry-After: \d+\r\n/i);
  });

  it("checks a workspace named only in the body once the body is read", async () => {
    const other = await request(t.url, "POST", `${COMPAT_BASE}/send`, { key: t.acmeKey, body: { workspace_id: "beta", text: "x" } });
    expect([other.status, other.json.error.code, other.json.success]).toEqual([403, "FORBIDDEN_WORKSPACE", false]);
    const own = await request(t.url, "POST", `${COMPAT_BASE}/send`, { key: t.acmeKey, body: { workspace_id: "acme", text: "x" } });
    expect(own.status).toBe(200);
  });

  it("merges body, query and path params in that order, and validates them strictly", async () => {
    const r = await request(t.url, "POST", "/api/v1/workspaces/acme/things?tag=q", { key: ADMIN, body: { name: "n", tag: "b", workspaceId: "from-body" } });
    expect(r.status).toBe(201);
    expect(t.calls.at(-1)).toEqual({ action: "t.create", params: { name: "n", tag: "q", workspaceId: "acme" } });
    const bad = await request(t.url, "POST", "/api/v1/workspaces/acme/things", { key: ADMIN, body: { name: 5, extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.map((d: any) => d.field).sort()).toEqual(["extra", "name"]);
  });

  it("reads a JSON body within the route's limit: API_BODY_LIMIT, or the media limit on media routes", async () => {
    const over = await request(t.url, "POST", "/api/v1/workspaces/acme/things", { key: ADMIN, body: { name: "n", tag: "x".repeat(2000) } });
    expect([over.status, over.json.error.code, over.headers.connection]).toEqual([413, "PAYLOAD_TOO_LARGE", "close"]);
    const media = await request(t.url, "POST", "/api/v1/workspaces/acme/media", { key: ADMIN, body: { data: "x".repeat(20000) } });
    expect(media.status).toBe(201);
    const tooBig = await request(t.url, "POST", "/api/v1/workspaces/acme/media", { key: ADMIN, body: { data: "x".repeat(70000) } });
    expect(tooBig.status).toBe(413);
    const form = await request(t.url, "POST", "/api/v1/workspaces/acme/things", { key: ADMIN, rawBody: "name=n", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect([form.status, form.json.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
  });

  it("hands a raw body to its handler as a stream, within the route's limit", async () => {
    const bytes = Buffer.alloc(20000, 7);
    const ok = await request(t.url, "POST", "/api/v1/workspaces/acme/upload", { key: ADMIN, rawBody: bytes, headers: { "content-type": "application/octet-stream" } });
    expect(ok.status).toBe(201);
    expect(ok.json).toEqual({ size: 20000, sha256: createHash("sha256").update(bytes).digest("hex") });
    const declared = await headOnly(t.port, "POST", "/api/v1/workspaces/acme/upload", { Authorization: `Bearer ${ADMIN}` }, 40000);
    expect([declared.status, declared.body.error.code]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    // a chunked body is counted as it passes
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${t.url}/api/v1/workspaces/acme/upload`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" } }, (r) => {
        r.resume();
        resolve(r.statusCode!);
      });
      req.on("error", reject);
      for (let i = 0; i < 5; i++) req.write(Buffer.alloc(10000, 1));
      req.end();
    });
    expect(chunked).toBe(413);
  });

  it("answers a bug with a generic 500 and tells the gateway's log", async () => {
    const r = await request(t.url, "GET", "/api/v1/boom", { key: ADMIN });
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: { code: "INTERNAL_ERROR", message: "Internal error" } });
    expect(t.internalErrors).toHaveLength(1);
  });

  it("refuses to start with a route whose handler nobody registered", async () => {
    const base = { routes: [{ ...ROUTES[0]!, handler: "static" }], handlers: { action: () => undefined } } as unknown as PipelineOptions;
    expect(() => new RequestPipeline(base)).toThrow(/handler "static"/);
  });
});

describe("the bound on large bodies", () => {
  it("holds at most N bodies above API_BODY_LIMIT at once; the next waits, then gets 503 GATEWAY_BUSY; small bodies pass", async () => {
    const t = await rig({ largeBodies: new Slots(1), largeBodyWaitMs: 300 });
    try {
      // the first large body sends half of itself and stops: it holds the slot
      const holder = net.connect(t.port, "127.0.0.1");
      await new Promise((r) => holder.once("connect", r));
      const body = JSON.stringify({ data: "y".repeat(30000) });
      holder.write(`POST /api/v1/workspaces/acme/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 1000)}`);
      let holderAnswer = "";
      holder.on("data", (d) => (holderAnswer += d.toString()));
      await new Promise((r) => setTimeout(r, 100));

      const busy = await request(t.url, "POST", "/api/v1/workspaces/acme/media", { key: ADMIN, rawBody: body, headers: { "content-type": "application/json" } });
      expect([busy.status, busy.json.error.code, busy.headers["retry-after"]]).toEqual([503, "GATEWAY_BUSY", "1"]);
      // a body within API_BODY_LIMIT on the same route needs no slot
      expect((await request(t.url, "POST", "/api/v1/workspaces/acme/media", { key: ADMIN, body: { data: "small" } })).status).toBe(201);

      // the holder finishes: its slot goes to the next large body
      holder.end(body.slice(1000));
      await new Promise<void>((r) => holder.on("close", () => r()));
      expect(holderAnswer).toMatch(/^HTTP\/1\.1 201/);
      expect((await request(t.url, "POST", "/api/v1/workspaces/acme/media", { key: ADMIN, rawBody: body, headers: { "content-type": "application/json" } })).status).toBe(201);
    } finally {
      await t.close();
    }
  });

  it("answers a body that stops arriving with 408 REQUEST_TIMEOUT and frees its slot", async () => {
    const slots = new Slots(1);
    const t = await rig({ largeBodies: slots, largeBodyWaitMs: 0, bodyIdleMs: 200 });
    try {
      const answer = await new Promise<string>((resolve) => {
        let data = "";
        const s = net.connect(t.port, "127.0.0.1", () => s.write(`POST /api/v1/workspaces/acme/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 30000\r\n\r\n{"data":"`));
        s.on("data", (d) => (data += d.toString()));
        s.on("close", () => resolve(data));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(answer).toMatch(/"code":"REQUEST_TIMEOUT"/);
      expect(slots.inUse).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe("Slots", () => {
  it("grants in order, waits up to a deadline, and ignores a second release", async () => {
    const s = new Slots(2);
    const a = s.tryAcquire()!;
    const b = s.tryAcquire()!;
    expect(s.tryAcquire()).toBeUndefined();
    const waiting = s.acquire(1000);
    const late = s.acquire(20);
    expect(await late).toBeUndefined();
    a();
    a();
    const c = await waiting;
    expect(c).toBeDefined();
    expect(s.inUse).toBe(2);
    b();
    c!();
    expect(s.inUse).toBe(0);
    expect(new Slots(0).tryAcquire()).toBeDefined();
  });
});

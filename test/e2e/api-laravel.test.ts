// The original design's Laravel ProxyController against wafleet: a client that speaks only the
// three compatibility routes, as PHP sends them (snake_case, numeric ids, Idempotency-Key from
// Str::uuid()), creates a session, sends messages (text and media by URL) and deletes it. Workspace
// keys, idempotency records and the compat session index live in a real Redis here.
import http from "node:http";
import { randomUUID } from "node:crypto";
import { request, type HttpResult } from "../helpers/http";
import { waitFor } from "../helpers/processes";
import { startRedis, type RedisServer } from "../helpers/servers";
import { startApiNode, type ApiNode } from "./api-harness";

const ME = "15550005555";
const CONTACT = "15550006666";
const WORKSPACE = 42; // Laravel's workspaces table: integer ids
const PNG_1PX = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=", "base64");

/**
 * What ProxyController does with Laravel's Http client: POST/DELETE JSON to
 * WHATSAPP_INSTANCE_1 + the same path, `Http::withToken(WHATSAPP_API_KEY)->acceptJson()`.
 */
class LaravelWhatsAppClient {
  constructor(
    private readonly instance: string,
    private readonly apiKey: string,
  ) {}

  private send(method: string, path: string, payload?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    return request(this.instance, method, path, { body: payload, key: this.apiKey, headers: { accept: "application/json", "user-agent": "GuzzleHttp/7", ...headers } });
  }

  createSession(workspaceId: number, sessionId: string, accountId: number) {
    return this.send("POST", "/api/whatsapp/sessions/create", { workspace_id: workspaceId, session_id: sessionId, account_id: accountId });
  }

  sendMessage(workspaceId: number, sessionId: string, to: string, message: string, idempotencyKey?: string) {
    return this.send("POST", "/api/whatsapp/messages/send", { workspace_id: workspaceId, session_id: sessionId, to, message }, idempotencyKey ? { "idempotency-key": idempotencyKey } : {});
  }

  sendMedia(workspaceId: number, sessionId: string, to: string, url: string, caption: string) {
    return this.send("POST", "/api/whatsapp/messages/send", { workspace_id: workspaceId, session_id: sessionId, to, media: { mimetype: "image/png", url, filename: "pixel.png" }, caption });
  }

  deleteSession(sessionId: string) {
    return this.send("DELETE", `/api/whatsapp/sessions/${sessionId}`);
  }
}

let redis: RedisServer;
let node: ApiNode;
let mediaServer: http.Server;
let mediaUrl: string;
let workspaceKey: string;

beforeAll(async () => {
  redis = await startRedis();
  // API_MEDIA_ALLOW_PRIVATE: the media server of this test listens on loopback
  // a fixed NODE_ID: the restarted process is the same node and takes its workspaces back at once
  node = await startApiNode({ REDIS_URL: redis.url, REDIS_PREFIX: "laravel-e2e:", API_MEDIA_ALLOW_PRIVATE: "true", NODE_ID: "laravel-e2e-node" });
  mediaServer = http.createServer((req, res) => {
    if (req.url === "/pixel.png") {
      res.writeHead(200, { "content-type": "image/png", "content-length": PNG_1PX.length });
      res.end(PNG_1PX);
    } else if (req.url === "/big.png") {
      res.writeHead(200, { "content-type": "image/png" });
      res.end(Buffer.alloc(17 * 1024 * 1024));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => mediaServer.listen(0, "127.0.0.1", r));
  mediaUrl = `http://127.0.0.1:${(mediaServer.address() as any).port}`;
  // the operator's one-time step: a key scoped to the Laravel workspace
  const created = await node.call("POST", `/api/v1/workspaces/${WORKSPACE}/keys`, { body: { label: "laravel proxy" } });
  expect(created.status).toBe(201);
  workspaceKey = created.json.key;
}, 60000);

afterAll(async () => {
  await node?.stop();
  await redis?.destroy();
  if (mediaServer) await new Promise((r) => mediaServer.close(r));
});

const laravel = (key: string) => new LaravelWhatsAppClient(node.api, key);
const inbox = async () => (await request(node.sim, "GET", `/sim/contacts/${CONTACT}/inbox`)).json.messages as any[];
const ledgerCount = async (body: string) => ((await request(node.sim, "GET", "/sim/ledger")).json.outgoing as any[]).filter((m) => m.body === body).length;

describe("a Laravel ProxyController client using only the compatibility routes", () => {
  it("creates a session, sends text and media, retries safely, and deletes it", async () => {
    const laravel = new LaravelWhatsAppClient(node.api, workspaceKey);

    const created = await laravel.createSession(WORKSPACE, "ws42-sales", 7);
    expect(created.status).toBe(201);
    // ids come back with the type they were sent with: PHP compares them with ===
    expect(created.json).toMatchObject({ success: true, session_id: "ws42-sales", workspace_id: 42, account_id: 7 });

    // the user scans the QR (shown by the SaaS from the v1 API); here the simulated phone does it
    const qr = await waitFor("a QR", async () => {
      const r = await node.call("GET", "/api/v1/workspaces/42/sessions/ws42-sales/qr", { headers: { accept: "application/json" } });
      return r.status === 200 ? (r.json.qr as string) : undefined;
    });
    expect((await request(node.sim, "POST", "/sim/link", { body: { qr, phone: ME } })).status).toBe(200);
    await waitFor("WORKING", async () => (await node.call("GET", "/api/v1/workspaces/42/sessions/ws42-sales")).json.status === "WORKING");

    const text = `order shipped ${Date.now()}`;
    const sent = await laravel.sendMessage(WORKSPACE, "ws42-sales", CONTACT, text);
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ success: true, to: `${CONTACT}@c.us`, ack: "SERVER" });
    expect(typeof sent.json.message_id).toBe("string");
    await waitFor("delivery", async () => (await inbox()).some((m) => m.id === sent.json.message_id));

    // a queue worker retrying a job after a timeout: same Idempotency-Key, nothing sent twice
    const jobKey = randomUUID();
    const retryText = `invoice ${Date.now()}`;
    const first = await laravel.sendMessage(WORKSPACE, "ws42-sales", CONTACT, retryText, jobKey);
    const retried = await laravel.sendMessage(WORKSPACE, "ws42-sales", CONTACT, retryText, jobKey);
    expect(retried.json).toEqual(first.json);
    const reused = await laravel.sendMessage(WORKSPACE, "ws42-sales", CONTACT, `${retryText} (edited)`, jobKey);
    expect(reused.status).toBe(409);
    expect(reused.json).toMatchObject({ success: false, error: { code: "IDEMPOTENCY_KEY_REUSED" } });
    await waitFor("delivery", async () => (await inbox()).some((m) => m.body === retryText));
    expect(await ledgerCount(retryText)).toBe(1);

    // media by URL: fetched by wafleet, delivered with the caption
    const caption = `receipt ${Date.now()}`;
    const media = await laravel.sendMedia(WORKSPACE, "ws42-sales", CONTACT, `${mediaUrl}/pixel.png`, caption);
    expect(media.status).toBe(200);
    const got = await waitFor("media delivery", async () => (await inbox()).find((m) => m.id === media.json.message_id));
    expect(got.media).toMatchObject({ mimetype: "image/png", data: PNG_1PX.toString("base64"), filename: "pixel.png" });
    const tooBig = await laravel.sendMedia(WORKSPACE, "ws42-sales", CONTACT, `${mediaUrl}/big.png`, "too big");
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.error.code).toBe("MEDIA_TOO_LARGE");
    const missing = await laravel.sendMedia(WORKSPACE, "ws42-sales", CONTACT, `${mediaUrl}/nope.png`, "gone");
    expect(missing.status).toBe(422);
    expect(missing.json).toMatchObject({ success: false, error: { code: "MEDIA_FETCH_FAILED" } });

    // errors keep the catalogue's codes, in the shape a Laravel client reads ($response->json('message'))
    const wrongWorkspace = await laravel.createSession(43, "other", 1);
    expect(wrongWorkspace.status).toBe(403);
    expect(wrongWorkspace.json).toMatchObject({ success: false, message: expect.any(String), error: { code: "FORBIDDEN_WORKSPACE" } });

    const deleted = await laravel.deleteSession("ws42-sales");
    expect(deleted.status).toBe(200);
    expect(deleted.json).toMatchObject({ success: true, session_id: "ws42-sales", deleted: true });
    expect((await node.call("GET", "/api/v1/workspaces/42/sessions/ws42-sales")).status).toBe(404);
    // deleting it again: a 404 a client checking `success` cannot take for "deleted"
    const again = await laravel.deleteSession("ws42-sales");
    expect([again.status, again.json]).toEqual([404, expect.objectContaining({ success: false, error: expect.objectContaining({ code: "SESSION_NOT_FOUND" }) })]);
    expect((await request(node.sim, "GET", "/sim/stats")).json.conflicts).toBe(0);
  }, 90000);

  it("finds the workspace of a compat-created session for an admin key, and refuses to guess between two", async () => {
    for (const w of [7, 8]) expect((await node.call("POST", "/api/whatsapp/sessions/create", { body: { workspace_id: w, session_id: "shared", start: false } })).status).toBe(201);
    const ambiguous = await node.call("DELETE", "/api/whatsapp/sessions/shared");
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.json.error.code).toBe("SESSION_AMBIGUOUS");
    expect((await node.call("DELETE", "/api/whatsapp/sessions/shared?workspace_id=7")).json).toMatchObject({ success: true, deleted: true });
    expect((await node.call("DELETE", "/api/whatsapp/sessions/shared")).json).toMatchObject({ success: true, workspace_id: "8", deleted: true });
  });

  it("never answers success for a session it did not delete", async () => {
    // created through the v1 API: the compat index does not know it
    expect((await node.call("POST", "/api/v1/workspaces/9/sessions", { body: { sessionId: "v1-made", start: false } })).status).toBe(201);
    const unknown = await node.call("DELETE", "/api/whatsapp/sessions/v1-made");
    expect([unknown.status, unknown.json]).toEqual([404, expect.objectContaining({ success: false, message: expect.stringMatching(/workspace_id/), error: expect.objectContaining({ code: "SESSION_NOT_FOUND" }) })]);
    expect((await node.call("GET", "/api/v1/workspaces/9/sessions/v1-made")).status).toBe(200);
    // with its workspace it is found and deleted, and the workspace id comes back as sent
    const found = await node.call("DELETE", "/api/whatsapp/sessions/v1-made?workspace_id=9");
    expect([found.status, found.json]).toEqual([200, expect.objectContaining({ success: true, session_id: "v1-made", workspace_id: "9", deleted: true })]);
    expect((await node.call("GET", "/api/v1/workspaces/9/sessions/v1-made")).status).toBe(404);
    const twice = await node.call("DELETE", "/api/whatsapp/sessions/v1-made?workspace_id=9");
    expect([twice.status, twice.json.error.code]).toEqual([404, "SESSION_NOT_FOUND"]);
  });

  it("reads what Laravel's Http client sends: [] for no fields, forms from asForm(), integer ids", async () => {
    const headers = { accept: "application/json", "user-agent": "GuzzleHttp/7" };
    // Http::post($url) with no data sends "[]"
    const empty = await request(node.api, "POST", "/api/whatsapp/sessions/create", { rawBody: "[]", key: workspaceKey, headers: { ...headers, "content-type": "application/json" } });
    // a workspace key fills workspace_id in; an admin key must send it, and is told so by name
    expect(empty.status).toBe(201);
    expect(empty.json).toMatchObject({ success: true, workspace_id: "42" });
    expect((await laravel(workspaceKey).deleteSession(empty.json.session_id)).json).toMatchObject({ success: true, deleted: true });
    const emptyAdmin = await node.call("POST", "/api/whatsapp/sessions/create", { rawBody: "[]", headers: { ...headers, "content-type": "application/json" } });
    expect(emptyAdmin.status).toBe(400);
    expect(emptyAdmin.json).toMatchObject({ success: false, message: "Invalid field(s): workspace_id", error: { code: "VALIDATION_ERROR", details: [expect.objectContaining({ field: "workspace_id" })] } });
    // a non-empty array is still no body
    expect((await node.call("POST", "/api/whatsapp/sessions/create", { rawBody: "[1]", headers: { ...headers, "content-type": "application/json" } })).status).toBe(400);

    // Http::asForm()->post(...): form-encoded, every value a string, metadata as metadata[k]=v
    const form = (fields: string) => request(node.api, "POST", "/api/whatsapp/sessions/create", { rawBody: fields, key: workspaceKey, headers: { ...headers, "content-type": "application/x-www-form-urlencoded" } });
    const created = await form("workspace_id=42&session_id=from-form&account_id=12&start=0&metadata%5Bplan%5D=pro");
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ success: true, session_id: "from-form", workspace_id: "42", account_id: "12", status: "STOPPED", session: { metadata: { plan: "pro" } } });
    expect((await form("workspace_id=42&session_id=bad%2Fid")).json).toMatchObject({ success: false, error: { code: "VALIDATION_ERROR" } });
    expect((await form("workspace_id=42&__proto__%5Bx%5D=1")).status).toBe(400);
    expect((await form("workspace_id=43&session_id=x")).json.error.code).toBe("FORBIDDEN_WORKSPACE");
    // other types stay refused, naming both accepted ones
    const xml = await request(node.api, "POST", "/api/whatsapp/sessions/create", { rawBody: "<a/>", key: workspaceKey, headers: { ...headers, "content-type": "application/xml" } });
    expect([xml.status, xml.json.error.code, xml.json.message]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE", expect.stringMatching(/x-www-form-urlencoded/)]);
    // the v1 API stays JSON only
    expect((await request(node.api, "POST", "/api/v1/workspaces/42/sessions", { rawBody: "sessionId=x", key: workspaceKey, headers: { "content-type": "application/x-www-form-urlencoded" } })).status).toBe(415);

    // integer ids in, integers out; an integer session id too
    const numeric = await node.call("POST", "/api/whatsapp/sessions/create", { body: { workspace_id: 77, session_id: 5, account_id: 3, start: false } });
    expect(numeric.status).toBe(201);
    expect(numeric.json).toMatchObject({ success: true, workspace_id: 77, session_id: 5, account_id: 3 });
    expect((await node.call("DELETE", "/api/whatsapp/sessions/5")).json).toMatchObject({ success: true, session_id: "5", workspace_id: "77", deleted: true });
    expect((await laravel(workspaceKey).deleteSession("from-form")).json).toMatchObject({ success: true, deleted: true });
  });

  it("keeps workspace keys and the index of compat-created sessions in Redis across a SIGKILL", async () => {
    const laravel = new LaravelWhatsAppClient(node.api, workspaceKey);
    const before = await laravel.createSession(WORKSPACE, "after-restart", 1);
    expect(before.status).toBe(201);
    await node.restart();
    const listed = await request(node.api, "GET", "/api/v1/workspaces/42/sessions", { key: workspaceKey });
    expect(listed.status).toBe(200);
    expect(listed.json.map((s: any) => s.sessionId)).toContain("after-restart");
    expect((await laravel.deleteSession("after-restart")).json).toMatchObject({ success: true, deleted: true });
  }, 60000);
});

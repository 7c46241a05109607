// Webhooks in embedded mode (one process, the memory event log) through the REST API: every
// incoming message of the run reaches the receiver (the simulated network's ledger is the oracle),
// filtered by type and signed; dead letters are listed and replayed with their error codes.
import { promises as fs } from "node:fs";
import { request } from "../helpers/http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const KEY = "webhooks-embedded-admin-key-0123456789";
const ME = "15550006666";
const CONTACT = "15550006667";

let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let node: NodeProcess;
let receiver: WebhookReceiver;
let api: string;

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers });

beforeAll(async () => {
  dataDir = await tempDir("wh-embedded");
  sim = await startSimProcess();
  receiver = await new WebhookReceiver().start();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = new NodeProcess("wafleet", "dist/bin/wafleet.js", { DATA_DIR: dataDir, API_PORT: String(port), API_HOST: "127.0.0.1", API_KEYS: KEY, WA_SIM_URL: sim.url, WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "50", WEBHOOK_BACKOFF_MAX_MS: "200", WEBHOOK_MAX_ATTEMPTS: "3" });
  await node.waitForOutput(/API listening on/, 30000);
}, 60000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await receiver?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("webhooks in embedded mode", () => {
  it("delivers every incoming message, only the types asked for, signed", async () => {
    expect((await call("GET", "/workspaces/acme/webhook")).json.error.code).toBe("WEBHOOK_NOT_FOUND");
    const set = await call("PUT", "/workspaces/acme/webhook", { url: receiver.url, events: ["wa.message.received"], headers: { "X-Tenant": "acme" } });
    expect(set.status).toBe(200);
    receiver.setSecret(set.json.secret);
    expect((await call("GET", "/workspaces/acme/webhook")).json).toMatchObject({ url: receiver.url, events: ["wa.message.received"], secretSet: true });

    expect((await call("POST", "/workspaces/acme/sessions", { sessionId: "main" })).status).toBe(201);
    const qr = await waitFor("the QR", async () => {
      const r = await call("GET", "/workspaces/acme/sessions/main/qr", undefined, { accept: "application/json" });
      return r.status === 200 ? (r.json.qr as string) : undefined;
    }, 30000, 100);
    expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone: ME } })).status).toBe(200);
    await waitFor("WORKING", async () => (await call("GET", "/workspaces/acme/sessions/main")).json.status === "WORKING", 30000, 100);

    for (let i = 0; i < 25; i++) expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body: `hi-${i}` } })).status).toBe(202);
    const incoming: string[] = (await request(sim.url, "GET", "/sim/ledger")).json.incoming.filter((m: any) => m.toPhone === ME).map((m: any) => m.body);
    expect(incoming).toHaveLength(25);
    await receiver.until("every incoming message", () => incoming.every((b) => receiver.requests.some((r) => r.body?.message?.body === b && r.status === 200)), 30000);
    expect(new Set(receiver.requests.map((r) => r.body.event))).toEqual(new Set(["wa.message.received"]));
    expect(receiver.requests.every((r) => r.verified && r.headers["x-tenant"] === "acme")).toBe(true);
    // one session, healthy receiver: in the order the network delivered them
    expect(receiver.requests.map((r) => r.body.message.body)).toEqual(incoming);
  }, 90000);

  it("dead-letters a 410, replays it after the fix, and names its errors", async () => {
    receiver.status = () => 410;
    expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body: "to a gone receiver" } })).status).toBe(202);
    const failed = await waitFor("the dead letter", async () => {
      const r = await call("GET", "/workspaces/acme/webhook/deliveries?status=failed");
      return r.json.length ? r.json : undefined;
    }, 20000, 50);
    expect(failed).toEqual([expect.objectContaining({ status: "failed", attempts: 1, lastStatus: 410, event: "wa.message.received" })]);
    const id = failed[0].id;
    receiver.status = () => 200;
    const retried = await call("POST", `/workspaces/acme/webhook/deliveries/${id}/retry`);
    expect([retried.status, retried.json]).toEqual([202, { id, status: "pending", replays: 1 }]);
    await receiver.until("the replay", () => receiver.requests.some((r) => r.id === id && r.status === 200), 20000);
    expect((await call("POST", `/workspaces/acme/webhook/deliveries/${id}/retry`)).json.error.code).toBe("DELIVERY_NOT_FAILED");
    expect((await call("POST", "/workspaces/acme/webhook/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV/retry")).json.error.code).toBe("DELIVERY_NOT_FOUND");
    const delivered = await call("GET", "/workspaces/acme/webhook/deliveries?status=delivered&limit=500");
    expect(delivered.json.find((r: any) => r.id === id)).toMatchObject({ status: "delivered", replays: 1 });
    expect((await call("PUT", "/workspaces/acme/webhook", { url: "gopher://example.com/" })).status).toBe(400);
    expect((await call("DELETE", "/workspaces/acme/webhook")).status).toBe(204);
    expect((await call("DELETE", "/workspaces/acme/webhook")).json.error.code).toBe("WEBHOOK_NOT_FOUND");
  }, 60000);
});

// Webhooks end to end in cluster mode, as real processes: nats-server -js, redis-server, the
// simulated WhatsApp network, a session node (with the gateway) and a webhooks node. Contacts
// message the linked account; the network's ledger is the oracle: every incoming message of the run
// must reach the receiver, signed, even though the webhooks process is SIGKILLed mid-stream and NATS
// restarts mid-stream.
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "../helpers/http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";
import { startNats, startRedis, type NatsServer, type RedisServer } from "../helpers/servers";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const KEY = "webhooks-e2e-admin-key-0123456789";
const ME = "15550007777";
const CONTACTS = ["15550008881", "15550008882", "15550008883"];

let root: string;
let nats: NatsServer;
let redis: RedisServer;
let sim: { proc: NodeProcess; url: string };
let sessionNode: NodeProcess;
let webhooksNode: NodeProcess | undefined;
let receiver: WebhookReceiver;
let api: string;

function env(node: string, extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ID: node,
    TRANSPORTER: nats.url,
    REDIS_URL: redis.url,
    DATA_DIR: path.join(root, node),
    SESSIONS_DIR: path.join(root, "sessions"),
    WA_ENGINE: "simulator",
    WA_SIM_URL: sim.url,
    API_KEYS: KEY,
    LEASE_TTL_MS: "3000",
    TAKEOVER_MARGIN_MS: "1500",
    ...extra,
  };
}

async function startWebhooksNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("webhooks", "dist/bin/wafleet.js", env("wh-1", { SERVICES: "webhooks", WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "100", WEBHOOK_BACKOFF_MAX_MS: "500", WEBHOOK_MAX_ATTEMPTS: "40", WEBHOOK_ACK_WAIT_MS: "1000" }));
  await proc.waitForOutput(/wafleet cluster node .* up/, 30000);
  return proc;
}

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers });
const sent: string[] = [];

async function contactsSend(n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const body = `${tag}-${i}-${Date.now()}`;
    const r = await request(sim.url, "POST", `/sim/contacts/${CONTACTS[i % CONTACTS.length]}/send`, { body: { to: ME, body } });
    if (r.status !== 202) throw new Error(`send failed: ${r.status} ${r.body.toString()}`);
    sent.push(body);
  }
}

const receivedBodies = () => new Set(receiver.requests.filter((r) => r.status === 200 && r.body?.event === "wa.message.received").map((r) => r.body.message.body));

beforeAll(async () => {
  root = await tempDir("wh-e2e");
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  sim = await startSimProcess({ WA_SIM_STATE_FILE: path.join(root, "sim-state.json") });
  receiver = await new WebhookReceiver().start();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  sessionNode = new NodeProcess("session", "dist/bin/wafleet.js", env("session-1", { SERVICES: "sessions,api", API_PORT: String(port), API_HOST: "127.0.0.1" }));
  [webhooksNode] = await Promise.all([startWebhooksNode(), sessionNode.waitForOutput(/API listening on/, 30000)]);
}, 90000);

afterAll(async () => {
  await webhooksNode?.kill("SIGKILL");
  await sessionNode?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await receiver?.close();
  await nats?.destroy();
  await redis?.destroy();
  await fs.rm(root, { recursive: true, force: true });
});

describe("webhooks in a cluster of real processes", () => {
  it("delivers every incoming message of the run despite a SIGKILLed webhooks node and a NATS restart", async () => {
    // until the gateway has discovered the webhooks node (503 SERVICE_UNAVAILABLE before that)
    const set = await waitFor("the webhooks service behind the gateway", async () => {
      const r = await call("PUT", "/workspaces/acme/webhook", { url: receiver.url, events: ["wa.message.received", "wa.session.ready"] });
      return r.status === 200 ? r : undefined;
    }, 20000, 100);
    expect(set.json.secret).toMatch(/^whsec_/);
    receiver.setSecret(set.json.secret);

    // link a session through the gateway
    expect((await call("POST", "/workspaces/acme/sessions", { sessionId: "main" })).status).toBe(201);
    const qr = await waitFor("the QR", async () => {
      const r = await call("GET", "/workspaces/acme/sessions/main/qr", undefined, { accept: "application/json" });
      return r.status === 200 ? (r.json.qr as string) : undefined;
    }, 30000, 100);
    expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone: ME } })).status).toBe(200);
    await receiver.until("wa.session.ready", () => receiver.requests.some((r) => r.body?.event === "wa.session.ready"), 30000);

    // phase 1: messages flow, then the webhooks process dies without warning
    await contactsSend(30, "before-kill");
    await receiver.until("a third of them", () => receivedBodies().size >= 10, 30000);
    // the kill lands while a delivery is in flight (taken by the receiver, not answered yet)
    receiver.hold();
    await receiver.until("a delivery in flight", () => receiver.parkedCount > 0, 30000);
    await webhooksNode!.kill("SIGKILL");
    receiver.release(503); // the answer that never reached the dead process
    await contactsSend(30, "while-dead");
    webhooksNode = await startWebhooksNode();

    // phase 2: NATS restarts while contacts keep writing
    await contactsSend(20, "before-restart");
    await nats.stop();
    await contactsSend(20, "nats-down");
    await nats.start();
    await contactsSend(20, "after-restart");

    // the oracle: every message the network holds for the account reached the receiver
    const ledger = (await request(sim.url, "GET", "/sim/ledger")).json;
    const incoming: string[] = ledger.incoming.filter((m: any) => m.toPhone === ME).map((m: any) => m.body);
    expect(new Set(incoming)).toEqual(new Set(sent));
    await receiver.until("every incoming message", () => {
      const got = receivedBodies();
      return incoming.every((b) => got.has(b));
    }, 90000);

    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    // the filter: only the two asked-for types
    expect(new Set(receiver.requests.map((r) => r.body.event))).toEqual(new Set(["wa.message.received", "wa.session.ready"]));
    // at-least-once: any repeat has the id and body of the first, so the receiver can drop it
    const first = new Map<string, string>();
    for (const r of receiver.requests) {
      if (first.has(r.id)) expect(r.raw).toBe(first.get(r.id));
      else first.set(r.id, r.raw);
    }
    const ids = receiver.requests.filter((r) => r.body.event === "wa.message.received").map((r) => r.id);
    expect(new Set(ids).size).toBe(new Set(incoming).size);
    expect(((await request(sim.url, "GET", "/sim/stats")).json).conflicts).toBe(0);
  }, 180000);

  it("lists, refuses and replays dead letters through the gateway", async () => {
    receiver.status = ({ body }) => (body?.message?.body?.startsWith("gone") ? 410 : 200);
    await contactsSend(1, "gone");
    const failed = await waitFor("the dead letter", async () => {
      const r = await call("GET", "/workspaces/acme/webhook/deliveries?status=failed&limit=10");
      return r.status === 200 && r.json.length ? r.json : undefined;
    }, 30000, 100);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ status: "failed", lastStatus: 410, event: "wa.message.received" });
    receiver.status = () => 200;
    const retried = await call("POST", `/workspaces/acme/webhook/deliveries/${failed[0].id}/retry`);
    expect(retried.status).toBe(202);
    await receiver.until("the replayed delivery", () => receiver.requests.some((r) => r.id === failed[0].id && r.status === 200), 30000);
    expect((await call("POST", "/workspaces/acme/webhook/deliveries/NOT-A-ULID/retry")).status).toBe(400);
    const unknown = await call("POST", "/workspaces/acme/webhook/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV/retry");
    expect([unknown.status, unknown.json.error.code]).toEqual([404, "DELIVERY_NOT_FOUND"]);
    const bad = await call("PUT", "/workspaces/acme/webhook", { url: "file:///etc/passwd" });
    expect(bad.status).toBe(400);
    expect((await call("DELETE", "/workspaces/acme/webhook")).status).toBe(204);
    const gone = await call("GET", "/workspaces/acme/webhook");
    expect([gone.status, gone.json.error.code]).toEqual([404, "WEBHOOK_NOT_FOUND"]);
  }, 60000);
});

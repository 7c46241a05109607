// "Webhooks that lose nothing" in the default (embedded) mode: a real embedded wafleet is killed
// with SIGKILL and stopped with SIGTERM; its webhook settings, delivery records and the events
// not yet delivered (the receiver was down) are in DATA_DIR and go out after the restart.
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "../helpers/http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const KEY = "webhooks-restart-admin-key-0123456789";
const ME = "15550008881";
const CONTACT = "15550008882";

let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let node: NodeProcess | undefined;
let receiver: WebhookReceiver;
let port: number;
let api: string;

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers });

async function startNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("wafleet", "dist/bin/wafleet.js", {
    DATA_DIR: dataDir,
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: KEY,
    WA_SIM_URL: sim.url,
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_BACKOFF_MS: "100",
    WEBHOOK_BACKOFF_MAX_MS: "500",
    WEBHOOK_MAX_ATTEMPTS: "50",
  });
  await proc.waitForOutput(/API listening on/, 30000);
  return proc;
}

async function sendIncoming(bodies: string[]): Promise<void> {
  for (const body of bodies) expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body } })).status).toBe(202);
}

/** Waits until each message has a pending delivery record: logged, tried, waiting for the receiver. */
async function pendingFor(bodies: string[]): Promise<void> {
  await waitFor(`${bodies.length} pending deliveries`, async () => ((await call("GET", "/workspaces/acme/webhook/deliveries?status=pending&limit=500")).json as any[]).length === bodies.length, 30000, 100);
}

const deliveredBodies = () => new Set(receiver.requests.filter((r) => r.status === 200 && r.verified).map((r) => r.body?.message?.body));

beforeAll(async () => {
  dataDir = await tempDir("wh-restart");
  sim = await startSimProcess();
  receiver = await new WebhookReceiver().start();
  port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = await startNode();
}, 60000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await receiver?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("embedded webhooks across kill -9 and SIGTERM", () => {
  it("keeps the webhook settings and the delivery records after a kill -9", async () => {
    const set = await call("PUT", "/workspaces/acme/webhook", { url: receiver.url, events: ["wa.message.received"] });
    expect(set.status).toBe(200);
    receiver.setSecret(set.json.secret);
    expect((await call("POST", "/workspaces/acme/sessions", { sessionId: "main" })).status).toBe(201);
    const qr = await waitFor("the QR", async () => {
      const r = await call("GET", "/workspaces/acme/sessions/main/qr", undefined, { accept: "application/json" });
      return r.status === 200 ? (r.json.qr as string) : undefined;
    }, 30000, 100);
    expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone: ME } })).status).toBe(200);
    await waitFor("WORKING", async () => (await call("GET", "/workspaces/acme/sessions/main")).json.status === "WORKING", 30000, 100);

    await sendIncoming(["first"]);
    await receiver.until("the first message", () => deliveredBodies().has("first"));
    receiver.status = () => 410;
    await sendIncoming(["gone"]);
    const dead = await waitFor("the dead letter", async () => {
      const r = await call("GET", "/workspaces/acme/webhook/deliveries?status=failed");
      return r.json.length ? r.json[0] : undefined;
    }, 20000, 50);
    receiver.status = () => 200;
    const before = (await call("GET", "/workspaces/acme/webhook")).json;
    // the API shows a record from memory while its write to disk may still run (the write is what a
    // caller of the store awaits): kill only once the dead letter is on disk, as the test claims
    await waitFor("the dead letter on disk", async () => {
      const saved = JSON.parse(await fs.readFile(path.join(dataDir, "webhooks", "deliveries.json"), "utf8").catch(() => "{}"));
      return (saved.records ?? []).some((r: any) => r.id === dead.id && r.status === "failed");
    }, 20000, 50);

    await node!.kill("SIGKILL");
    node = await startNode();
    expect((await call("GET", "/workspaces/acme/webhook")).json).toEqual(before);
    const failed = (await call("GET", "/workspaces/acme/webhook/deliveries?status=failed")).json;
    expect(failed).toEqual([expect.objectContaining({ id: dead.id, status: "failed", lastStatus: 410 })]);
    // the secret survived too: a replay after the restart is signed with it and verifies
    expect((await call("POST", `/workspaces/acme/webhook/deliveries/${dead.id}/retry`)).status).toBe(202);
    await receiver.until("the replayed dead letter", () => receiver.requests.some((r) => r.id === dead.id && r.status === 200 && r.verified));
    await waitFor("WORKING again", async () => (await call("GET", "/workspaces/acme/sessions/main")).json.status === "WORKING", 30000, 100);
    await sendIncoming(["after-restart"]);
    await receiver.until("a message after the restart", () => deliveredBodies().has("after-restart"));
  }, 120000);

  it("delivers the events logged while the receiver was down after a kill -9", async () => {
    await receiver.down();
    const bodies = Array.from({ length: 8 }, (_, i) => `while-down-kill-${i}`);
    await sendIncoming(bodies);
    await pendingFor(bodies);
    await node!.kill("SIGKILL");
    await receiver.up();
    node = await startNode();
    await receiver.until("every message logged before the kill -9", () => bodies.every((b) => deliveredBodies().has(b)), 60000);
    await waitFor("no pending delivery left", async () => ((await call("GET", "/workspaces/acme/webhook/deliveries?status=pending")).json as any[]).length === 0, 20000, 100);
  }, 120000);

  it("delivers the events logged while the receiver was down after a SIGTERM", async () => {
    await waitFor("WORKING", async () => (await call("GET", "/workspaces/acme/sessions/main")).json.status === "WORKING", 30000, 100);
    await receiver.down();
    const bodies = Array.from({ length: 8 }, (_, i) => `while-down-term-${i}`);
    await sendIncoming(bodies);
    await pendingFor(bodies);
    await node!.kill("SIGTERM");
    await receiver.up();
    node = await startNode();
    await receiver.until("every message logged before the SIGTERM", () => bodies.every((b) => deliveredBodies().has(b)), 60000);
    // every incoming message of the run reached the receiver (the network's ledger is the oracle)
    const incoming: string[] = (await request(sim.url, "GET", "/sim/ledger")).json.incoming.filter((m: any) => m.toPhone === ME).map((m: any) => m.body);
    const got = deliveredBodies();
    expect(incoming.filter((b) => b !== "gone" && !got.has(b))).toEqual([]);
  }, 120000);
});

// Exactly once on the real engine (whatsapp-web.js in Chromium on the fake WhatsApp Web page, a
// real node process): WhatsApp Web acknowledges an incoming message to WhatsApp as soon as the
// page stored it. A node frozen and then killed in that gap (the page acked, the event never became
// durable) must still deliver the message, once: the restarted node catches up from the chat's
// history past its watermark, and the event id derives from the message id, so a message delivered
// twice is the same webhook-id, never a second message. And a send whose owner died mid-send,
// retried under its Idempotency-Key, reaches the contact once: whatsapp-web.js picks message ids, so
// the engine keeps an intent per key and finds the earlier copy among the chat's own messages.
import { promises as fs } from "node:fs";
import path from "node:path";
import { sweepOrphanChromium } from "../../lib/engines/wwebjs/chromium";
import { CHROME_PATH, expectNoChromiumUnder } from "../helpers/chromium";
import { request } from "../helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const KEY = "e2e-exactly-once-admin-key-0123456789";
const ME = "15550007777";
const CONTACT = "4915100000077";

let dataDir: string;
let sim: TestSim;
let node: NodeProcess | undefined;
let api: string;
let port: number;
const receiver = new WebhookReceiver();

async function startNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("wafleet-wwebjs", "dist/bin/wafleet.js", {
    DATA_DIR: dataDir,
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: KEY,
    WA_ENGINE: "wwebjs",
    WA_SIM_URL: sim.url,
    CHROME_PATH,
    LAUNCH_STAGGER_MS: "0",
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_BACKOFF_MS: "50",
    WEBHOOK_BACKOFF_MAX_MS: "200",
    // the page watchdog's deadline is half the lease TTL: the page keeps WhatsApp connected (and
    // acknowledging) for 10 s after the node froze
    LEASE_TTL_MS: "20000",
  });
  await proc.waitForOutput(/API listening on/, 30000);
  await waitFor("healthz", async () => (await request(api, "GET", "/healthz")).status === 200);
  return proc;
}

const call = (method: string, p: string, body?: unknown) => request(api, method, `/api/v1${p}`, { key: KEY, body });
const session = async () => (await call("GET", "/workspaces/acme/sessions/main")).json;
/** Distinct webhook deliveries (by webhook-id) of the message with this network id. */
const deliveriesOf = (networkId: string) => new Set(receiver.requests.filter((r) => r.body?.message?.id?.endsWith(`_${networkId}`)).map((r) => r.id));

beforeAll(async () => {
  dataDir = await tempDir("e2e-exactly-once");
  sim = await startTestSim();
  await receiver.start();
  port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = await startNode();
}, 60000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sweepOrphanChromium(path.join(dataDir, "sessions"));
  await expectNoChromiumUnder(dataDir);
  await receiver.close();
  await sim?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("an incoming message acknowledged by WhatsApp Web before its event was durable", () => {
  it("reaches the webhook exactly once after the node is frozen and killed in that gap", async () => {
    expect((await call("PUT", "/workspaces/acme/webhook", { url: receiver.url, events: ["wa.message.received"] })).status).toBe(200);
    expect((await call("POST", "/workspaces/acme/sessions", { sessionId: "main" })).status).toBe(201);
    await waitFor("a QR", async () => (await session()).status === "SCAN_QR_CODE", 30000);
    const qr = await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY, headers: { accept: "application/json" } });
    expect((await sim.post("/sim/link", { qr: qr.json.qr, phone: ME })).status).toBe(200);
    await waitFor("WORKING", async () => (await session()).status === "WORKING", 30000);
    const marks = path.join(dataDir, "sessions", "workspace_acme", "session_main", "auth", "wafleet-watermarks.json");
    await waitFor("the watermarks to start", () => fs.access(marks).then(() => true, () => false));

    const before = (await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ME, body: "before the freeze" })).json.id;
    await waitFor("the first message at the webhook", () => deliveriesOf(before).size === 1, 20000);

    // frozen: the node cannot make events durable, but its Chromium page still receives and acks
    process.kill(node!.pid, "SIGSTOP");
    let gap: string;
    try {
      gap = (await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ME, body: "in the gap" })).json.id;
      await waitFor("WhatsApp to have it acknowledged", async () => (await sim.get("/sim/ledger")).json.incoming.some((m: any) => m.id === gap && m.acked), 8000, 50);
    } finally {
      await node!.kill("SIGKILL");
    }
    expect((await sim.get("/sim/stats")).json.queued).toBe(0); // WhatsApp will not send it again
    expect(deliveriesOf(gap).size).toBe(0);

    node = await startNode();
    await waitFor("WORKING again", async () => (await session())?.status === "WORKING", 45000, 200);
    await waitFor("the message from the gap at the webhook", () => deliveriesOf(gap).size === 1, 30000);
    // a later message flows as usual, and nothing arrives twice under a new id
    const after = (await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ME, body: "after the restart" })).json.id;
    await waitFor("the next message at the webhook", () => deliveriesOf(after).size === 1, 20000);
    expect([deliveriesOf(before).size, deliveriesOf(gap).size, deliveriesOf(after).size]).toEqual([1, 1, 1]);
    expect((await sim.get("/sim/stats")).json).toMatchObject({ conflicts: 0, queued: 0 });
  }, 180000);
});

describe("a send under an Idempotency-Key whose owner died mid-send", () => {
  it("is not sent twice when retried on the restarted node", async () => {
    await waitFor("WORKING", async () => (await session())?.status === "WORKING", 30000);
    const intents = path.join(dataDir, "sessions", "workspace_acme", "session_main", "auth", "wafleet-send-intents");
    const send = () => request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text: "order 42 confirmed" }, headers: { "idempotency-key": "order-42" } });
    const copies = async () => (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages.filter((m: any) => m.body === "order 42 confirmed").length;

    // WhatsApp slow to answer: the page has sent, the node waits for the ack, and dies
    await sim.post("/sim/faults", { latencyMs: 2500 });
    const first = send().catch(() => undefined);
    try {
      await waitFor("the send's intent on disk", async () => (await fs.readdir(intents).catch(() => [])).length === 1, 10000, 20);
      await waitFor("the page to have sent it", async () => (await sim.get("/sim/ledger")).json.outgoing.some((m: any) => m.body === "order 42 confirmed"), 10000, 20);
      await node!.kill("SIGKILL");
    } finally {
      await sim.post("/sim/faults", { latencyMs: 0 });
    }
    await first;
    await waitFor("the contact to have it", async () => (await copies()) === 1, 10000);

    node = await startNode();
    await waitFor("WORKING again", async () => (await session())?.status === "WORKING", 45000, 200);
    const retried = await send();
    expect(retried.status).toBe(201);
    // a later message arrives after any resend would have: the contact still has one copy
    expect((await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text: "and a next one" } })).status).toBe(201);
    await waitFor("the next one", async () => (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages.some((m: any) => m.body === "and a next one"), 10000);
    expect(await copies()).toBe(1);
    const sent = (await sim.get("/sim/ledger")).json.outgoing.find((m: any) => m.body === "order 42 confirmed");
    expect(retried.json.id.endsWith(`_${sent.id}`)).toBe(true);
  }, 180000);
});

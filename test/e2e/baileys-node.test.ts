// The real node (`dist/bin/wafleet.js`, WA_ENGINE=baileys) against the simulated network's fake
// WhatsApp server: link by QR, send and receive, then SIGKILL the node and start it again: the session
// is WORKING from its auth/baileys folder without a new QR, and nothing was lost or duplicated.
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "../helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const KEY = "e2e-baileys-admin-key-0123456789";
const ME = "15550005555";
const CONTACT = "4915100000002";

let dataDir: string;
let sim: TestSim;
let node: NodeProcess | undefined;
let api: string;
let port: number;

async function startNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("wafleet-baileys", "dist/bin/wafleet.js", { DATA_DIR: dataDir, API_PORT: String(port), API_HOST: "127.0.0.1", API_KEYS: KEY, WA_ENGINE: "baileys", WA_SIM_URL: sim.url });
  await proc.waitForOutput(/API listening on/, 30000);
  // started as `npm start` and the container start it: Baileys' per-socket AsyncLocalStorage costs O(1) per promise
  expect(proc.output).toContain("AsyncLocalStorage: AsyncContextFrame");
  await waitFor("healthz", async () => (await request(api, "GET", "/healthz")).status === 200);
  return proc;
}

const session = async () => (await request(api, "GET", "/api/v1/workspaces/acme/sessions/main", { key: KEY })).json;
const stats = async () => (await sim.get("/sim/stats")).json;

beforeAll(async () => {
  dataDir = await tempDir("e2e-baileys");
  sim = await startTestSim();
  port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = await startNode();
}, 60000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("a baileys node", () => {
  it("links, sends, receives, and after SIGKILL comes back WORKING without a QR", async () => {
    const created = await request(api, "POST", "/api/v1/workspaces/acme/sessions", { key: KEY, body: { sessionId: "main" } });
    expect(created.status).toBe(201);
    await waitFor("a QR", async () => (await session()).status === "SCAN_QR_CODE", 30000);
    const qr = await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY, headers: { accept: "application/json" } });
    expect(qr.status).toBe(200);
    expect((await sim.post("/sim/link", { qr: qr.json.qr, phone: ME })).status).toBe(200);
    await waitFor("WORKING", async () => (await session()).status === "WORKING", 30000);

    const sent = await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text: "before the kill" } });
    expect(sent.status).toBe(201);
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ME, body: "a reply" });
    await waitFor("the reply stored and acked", async () => (await stats()).queued === 0);
    // the auth state is wafleet's own store under the session's auth folder
    const authDir = path.join(dataDir, "sessions", "workspace_acme", "session_main", "auth", "baileys");
    expect(await fs.readdir(authDir)).toEqual(expect.arrayContaining(["creds.json", "keys-pre-key.json"]));

    await node!.kill("SIGKILL");
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ME, body: "while the node was dead" });
    node = await startNode();
    const seen: string[] = [];
    await waitFor("WORKING again", async () => {
      const s = await session();
      seen.push(s.status);
      return s.status === "WORKING";
    }, 30000);
    expect(seen).not.toContain("SCAN_QR_CODE");
    await waitFor("the queued message delivered", async () => (await stats()).queued === 0);
    const again = await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text: "after the restart" } });
    expect(again.status).toBe(201);
    const inbox = (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages.map((m: { body: string }) => m.body);
    expect(inbox).toEqual(["before the kill", "after the restart"]);
    expect(await stats()).toMatchObject({ conflicts: 0, duplicates: 0, devices: 1, sent: 2, delivered: 4 });
  });

  it("links a second session by pairing code through the API; the QR route then answers QR_NOT_AVAILABLE", async () => {
    const PHONE = "15550006666";
    const S = "/api/v1/workspaces/acme/sessions";
    expect((await request(api, "POST", S, { key: KEY, body: { sessionId: "bycode" } })).status).toBe(201);
    const status = async () => (await request(api, "GET", `${S}/bycode`, { key: KEY })).json.status;
    await waitFor("a QR", async () => (await status()) === "SCAN_QR_CODE", 30000);
    const res = await request(api, "POST", `${S}/bycode/pairing-code`, { key: KEY, body: { phoneNumber: `+${PHONE}` } });
    expect(res.status).toBe(200);
    expect(res.json.code).toMatch(/^[A-Z0-9]{8}$/);
    const qr = await request(api, "GET", `${S}/bycode/qr`, { key: KEY, headers: { accept: "application/json" } });
    expect([qr.status, qr.json.error?.code]).toEqual([409, "QR_NOT_AVAILABLE"]);
    // typed on the phone as the dashboard shows it (ABCD-EFGH)
    const typed = `${res.json.code.slice(0, 4)}-${res.json.code.slice(4)}`;
    expect((await sim.post("/sim/link", { code: typed, phone: PHONE })).status).toBe(200);
    await waitFor("WORKING", async () => (await status()) === "WORKING", 30000);
    const me = (await request(api, "GET", `${S}/bycode`, { key: KEY })).json.me;
    expect(me).toMatchObject({ phone: PHONE });
  });
});

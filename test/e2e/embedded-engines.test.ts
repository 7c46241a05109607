// One embedded node (WA_ENGINE=simulator, its in-process network) running a session of each of two
// engines: `engine: "baileys"` at create runs the real Baileys client against the network's fake
// WhatsApp server beside a simulator session; after SIGKILL and a restart both are WORKING on their
// own engine again without a new QR.
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "../helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../helpers/processes";

const KEY = "e2e-engines-admin-key-0123456789";
let dataDir: string;
let node: NodeProcess | undefined;
let api: string;
let sim: string;
let ports: { api: number; sim: number };

async function startNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("wafleet-engines", "dist/bin/wafleet.js", { DATA_DIR: dataDir, API_PORT: String(ports.api), API_HOST: "127.0.0.1", API_KEYS: KEY, WA_ENGINE: "simulator", WA_ENGINES: "simulator,baileys", WA_SIM_PORT: String(ports.sim) });
  await proc.waitForOutput(/API listening on/, 30000);
  await waitFor("healthz", async () => (await request(api, "GET", "/healthz")).status === 200);
  return proc;
}

const session = async (id: string) => (await request(api, "GET", `/api/v1/workspaces/acme/sessions/${id}`, { key: KEY })).json;

beforeAll(async () => {
  dataDir = await tempDir("e2e-engines");
  ports = { api: await freePort(), sim: await freePort() };
  api = `http://127.0.0.1:${ports.api}`;
  sim = `http://127.0.0.1:${ports.sim}`;
  node = await startNode();
}, 60000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await fs.rm(dataDir, { recursive: true, force: true });
});

it("runs each session on the engine chosen at create, and both come back without a QR after SIGKILL", async () => {
  const phones: Record<string, string> = { plain: "15550006001", bly: "15550006002" };
  for (const [id, body] of [["plain", { sessionId: "plain" }], ["bly", { sessionId: "bly", engine: "baileys" }]] as const) {
    const created = await request(api, "POST", "/api/v1/workspaces/acme/sessions", { key: KEY, body });
    expect(created.status).toBe(201);
    expect(created.json.engine).toBe(id === "bly" ? "baileys" : "simulator");
    await waitFor(`a QR for ${id}`, async () => (await session(id)).status === "SCAN_QR_CODE", 30000);
    const qr = await request(api, "GET", `/api/v1/workspaces/acme/sessions/${id}/qr`, { key: KEY, headers: { accept: "application/json" } });
    // a Baileys QR is ref,noiseKey,identityKey,advSecret: four comma-separated parts
    if (id === "bly") expect(qr.json.qr.split(",").length).toBeGreaterThanOrEqual(4);
    expect((await request(sim, "POST", "/sim/link", { body: { qr: qr.json.qr, phone: phones[id] } })).status).toBe(200);
    await waitFor(`${id} WORKING`, async () => (await session(id)).status === "WORKING", 30000);
  }
  const meta = JSON.parse(await fs.readFile(path.join(dataDir, "sessions", "workspace_acme", "session_bly", "meta.json"), "utf8"));
  expect(meta.engine).toBe("baileys");
  await expect(fs.stat(path.join(dataDir, "sessions", "workspace_acme", "session_bly", "auth", "baileys", "creds.json"))).resolves.toBeTruthy();
  const devices = (await request(sim, "GET", "/sim/stats")).json.devices;

  await node!.kill("SIGKILL");
  node = await startNode();
  for (const id of ["plain", "bly"]) await waitFor(`${id} WORKING again`, async () => (await session(id)).status === "WORKING", 30000);
  expect((await session("bly")).engine).toBe("baileys");
  expect((await session("plain")).engine).toBe("simulator");
  const sent = await request(api, "POST", "/api/v1/workspaces/acme/sessions/bly/messages", { key: KEY, body: { to: "4915100000009", text: "after the restart" } });
  expect(sent.status).toBe(201);
  const stats = (await request(sim, "GET", "/sim/stats")).json;
  expect({ devices: stats.devices, conflicts: stats.conflicts }).toEqual({ devices, conflicts: 0 });
}, 120000);

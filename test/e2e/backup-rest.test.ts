// The backup admin routes through HTTP against the real embedded process: snapshot, list, read the
// manifest, verify, lose a workspace's folder, restore it, and find its session WORKING again with
// no new link; workspace keys are refused.
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "../helpers/http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";

jest.setTimeout(120_000);

const KEY = "backup-rest-admin-key-0123456789";
let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let node: NodeProcess;
let api: string;

const call = (method: string, p: string, body?: unknown, key = KEY) => request(api, method, `/api/v1${p}`, { key, body });

beforeAll(async () => {
  dataDir = await tempDir("backup-rest");
  sim = await startSimProcess();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = new NodeProcess("wafleet", "dist/bin/wafleet.js", {
    DATA_DIR: dataDir,
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: KEY,
    WA_SIM_URL: sim.url,
    BACKUP_TARGET: `file://${path.join(dataDir, "backups")}`,
  });
  await node.waitForOutput(/API listening on/);
}, 60_000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await fs.rm(dataDir, { recursive: true, force: true });
});

it("snapshots, lists, verifies and restores a workspace through REST", async () => {
  expect((await call("POST", "/workspaces/acme/sessions", { sessionId: "main" })).status).toBe(201);
  const qr = await waitFor("a QR", async () => {
    const r = await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY, headers: { accept: "application/json" } });
    return r.status === 200 ? r.json.qr : undefined;
  });
  expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone: "15550003333" } })).status).toBe(200);
  await waitFor("WORKING", async () => (await call("GET", "/workspaces/acme/sessions/main")).json?.status === "WORKING");

  const taken = await call("POST", "/backups");
  expect(taken.status).toBe(201);
  const snapshot = taken.json.snapshot as string;
  expect(taken.json.verified).toBe(true);

  const list = await call("GET", "/backups");
  expect(list.status).toBe(200);
  expect(list.json[0]).toMatchObject({ id: snapshot, complete: true });
  const manifest = await call("GET", `/backups/${snapshot}`);
  expect(manifest.status).toBe(200);
  expect(JSON.stringify(manifest.json)).toContain("acme");
  const verified = await call("POST", `/backups/${snapshot}/verify`);
  expect(verified.status).toBe(200);
  expect(verified.json.ok).toBe(true);

  // a workspace key reaches none of it
  const wk = await call("POST", "/workspaces/acme/keys", { label: "tenant" });
  expect(wk.status).toBe(201);
  expect((await call("GET", "/backups", undefined, wk.json.key)).json.error.code).toBe("FORBIDDEN");
  expect((await call("GET", "/backups/not-a-snapshot")).status).toBe(400);
  expect((await call("GET", "/backups/20200101T000000000Z-abcd")).status).toBe(404);

  // the workspace's folder is lost
  const devicesBefore = (await request(sim.url, "GET", "/sim/stats")).json.devices;
  await fs.rm(path.join(dataDir, "sessions", "workspace_acme"), { recursive: true, force: true });
  const restored = await call("POST", `/backups/${snapshot}/restore`, { workspaceId: "acme" });
  expect(restored.status).toBe(200);
  expect(restored.json.workspaces).toEqual([{ workspaceId: "acme", sessions: [{ sessionId: "main", outcome: "restarted" }] }]);
  await waitFor("WORKING after the restore", async () => (await call("GET", "/workspaces/acme/sessions/main")).json?.status === "WORKING", 30_000);
  const stats = (await request(sim.url, "GET", "/sim/stats")).json;
  expect(stats.conflicts).toBe(0);
  expect(stats.devices).toBe(devicesBefore);
});

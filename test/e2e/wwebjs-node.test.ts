// The real node (`dist/bin/wafleet.js`, WA_ENGINE=wwebjs) with real Chromium on the fake WhatsApp
// Web page: SIGKILL the node under a WORKING session, and its browsers stay behind as orphans; the
// restarted node sweeps them, and the session is WORKING again from LocalAuth without a new link.
// And SIGSTOP of the node alone: the page watchdog cuts WhatsApp Web off while Chromium runs on.
import { promises as fs } from "node:fs";
import path from "node:path";
import { readProc, sweepOrphanChromium } from "../../lib/engines/wwebjs/chromium";
import { CHROME_PATH, chromiumUnder, expectNoChromiumUnder } from "../helpers/chromium";
import { request } from "../helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const KEY = "e2e-wwebjs-admin-key-0123456789";
const ME = "15550004444";
const CONTACT = "4915100000001";

let dataDir: string;
let sim: TestSim;
let node: NodeProcess | undefined;
let api: string;
let port: number;

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
    // the page watchdog's deadline is half the lease TTL: 2 s here
    LEASE_TTL_MS: "4000",
  });
  await proc.waitForOutput(/API listening on/, 30000);
  await waitFor("healthz", async () => (await request(api, "GET", "/healthz")).status === 200);
  return proc;
}

const session = async () => (await request(api, "GET", "/api/v1/workspaces/acme/sessions/main", { key: KEY })).json;

beforeAll(async () => {
  dataDir = await tempDir("e2e-wwebjs");
  sim = await startTestSim();
  port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = await startNode();
}, 60000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  // the browsers of the node killed last are orphans now: the same sweep a restarted node runs
  await sweepOrphanChromium(path.join(dataDir, "sessions"));
  await expectNoChromiumUnder(dataDir);
  await sim?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("a wwebjs node killed with SIGKILL", () => {
  it("leaves orphaned Chromium that the restarted node sweeps, and the session is WORKING again without a QR", async () => {
    const created = await request(api, "POST", "/api/v1/workspaces/acme/sessions", { key: KEY, body: { sessionId: "main" } });
    expect(created.status).toBe(201);
    await waitFor("a QR", async () => (await session()).status === "SCAN_QR_CODE", 30000);
    const qr = await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY, headers: { accept: "application/json" } });
    expect(qr.status).toBe(200);
    expect((await sim.post("/sim/link", { qr: qr.json.qr, phone: ME })).status).toBe(200);
    await waitFor("WORKING", async () => (await session()).status === "WORKING", 30000);
    const sent = await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text: "before the kill" } });
    expect(sent.status).toBe(201);

    const before = await chromiumUnder(dataDir);
    expect(before.length).toBeGreaterThan(1);
    await node!.kill("SIGKILL");
    // nothing ended them: they are orphans now, re-parented away from the dead node
    const orphans = (await Promise.all(before.map((pid) => readProc(pid)))).filter((p) => p !== undefined);
    expect(orphans.length).toBeGreaterThan(0);

    node = await startNode();
    expect(node.output).toMatch(/killed \d+ orphaned Chromium browsers/);
    await waitFor("the orphans gone", async () => (await Promise.all(before.map((pid) => readProc(pid)))).every((p) => p === undefined));

    // a QR would wait forever (nobody scans): WORKING proves LocalAuth brought the device back
    await waitFor("WORKING after the restart", async () => (await session())?.status === "WORKING", 45000);
    expect((await session()).me).toMatchObject({ phone: ME });
    const again = await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text: "after the restart" } });
    expect(again.status).toBe(201);

    // every Chromium process on the session folder belongs to the new node's browser
    const now = await chromiumUnder(dataDir);
    const infos = (await Promise.all(now.map((pid) => readProc(pid)))).filter((p) => p !== undefined);
    const mains = infos.filter((p) => !p.args.some((a) => a.startsWith("--type=")));
    expect(mains).toHaveLength(1);
    expect(mains[0].ppid).toBe(node.pid);
    expect((await sim.get("/sim/stats")).json).toMatchObject({ conflicts: 0, devices: 1, linkedConnections: 1 });
    expect((await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages.map((m: { body: string }) => m.body)).toEqual(["before the kill", "after the restart"]);
  }, 150000);
});

describe("a wwebjs node frozen without its browser", () => {
  it("loses WhatsApp within the page watchdog's deadline while Chromium runs on, and links again from LocalAuth when it resumes", async () => {
    await waitFor("WORKING", async () => (await session())?.status === "WORKING", 45000);
    const stats = async () => (await sim.get("/sim/stats")).json;
    expect(await stats()).toMatchObject({ linkedConnections: 1 });
    const browsers = async () => {
      const infos = (await Promise.all((await chromiumUnder(dataDir)).map((pid) => readProc(pid)))).filter((p) => p !== undefined);
      return infos.filter((p) => !p.args.some((a) => a.startsWith("--type="))).map((p) => p.pid);
    };
    const [browser] = await browsers();
    expect(browser).toBeDefined();

    // only the Node process: Chromium, its child, keeps running and WhatsApp Web keeps answering pings
    process.kill(node!.pid, "SIGSTOP");
    try {
      await waitFor("the page to cut its WhatsApp connection", async () => (await stats()).linkedConnections === 0, 15000, 100);
      expect(await readProc(browser!)).toBeDefined();
    } finally {
      process.kill(node!.pid, "SIGCONT");
    }

    // resumed: whichever of its timers runs first replaces the browser (the next heartbeat learns
    // that the page cut itself off, or the node's lease check fences it and restarts its sessions);
    // either way a fresh browser links from LocalAuth
    await waitFor("WORKING with a fresh browser", async () => (await session())?.status === "WORKING" && !(await browsers()).includes(browser!), 45000, 200);
    expect(node!.output).toMatch(/page cut WhatsApp Web off: no heartbeat|self-fencing: no lease renewal/);
    await waitFor("the cut-off browser gone", async () => (await readProc(browser!)) === undefined);
    // and the fresh page gets its beats: still connected well past the watchdog's deadline (2 s)
    await new Promise((r) => setTimeout(r, 5000));
    expect((await session()).status).toBe("WORKING");
    const sent = await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text: "after the freeze" } });
    expect(sent.status).toBe(201);
    expect(await stats()).toMatchObject({ conflicts: 0, devices: 1, linkedConnections: 1 });
  }, 120000);
});

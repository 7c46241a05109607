// The foundation's vertical slice through HTTP against the real process (embedded mode, simulator
// engine, the simulated network in its own process so its ledger survives the node's SIGKILL).
import { promises as fs } from "node:fs";
import path from "node:path";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";
import { openEventStream, request } from "../helpers/http";

const KEY = "e2e-admin-key-0123456789abcdef";
const ME = "15550001111";
const CONTACT = "15550002222";

let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let node: NodeProcess | undefined;
let api: string;
let port: number;

async function startNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("wafleet", "dist/bin/wafleet.js", {
    DATA_DIR: dataDir,
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: KEY,
    WA_SIM_URL: sim.url,
    LAUNCH_STAGGER_MS: "0",
  });
  await proc.waitForOutput(/API listening on/);
  await waitFor("healthz", async () => (await request(api, "GET", "/healthz")).status === 200);
  return proc;
}

const simGet = async (p: string) => (await request(sim.url, "GET", p)).json;
const simPost = async (p: string, body: unknown) => request(sim.url, "POST", p, { body });
const session = async (w: string, s: string) => (await request(api, "GET", `/api/v1/workspaces/${w}/sessions/${s}`, { key: KEY })).json;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      out.push(path.relative(dataDir, p));
      if (e.isDirectory()) await walk(p);
    }
  }
  await walk(dir);
  return out.sort();
}

beforeAll(async () => {
  dataDir = await tempDir("e2e");
  sim = await startSimProcess();
  port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = await startNode();
}, 60000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("embedded wafleet through HTTP", () => {
  it("refuses requests without a valid key", async () => {
    const none = await request(api, "GET", "/api/v1/workspaces/acme/sessions");
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe("UNAUTHORIZED");
    const forged = await request(api, "GET", "/api/v1/workspaces/acme/sessions", { key: `${KEY}x` });
    expect(forged.status).toBe(401);
    const viaHeader = await request(api, "GET", "/api/v1/workspaces/acme/sessions", { headers: { "x-api-key": KEY } });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.json).toEqual([]);
  });

  it("refuses a second process on the same DATA_DIR, naming the holder, and the first runs on", async () => {
    const second = new NodeProcess("wafleet-2", "dist/bin/wafleet.js", { DATA_DIR: dataDir, API_PORT: String(await freePort()), API_HOST: "127.0.0.1", API_KEYS: KEY, WA_SIM_URL: sim.url });
    expect(await second.waitExit()).toBe(73);
    expect(second.output).toContain("DATA_DIR_LOCKED");
    expect(second.output).toContain(`process ${node!.pid} on`);
    expect(node!.running).toBe(true);
    expect((await request(api, "GET", "/healthz")).status).toBe(200);
  });

  describe("rejects hostile ids with 400 and touches no file", () => {
    const longId = "x".repeat(65);
    // Every row has four cells: jest's it.each hands a shorter row the `done` callback.
    const cases: Array<[string, string, string, unknown]> = [
      ["dot-dot workspace", "GET", "/api/v1/workspaces/../sessions", undefined],
      ["encoded dot-dot workspace", "POST", "/api/v1/workspaces/%2e%2e/sessions", { sessionId: "ok" }],
      ["encoded slash in workspace", "POST", "/api/v1/workspaces/a%2Fb/sessions", { sessionId: "ok" }],
      ["65-character workspace", "POST", `/api/v1/workspaces/${longId}/sessions`, { sessionId: "ok" }],
      ["non-ASCII workspace", "POST", "/api/v1/workspaces/%C3%A9t%C3%A9/sessions", { sessionId: "ok" }],
      ["dot-dot session in body", "POST", "/api/v1/workspaces/acme/sessions", { sessionId: ".." }],
      ["traversal session in body", "POST", "/api/v1/workspaces/acme/sessions", { sessionId: "../../etc" }],
      ["slash session in body", "POST", "/api/v1/workspaces/acme/sessions", { sessionId: "a/b" }],
      ["empty session in body", "POST", "/api/v1/workspaces/acme/sessions", { sessionId: "" }],
      ["65-character session in body", "POST", "/api/v1/workspaces/acme/sessions", { sessionId: longId }],
      ["non-ASCII session in body", "POST", "/api/v1/workspaces/acme/sessions", { sessionId: "sesión" }],
      ["encoded dot-dot session in path", "POST", "/api/v1/workspaces/acme/sessions/%2e%2e/start", undefined],
      ["dot-dot session in path", "DELETE", "/api/v1/workspaces/acme/sessions/..", undefined],
      ["encoded slash session in path", "GET", "/api/v1/workspaces/acme/sessions/..%2F..%2Fetc", undefined],
      ["non-ASCII session in path", "GET", "/api/v1/workspaces/acme/sessions/%E2%80%AE", undefined],
    ];
    it.each(cases)("%s", async (_name, method, p, body) => {
      const before = await filesUnder(dataDir);
      const res = await request(api, method, p, { key: KEY, body });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_ERROR");
      expect(JSON.stringify(res.json)).not.toMatch(/\/tmp|node_modules|at .*\.js/);
      expect(await filesUnder(dataDir)).toEqual(before);
    });
  });

  it("links, sends exactly once, receives, survives SIGKILL without a new link, logs out and deletes", async () => {
    const events = await openEventStream(api, "/api/v1/workspaces/acme/events", KEY);
    expect(events.status).toBe(200);

    const created = await request(api, "POST", "/api/v1/workspaces/acme/sessions", { key: KEY, body: { sessionId: "main", accountId: "acct-1", metadata: { plan: "pro" } } });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe("/api/v1/workspaces/acme/sessions/main");
    expect(created.json).toMatchObject({ workspaceId: "acme", sessionId: "main", accountId: "acct-1", desired: "running" });
    expect((await request(api, "POST", "/api/v1/workspaces/acme/sessions", { key: KEY, body: { sessionId: "main" } })).status).toBe(409);

    await waitFor("SCAN_QR_CODE", async () => (await session("acme", "main")).status === "SCAN_QR_CODE");
    const png = await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY });
    expect(png.status).toBe(200);
    expect(png.headers["content-type"]).toMatch(/image\/png/);
    expect(png.body.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const qr = await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY, headers: { accept: "application/json" } });
    expect(qr.status).toBe(200);
    expect(typeof qr.json.qr).toBe("string");
    expect(qr.json.expiresAt).toBeGreaterThan(Date.now());

    const linked = await simPost("/sim/link", { qr: qr.json.qr, phone: ME });
    expect(linked.status).toBe(200);
    await waitFor("WORKING", async () => (await session("acme", "main")).status === "WORKING");
    expect((await session("acme", "main")).me).toMatchObject({ phone: ME, wid: `${ME}@c.us` });
    expect((await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY })).json.error.code).toBe("QR_NOT_AVAILABLE");

    const text = `hello ${Date.now()}`;
    const sent = await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/messages", { key: KEY, body: { to: CONTACT, text } });
    expect(sent.status).toBe(201);
    expect(sent.json).toMatchObject({ to: `${CONTACT}@c.us`, ack: "SERVER" });
    const inbox = (await simGet(`/sim/contacts/${CONTACT}/inbox`)).messages.filter((m: any) => m.body === text);
    expect(inbox).toHaveLength(1);
    expect(inbox[0].id).toBe(sent.json.id);

    const reply = `reply ${Date.now()}`;
    expect((await simPost(`/sim/contacts/${CONTACT}/send`, { to: ME, body: reply })).status).toBe(202);
    const received = await waitFor("wa.message.received", () => events.events.find((e) => e.event === "wa.message.received" && e.data.message.body === reply));
    expect(received.data).toMatchObject({ workspaceId: "acme", sessionId: "main", message: { from: `${CONTACT}@c.us`, fromMe: false } });
    expect(received.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(events.events.map((e) => e.event)).toEqual(expect.arrayContaining(["wa.session.status", "wa.session.qr", "wa.session.ready"]));
    events.close();

    // SIGKILL: no shutdown hook runs; the restarted node must restore from meta.json + auth
    const statsBefore = await simGet("/sim/stats");
    await node!.kill("SIGKILL");
    node = await startNode();
    await waitFor("WORKING after restart", async () => (await session("acme", "main"))?.status === "WORKING", 30000);
    const statsAfter = await simGet("/sim/stats");
    expect(statsAfter.conflicts).toBe(0);
    expect(statsAfter.devices).toBe(statsBefore.devices); // no new link
    expect((await simGet("/sim/ledger")).outgoing.filter((m: any) => m.body === text)).toHaveLength(1);

    const sessionDir = path.join(dataDir, "sessions", "workspace_acme", "session_main");
    await expect(fs.access(path.join(sessionDir, "auth"))).resolves.toBeUndefined();
    const loggedOut = await request(api, "POST", "/api/v1/workspaces/acme/sessions/main/logout", { key: KEY });
    expect(loggedOut.status).toBe(200);
    expect(loggedOut.json).toMatchObject({ status: "STOPPED", desired: "stopped" });
    await expect(fs.access(path.join(sessionDir, "auth"))).rejects.toThrow();
    expect((await simGet("/sim/stats")).devices).toBe(statsBefore.devices - 1);

    const deleted = await request(api, "DELETE", "/api/v1/workspaces/acme/sessions/main", { key: KEY });
    expect(deleted.status).toBe(204);
    await expect(fs.access(sessionDir)).rejects.toThrow();
    expect((await request(api, "GET", "/api/v1/workspaces/acme/sessions/main", { key: KEY })).status).toBe(404);
    expect((await simGet("/sim/stats")).conflicts).toBe(0);
  }, 90000);

  it("logs out a linked session that is stopped: the device is unlinked on the phone's side too, and a never-linked one logs out as before", async () => {
    const base = "/api/v1/workspaces/quiet/sessions";
    expect((await request(api, "POST", base, { key: KEY, body: { sessionId: "linked" } })).status).toBe(201);
    await waitFor("SCAN_QR_CODE", async () => (await session("quiet", "linked")).status === "SCAN_QR_CODE");
    const qr = await request(api, "GET", `${base}/linked/qr`, { key: KEY, headers: { accept: "application/json" } });
    expect((await simPost("/sim/link", { qr: qr.json.qr, phone: "15550009999" })).status).toBe(200);
    await waitFor("WORKING", async () => (await session("quiet", "linked")).status === "WORKING");
    expect((await request(api, "POST", `${base}/linked/stop`, { key: KEY })).json).toMatchObject({ status: "STOPPED" });
    const devices = (await simGet("/sim/stats")).devices;

    const events = await openEventStream(api, "/api/v1/workspaces/quiet/events", KEY);
    const out = await request(api, "POST", `${base}/linked/logout`, { key: KEY });
    expect(out.status).toBe(200);
    expect(out.json).toMatchObject({ status: "STOPPED", desired: "stopped", me: null });
    expect((await simGet("/sim/stats")).devices).toBe(devices - 1);
    // the throwaway connection that unlinked it was never the session's: no status went by
    await new Promise((r) => setTimeout(r, 300));
    expect(events.events.filter((e) => e.event === "wa.session.status")).toEqual([]);
    events.close();

    // a session that never got past its QR has no device to unlink (the unit tests show no engine starts)
    expect((await request(api, "POST", base, { key: KEY, body: { sessionId: "never" } })).status).toBe(201);
    await waitFor("SCAN_QR_CODE", async () => (await session("quiet", "never")).status === "SCAN_QR_CODE");
    await request(api, "POST", `${base}/never/stop`, { key: KEY });
    expect((await request(api, "POST", `${base}/never/logout`, { key: KEY })).json).toMatchObject({ status: "STOPPED", desired: "stopped" });
    expect(await simGet("/sim/stats")).toMatchObject({ devices: devices - 1, conflicts: 0 });
  }, 60000);

  it("answers unknown routes with a JSON 404", async () => {
    const res = await request(api, "GET", "/api/v1/nope", { key: KEY });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("NOT_FOUND");
  });
});

// Session verbs that race an engine start, with the real wwebjs engine under the session actor:
// a logout or a delete while Chromium is still starting must leave no browser and no auth behind.
import { promises as fs } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { LaunchQueue } from "../../lib/engines/launch-queue";
import { createWwebjsEngineFactory } from "../../lib/engines/wwebjs";
import type { WwebjsEngineOptions } from "../../lib/engines/wwebjs";
import { SessionManager } from "../../lib/sessions/manager";
import { SessionStorage } from "../../lib/sessions/storage";
import { writeFakePage } from "../../lib/simulator/fake-wa-web";
import { chromiumUnder, expectNoChromiumUnder, exists, fakePageOptions } from "../helpers/chromium";
import { tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

let sim: TestSim;
let root: string;
let opts: WwebjsEngineOptions;
/** The page of a start that never ends: it waits for a script from a server that never answers. */
let loadingOpts: WwebjsEngineOptions;
let hung: http.Server;
let sessionsDir: string;
let events: Array<{ name: string; payload: any }>;
let manager: SessionManager;

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("wwebjs-session");
  opts = await fakePageOptions(path.join(root, "fake-wa-web"), sim.url);
  hung = http.createServer(() => undefined);
  await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
  const never = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/never.js`;
  loadingOpts = { ...opts, ...(await writeFakePage(path.join(root, "loading-page"), { version: "loading", blockingScriptUrl: never })) };
});

afterAll(async () => {
  hung?.closeAllConnections();
  hung?.close();
  await sim?.close();
  await expectNoChromiumUnder(root);
  await fs.rm(root, { recursive: true, force: true });
});

function newManager(engineOpts: WwebjsEngineOptions): SessionManager {
  return new SessionManager({
    storage: new SessionStorage(sessionsDir),
    engineFactory: createWwebjsEngineFactory(engineOpts),
    launchQueue: new LaunchQueue({ concurrency: 2, staggerMs: 0 }),
    node: "node-a",
    publish: (name, _scope, payload) => events.push({ name, payload }),
    logger: quiet,
    startTimeoutMs: 30000,
    fencingToken: () => 1,
    maxSessions: 10,
    retry: { baseMs: 100, maxMs: 200 },
  });
}

beforeEach(async () => {
  sessionsDir = await fs.mkdtemp(path.join(root, "sessions-"));
  events = [];
});

afterEach(async () => {
  await manager?.haltAll();
  await expectNoChromiumUnder(sessionsDir);
});

const statuses = () => events.filter((e) => e.name === "wa.session.status").map((e) => e.payload.status);

describe("a session whose Chromium is still starting", () => {
  it("logs out: the engine stops, auth/ is deleted, no browser is left, and no QR ever shows", async () => {
    manager = newManager(loadingOpts);
    await manager.create({ workspaceId: "w1", sessionId: "s1" });
    await waitFor("Chromium starting for the session", async () => (await chromiumUnder(sessionsDir)).length > 0);
    expect(manager.get("w1", "s1").status).toBe("STARTING");
    const view = await manager.get("w1", "s1").logout();
    expect(view).toMatchObject({ status: "STOPPED", desired: "stopped" });
    await expectNoChromiumUnder(sessionsDir);
    expect(await exists(path.join(sessionsDir, "workspace_w1", "session_s1", "auth", "session-s1"))).toBe(false);
    await waitFor("no connection left on the network", async () => (await sim.get("/sim/stats")).json.connections === 0);
    expect(statuses()).toEqual(["STARTING", "STOPPED"]);
    expect(events.some((e) => e.name === "wa.session.qr")).toBe(false);
  });

  it("is deleted: its folder is gone, no browser is left, and the session no longer exists", async () => {
    manager = newManager(loadingOpts);
    await manager.create({ workspaceId: "w1", sessionId: "s2" });
    await waitFor("Chromium starting for the session", async () => (await chromiumUnder(sessionsDir)).length > 0);
    await manager.remove("w1", "s2");
    await expectNoChromiumUnder(sessionsDir);
    expect(await exists(path.join(sessionsDir, "workspace_w1", "session_s2"))).toBe(false);
    expect(manager.find("w1", "s2")).toBeUndefined();
    await waitFor("no connection left on the network", async () => (await sim.get("/sim/stats")).json.connections === 0);
  });

  it("links normally with the page that loads (the same set-up, for contrast)", async () => {
    manager = newManager(opts);
    await manager.create({ workspaceId: "w1", sessionId: "s3" });
    await waitFor("a QR", () => manager.get("w1", "s3").status === "SCAN_QR_CODE");
    const res = await sim.post("/sim/link", { qr: manager.get("w1", "s3").currentQr().qr, phone: "15550003333" });
    expect(res.status).toBe(200);
    await waitFor("WORKING", () => manager.get("w1", "s3").status === "WORKING");
    expect(statuses()).toEqual(["STARTING", "SCAN_QR_CODE", "STARTING", "WORKING"]);
  });
});

describe("a linked session that is stopped", () => {
  it("logs out through a throwaway browser: the device is unlinked on the network, auth/ is gone, and the session never left STOPPED", async () => {
    manager = newManager(opts);
    await manager.create({ workspaceId: "w2", sessionId: "s1" });
    await waitFor("a QR", () => manager.get("w2", "s1").status === "SCAN_QR_CODE");
    expect((await sim.post("/sim/link", { qr: manager.get("w2", "s1").currentQr().qr, phone: "15550004444" })).status).toBe(200);
    await waitFor("WORKING", () => manager.get("w2", "s1").status === "WORKING");
    await manager.get("w2", "s1").stop();
    await expectNoChromiumUnder(sessionsDir);
    const devices = (await sim.get("/sim/stats")).json.devices;
    events = [];

    const view = await manager.get("w2", "s1").logout();
    expect(view).toMatchObject({ status: "STOPPED", desired: "stopped", me: null });
    expect((await sim.get("/sim/stats")).json.devices).toBe(devices - 1);
    expect(await exists(path.join(sessionsDir, "workspace_w2", "session_s1", "auth"))).toBe(false);
    await expectNoChromiumUnder(sessionsDir);
    expect(statuses()).toEqual([]);
  });
});

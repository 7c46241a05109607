// The ops pieces as single classes: capacity alerts with hysteresis, the memory watchdog over a
// real SessionManager with an engine whose memory grows, readiness deadlines, event metrics.
import { promises as fs } from "node:fs";
import http from "node:http";
import { ServiceBroker } from "moleculer";
import os from "node:os";
import path from "node:path";
import { LaunchQueue } from "../../lib/engines/launch-queue";
import { CapacityAlerts } from "../../lib/ops/alerts";
import { M, SessionEventMetrics, type MetricRegistryLike } from "../../lib/ops/metrics";
import { OpsReporter, Readiness } from "../../lib/ops/ops-server";
import { MemoryWatchdog } from "../../lib/ops/watchdog";
import { SessionManager } from "../../lib/sessions/manager";
import { SessionStorage } from "../../lib/sessions/storage";
import { FakeEngine } from "../helpers/fake-engine";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const MB = 1024 * 1024;

describe("capacity alerts", () => {
  it("crosses 70% and 85% upwards at once and downwards only past the hysteresis", () => {
    const a = new CapacityAlerts();
    expect(a.observe("n1", 0.5)).toBeUndefined();
    expect(a.observe("n1", 0.7)).toEqual({ node: "n1", level: "warning", previous: "ok", utilization: 0.7 });
    expect(a.observe("n1", 0.69)).toBeUndefined(); // still warning: 0.69 > 0.65
    expect(a.observe("n1", 0.86)).toMatchObject({ level: "critical", previous: "warning" });
    expect(a.observe("n1", 0.82)).toBeUndefined(); // still critical: > 0.80
    expect(a.observe("n1", 0.79)).toMatchObject({ level: "warning", previous: "critical" });
    expect(a.observe("n1", 0.66)).toBeUndefined();
    expect(a.observe("n1", 0.64)).toMatchObject({ level: "ok", previous: "warning" });
    expect(a.observe("n1", 0.95)).toMatchObject({ level: "critical", previous: "ok" });
    expect(a.observe("n1", 0.1)).toMatchObject({ level: "ok", previous: "critical" });
    expect(a.level("n2")).toBe("ok");
  });
});

describe("memory watchdog", () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-watchdog-"));
    FakeEngine.created = [];
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  it("restarts a session whose engine grows past its limit, and only that one", async () => {
    const events: any[] = [];
    const manager = new SessionManager({
      storage: new SessionStorage(path.join(root, "sessions")),
      engineFactory: (ctx) => new FakeEngine(ctx),
      launchQueue: new LaunchQueue({ concurrency: 4, staggerMs: 0 }),
      node: "n1",
      publish: (name, scope, payload) => events.push({ name, scope, payload }),
      logger: quiet,
      startTimeoutMs: 1000,
      fencingToken: () => 1,
      maxSessions: 10,
    });
    await manager.create({ workspaceId: "w", sessionId: "lean" });
    await manager.create({ workspaceId: "w", sessionId: "fat" });
    await new Promise((r) => setTimeout(r, 20));
    const [lean, fat] = FakeEngine.created;
    lean!.memory = 100 * MB;
    fat!.memory = 100 * MB;
    const restarted: string[] = [];
    const dog = new MemoryWatchdog({
      intervalMs: 1000,
      sessionLimitBytes: 300 * MB,
      nodeLimitBytes: 100_000 * MB,
      watermark: 0.9,
      sample: () => manager.memorySamples(),
      restart: async (w, s, bytes) => {
        restarted.push(`${s}:${Math.round(bytes / MB)}`);
        await manager.find(w, s)!.restart("MEMORY_LIMIT");
      },
      logger: quiet,
    });
    await dog.tick();
    expect(restarted).toEqual([]);
    fat!.memory = 400 * MB; // grows
    await dog.tick();
    expect(restarted).toEqual(["fat:400"]);
    expect(fat!.running).toBe(false);
    expect(FakeEngine.created).toHaveLength(3); // a new engine for "fat", restored from auth
    expect(FakeEngine.created[2]!.ctx.sessionId).toBe("fat");
    expect(lean!.running).toBe(true);
    expect(events.some((e) => e.name === "wa.session.status" && e.scope.sessionId === "fat" && e.payload.status === "STOPPED" && e.payload.reason === "MEMORY_LIMIT")).toBe(true);
    expect(manager.find("w", "fat")!.desired).toBe("running");
  });

  it("marks the node overloaded above its watermark, and the manager refuses new sessions", async () => {
    let engines = 0;
    let overloaded = false;
    const dog = new MemoryWatchdog({
      intervalMs: 1000,
      sessionLimitBytes: 0,
      nodeLimitBytes: 1000 * MB,
      watermark: 0.8,
      processBytes: () => 100 * MB,
      sample: async () => [{ workspaceId: "w", sessionId: "s", bytes: engines }],
      restart: async () => undefined,
      onOverloaded: (o) => (overloaded = o),
      logger: quiet,
    });
    const manager = new SessionManager({
      storage: new SessionStorage(path.join(root, "s2")),
      engineFactory: (ctx) => new FakeEngine(ctx),
      launchQueue: new LaunchQueue({ concurrency: 4, staggerMs: 0 }),
      node: "n1",
      publish: () => undefined,
      logger: quiet,
      startTimeoutMs: 1000,
      fencingToken: () => 1,
      maxSessions: 10,
      overloaded: () => dog.overloaded,
    });
    engines = 600 * MB;
    await dog.tick();
    expect(dog.overloaded).toBe(false);
    engines = 750 * MB;
    await dog.tick();
    expect(overloaded).toBe(true);
    await expect(manager.create({ workspaceId: "w", sessionId: "x" })).rejects.toMatchObject({ type: "INSTANCE_AT_CAPACITY" });
    // a stopped session costs nothing: still accepted
    await expect(manager.create({ workspaceId: "w", sessionId: "y", start: false })).resolves.toMatchObject({ status: "STOPPED" });
    engines = 100 * MB;
    await dog.tick();
    expect(overloaded).toBe(false);
    await expect(manager.create({ workspaceId: "w", sessionId: "z" })).resolves.toBeTruthy();
  });
});

describe("readiness", () => {
  it("names failing and hanging checks without waiting for them", async () => {
    const r = new Readiness();
    r.add("fine", () => ({ ok: true }));
    r.add("broken", async () => {
      throw new Error("connection refused");
    });
    r.add("stuck", () => new Promise(() => undefined));
    const result = await r.run(100);
    expect(result.ready).toBe(false);
    expect(result.checks).toEqual({ fine: { ok: true }, broken: { ok: false, detail: "connection refused" }, stuck: { ok: false, detail: "no answer within 100 ms" } });
  });
});

describe("session event metrics", () => {
  it("counts QR codes, messages and restarts, and times starts", () => {
    const calls: Array<[string, string, unknown]> = [];
    const reg: MetricRegistryLike = {
      register: () => undefined,
      getMetric: () => undefined,
      set: (n, v) => calls.push(["set", n, v]),
      increment: (n, l) => calls.push(["inc", n, l]),
      observe: (n, v) => calls.push(["obs", n, v]),
    };
    let now = 1000;
    const m = new SessionEventMetrics(reg, () => now);
    const s = { workspaceId: "w", sessionId: "s" };
    m.record("wa.session.status", s, { status: "STARTING", previous: "STOPPED" });
    now = 3500;
    m.record("wa.session.status", s, { status: "WORKING", previous: "STARTING" });
    m.record("wa.message.received", s, { message: {} as any });
    m.record("wa.session.status", s, { status: "FAILED", previous: "WORKING", reason: "x" });
    m.record("wa.session.status", s, { status: "STARTING", previous: "FAILED" });
    m.record("wa.session.qr", s, { qr: "q", expiresAt: 1 });
    m.record("wa.session.disconnected", s, { reason: "HEARTBEAT_LOST" });
    m.record("wa.session.disconnected", s, { reason: "TOS_BLOCK" });
    m.record("wa.session.disconnected", s, { reason: "DEPRECATED_VERSION" });
    expect(calls).toEqual([
      ["obs", M.startSeconds, 2.5],
      ["inc", M.received, undefined],
      ["inc", M.restarts, { reason: "retry" }],
      ["inc", M.qr, undefined],
      ["obs", M.startSeconds, 0],
      ["inc", M.disconnects, { reason: "HEARTBEAT_LOST" }],
      // a restriction has its own label (WafleetAccountRestricted); reasons nobody alerts on are "other"
      ["inc", M.disconnects, { reason: "TOS_BLOCK" }],
      ["inc", M.disconnects, { reason: "other" }],
    ]);
  });
});

describe("the ops port's /metrics", () => {
  it("publishes Moleculer's process and OS metrics without the host's identity (addresses, MACs, user, host name, arguments)", async () => {
    const reporter = new OpsReporter({ port: 0, host: "127.0.0.1" }, new Readiness());
    const broker = new ServiceBroker({ nodeID: "ops-test", logger: false, metrics: { enabled: true, reporter: [reporter as any], collectProcessMetrics: true } as any });
    await broker.start();
    try {
      const port = ((reporter as any).server.address() as { port: number }).port;
      const text = await new Promise<string>((resolve, reject) => {
        http.get(`http://127.0.0.1:${port}/metrics`, (r) => {
          let body = "";
          r.setEncoding("utf8");
          r.on("data", (d) => (body += d));
          r.on("end", () => resolve(body));
        }).on("error", reject);
      });
      const names = new Set([...text.matchAll(/^([a-z_][a-z0-9_]*)[{ ]/gm)].map((m) => m[1]!));
      // still there: what the dashboard's memory and CPU panel reads
      expect(names).toContain("process_memory_rss");
      expect(names).toContain("os_memory_total");
      for (const gone of ["process_arguments", "os_network_address", "os_network_mac", "os_network_family", "os_user_username", "os_user_uid", "os_user_homedir", "os_hostname"]) expect([gone, names.has(gone)]).toEqual([gone, false]);
      expect(text).not.toContain(os.hostname());
      expect(text).not.toContain(os.userInfo().username === "root" ? "\"root\"" : os.userInfo().username);
    } finally {
      await broker.stop();
    }
  });
});

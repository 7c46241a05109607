import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLaunchQueues, LaunchQueue } from "../../lib/engines/launch-queue";
import type { EventName } from "../../lib/events";
import { SessionManager } from "../../lib/sessions/manager";
import { SessionStorage } from "../../lib/sessions/storage";
import type { Capability } from "../../lib/engines/capabilities";
import { FakeEngine } from "../helpers/fake-engine";

let root: string;
let events: Array<{ name: EventName; payload: any }>;
let factoryHook: ((e: FakeEngine) => void) | undefined;

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const tick = () => new Promise((r) => setImmediate(r));
async function until(pred: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Credentials in a session's auth/ folder, as a linked engine would have left them. */
async function storedCredentials(workspaceId: string, sessionId: string): Promise<string> {
  const auth = path.join(root, "sessions", `workspace_${workspaceId}`, `session_${sessionId}`, "auth");
  await fs.mkdir(auth, { recursive: true });
  await fs.writeFile(path.join(auth, "creds.json"), "{}");
  return auth;
}

function manager(over: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}) {
  return new SessionManager({
    storage: new SessionStorage(path.join(root, "sessions")),
    engineFactory: (ctx) => {
      const e = new FakeEngine(ctx);
      factoryHook?.(e);
      return e;
    },
    launchQueue: new LaunchQueue({ concurrency: 4, staggerMs: 0 }),
    node: "node-a",
    publish: (name, _scope, payload) => events.push({ name, payload }),
    logger: quiet,
    startTimeoutMs: 1000,
    fencingToken: () => 1,
    maxSessions: 3,
    retry: { baseMs: 10, maxMs: 20 },
    ...over,
  });
}

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-actor-"));
  events = [];
  FakeEngine.created = [];
  factoryHook = undefined;
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

describe("session actor and manager", () => {
  it("creates, shows a QR, links and reports WORKING with status events in order", async () => {
    const m = manager();
    const view = await m.create({ workspaceId: "w1", sessionId: "s1" });
    expect(view.desired).toBe("running");
    await until(() => m.get("w1", "s1").status === "SCAN_QR_CODE");
    expect(m.get("w1", "s1").currentQr().qr).toBe("ref,abc,def,ghi");
    FakeEngine.created[0].link();
    expect(m.get("w1", "s1").view()).toMatchObject({ status: "WORKING", me: { phone: "15550001111" }, node: "node-a" });
    const statuses = events.filter((e) => e.name === "wa.session.status").map((e) => e.payload.status);
    expect(statuses).toEqual(["STARTING", "SCAN_QR_CODE", "STARTING", "WORKING"]);
    expect(events.map((e) => e.name)).toContain("wa.session.ready");
    expect(() => m.get("w1", "s1").currentQr()).toThrow(/No QR code/);
  });

  it("never makes two engines for concurrent starts of one session", async () => {
    const m = manager();
    await m.create({ workspaceId: "w1", sessionId: "s1", start: false });
    await Promise.all([m.start("w1", "s1"), m.start("w1", "s1"), m.start("w1", "s1"), m.get("w1", "s1").resume()]);
    await tick();
    expect(FakeEngine.created.length).toBe(1);
  });

  it("rejects a second create of the same id, concurrently too", async () => {
    const m = manager();
    const results = await Promise.allSettled([m.create({ workspaceId: "w1", sessionId: "s1" }), m.create({ workspaceId: "w1", sessionId: "s1" })]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason.type).toBe("SESSION_EXISTS");
  });

  it("starts the engine while meta.json is written, and holds its events and QR until the write is done", async () => {
    const storage = new SessionStorage(path.join(root, "sessions"));
    let release!: () => void;
    const written = new Promise<void>((r) => (release = r));
    // a write that takes its time (a busy disk's fsync)
    const slow = Object.assign(Object.create(storage) as SessionStorage, {
      create: (meta: Parameters<SessionStorage["create"]>[0], onFolder?: () => void) =>
        storage.create(meta, () => {
          onFolder?.();
        }).then(() => written),
    });
    const m = manager({ storage: slow });
    const created = m.create({ workspaceId: "w1", sessionId: "s1" });
    // the engine starts and shows its QR before the create is durable...
    await until(() => m.find("w1", "s1")?.status === "SCAN_QR_CODE");
    expect(FakeEngine.created[0]!.started).toBe(1);
    // ...but nobody hears of the session or gets its QR yet
    expect(events).toEqual([]);
    expect(() => m.get("w1", "s1").currentQr()).toThrow(/still being created/);
    await expect(m.get("w1", "s1").requestPairingCode("15550001111")).rejects.toThrow(/still being created/);
    release();
    const view = await created;
    expect(view.status).toBe("SCAN_QR_CODE");
    expect(events.map((e) => [e.name, e.payload.status])).toEqual([
      ["wa.session.status", "STARTING"],
      ["wa.session.status", "SCAN_QR_CODE"],
      ["wa.session.qr", undefined],
    ]);
    expect(m.get("w1", "s1").currentQr().qr).toBe("ref,abc,def,ghi");
    FakeEngine.created[0]!.link();
    expect(events.at(-1)!.name).toBe("wa.session.ready");
  });

  it("stops the early engine and publishes nothing when meta.json cannot be written; the id stays free", async () => {
    const storage = new SessionStorage(path.join(root, "sessions"));
    const failing = Object.assign(Object.create(storage) as SessionStorage, {
      create: async (_meta: unknown, onFolder?: () => void) => {
        onFolder?.();
        await tick();
        throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
      },
    });
    const m = manager({ storage: failing });
    await expect(m.create({ workspaceId: "w1", sessionId: "s1" })).rejects.toThrow(/ENOSPC/);
    expect(FakeEngine.created).toHaveLength(1);
    expect(FakeEngine.created[0]!.stopped).toBe(1);
    expect(m.find("w1", "s1")).toBeUndefined();
    await tick();
    expect(events).toEqual([]);
    // the same id can be created once the disk is back
    const again = manager({ storage });
    expect((await again.create({ workspaceId: "w1", sessionId: "s1" })).desired).toBe("running");
  });

  it("persists the desired state and restores running sessions without touching stopped ones", async () => {
    const m1 = manager();
    await m1.create({ workspaceId: "w1", sessionId: "run" });
    await m1.create({ workspaceId: "w1", sessionId: "idle", start: false });
    await m1.create({ workspaceId: "w2", sessionId: "stopped" });
    await m1.get("w2", "stopped").stop();
    await m1.haltAll();
    expect(m1.get("w1", "run").desired).toBe("running"); // a shutdown keeps the desired state

    FakeEngine.created = [];
    const m2 = manager();
    const { loaded, resumed } = await m2.restore();
    expect({ loaded, resumed }).toEqual({ loaded: 3, resumed: 1 });
    await tick();
    expect(FakeEngine.created.map((e) => e.ctx.sessionId)).toEqual(["run"]);
    expect(m2.get("w1", "idle").status).toBe("STOPPED");
  });

  it("enforces MAX_SESSIONS_PER_INSTANCE on running sessions only", async () => {
    const m = manager({ maxSessions: 2 });
    await m.create({ workspaceId: "w", sessionId: "a" });
    await m.create({ workspaceId: "w", sessionId: "b" });
    await expect(m.create({ workspaceId: "w", sessionId: "c" })).rejects.toMatchObject({ type: "INSTANCE_AT_CAPACITY", code: 503 });
    await m.create({ workspaceId: "w", sessionId: "d", start: false });
    await expect(m.start("w", "d")).rejects.toMatchObject({ type: "INSTANCE_AT_CAPACITY" });
    await m.get("w", "a").stop();
    await expect(m.start("w", "d")).resolves.toMatchObject({ desired: "running" });
    expect(m.stats()).toMatchObject({ total: 2, capacity: 2, utilization: 1, sessions: 3 });
  });

  /** Creates session w/s whose engine start hangs until the returned release is called. */
  async function createWithHeldStart() {
    let release!: () => void;
    factoryHook = (e) => (e.gate = new Promise<void>((r) => (release = r)));
    const m = manager();
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => FakeEngine.created[0]?.started === 1);
    return { m, release };
  }

  it("stop during a slow start stops the engine and ends STOPPED", async () => {
    const { m, release } = await createWithHeldStart();
    const stopping = m.get("w", "s").stop();
    release();
    await stopping;
    expect(FakeEngine.created[0].stopped).toBeGreaterThan(0);
    expect(m.get("w", "s").status).toBe("STOPPED");
  });

  it("deleting while starting removes the folder after the engine stopped", async () => {
    const { m, release } = await createWithHeldStart();
    const removing = m.remove("w", "s");
    release();
    await removing;
    expect(FakeEngine.created[0].running).toBe(false);
    await expect(fs.access(path.join(root, "sessions", "workspace_w", "session_s"))).rejects.toThrow();
    expect(() => m.get("w", "s")).toThrow(/not found/);
  });

  it("a start past its deadline fails with the reason and is retried while desired running", async () => {
    let first = true;
    factoryHook = (e) => {
      if (first) e.gate = new Promise<void>(() => undefined);
      first = false;
    };
    const m = manager({ startTimeoutMs: 50 });
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => events.some((e) => e.name === "wa.session.status" && e.payload.status === "FAILED"));
    const failed = events.find((e) => e.payload.status === "FAILED")!;
    expect(failed.payload.reason).toMatch(/timed out/);
    await until(() => m.get("w", "s").status === "SCAN_QR_CODE");
    expect(FakeEngine.created.length).toBe(2);
  });

  it("stops for good on CONFLICT: never fights over a device", async () => {
    const m = manager();
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => m.get("w", "s").status === "SCAN_QR_CODE");
    FakeEngine.created[0].link();
    FakeEngine.created[0].emit("disconnected", "CONFLICT");
    expect(m.get("w", "s").view()).toMatchObject({ status: "FAILED", reason: "CONFLICT" });
    await new Promise((r) => setTimeout(r, 60));
    expect(FakeEngine.created.length).toBe(1);
  });

  it("goes back to STARTING on a lost connection and ignores events of a replaced engine", async () => {
    const m = manager();
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => m.get("w", "s").status === "SCAN_QR_CODE");
    const old = FakeEngine.created[0];
    old.link();
    old.emit("disconnected", "CONNECTION_LOST");
    expect(m.get("w", "s").status).toBe("STARTING");
    await m.restart("w", "s");
    await until(() => m.get("w", "s").status === "SCAN_QR_CODE");
    old.link(); // stale engine: must not flip the session to WORKING
    expect(m.get("w", "s").status).toBe("SCAN_QR_CODE");
  });

  it("logout unlinks a WORKING session, deletes auth and leaves it STOPPED", async () => {
    const m = manager();
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => m.get("w", "s").status === "SCAN_QR_CODE");
    FakeEngine.created[0].link();
    const auth = path.join(root, "sessions", "workspace_w", "session_s", "auth");
    await fs.mkdir(auth, { recursive: true });
    await fs.writeFile(path.join(auth, "creds.json"), "{}");
    const view = await m.get("w", "s").logout();
    expect(view).toMatchObject({ status: "STOPPED", desired: "stopped", me: null });
    expect(FakeEngine.created[0].loggedOut).toBe(1);
    await expect(fs.access(auth)).rejects.toThrow();
  });

  it("logout of a linked session that is not connected unlinks it through a throwaway engine; the session stays STOPPED throughout", async () => {
    const linkedOnDisk = new Set<string>();
    const factory = Object.assign(
      (ctx: any) => {
        const e = new FakeEngine(ctx);
        // a throwaway engine on linked credentials comes up linked
        if (linkedOnDisk.has(ctx.authDir)) e.start = async function (this: FakeEngine) {
          this.started++;
          this.running = true;
          this.link();
        };
        return e;
      },
      { linked: async (authDir: string) => linkedOnDisk.has(authDir) },
    );
    const m = manager({ engineFactory: factory });
    await m.create({ workspaceId: "w", sessionId: "s", start: false });
    const auth = await storedCredentials("w", "s");
    linkedOnDisk.add(auth);
    events = [];

    const view = await m.get("w", "s").logout();
    expect(view).toMatchObject({ status: "STOPPED", desired: "stopped", me: null });
    expect(FakeEngine.created).toHaveLength(1);
    expect(FakeEngine.created[0]!.loggedOut).toBe(1);
    expect(FakeEngine.created[0]!.stopped).toBeGreaterThanOrEqual(1);
    await expect(fs.access(auth)).rejects.toThrow();
    // its events went nowhere: no status change, no ready
    expect(events.filter((e) => e.name === "wa.session.status" || e.name === "wa.session.ready")).toEqual([]);

    // credentials that are not a linked device (a QR never scanned): no engine at all
    await m.create({ workspaceId: "w", sessionId: "t", start: false });
    await fs.mkdir(path.join(root, "sessions", "workspace_w", "session_t", "auth"), { recursive: true });
    await fs.writeFile(path.join(root, "sessions", "workspace_w", "session_t", "auth", "profile"), "x");
    await m.get("w", "t").logout();
    expect(FakeEngine.created).toHaveLength(1);
  });

  it("logout of a stopped session whose credentials turn out unlinked (a QR) only deletes them", async () => {
    const m = manager();
    await m.create({ workspaceId: "w", sessionId: "s", start: false });
    const auth = await storedCredentials("w", "s");
    // no `linked` on this factory: any credentials count, so a throwaway engine looks and sees a QR
    await m.get("w", "s").logout();
    expect(FakeEngine.created).toHaveLength(1);
    expect(FakeEngine.created[0]!.loggedOut).toBe(0);
    expect(FakeEngine.created[0]!.stopped).toBe(1);
    await expect(fs.access(auth)).rejects.toThrow();
  });

  it("logout gives up unlinking when the node may not connect, and still deletes the credentials", async () => {
    const m = manager({ admit: () => false });
    await m.create({ workspaceId: "w", sessionId: "s", start: false });
    const auth = await storedCredentials("w", "s");
    await m.get("w", "s").logout();
    expect(FakeEngine.created).toHaveLength(0);
    await expect(fs.access(auth)).rejects.toThrow();
  });

  it("acknowledges an incoming message only once its event is durable, never when publishing fails, and never for a replaced engine", async () => {
    const durable: Array<() => void> = [];
    const failing: Array<(err: Error) => void> = [];
    let mode: "hold" | "fail" = "hold";
    const m = manager({
      publish: (name, _scope, payload) => {
        events.push({ name, payload });
        if (name !== "wa.message.received") return undefined;
        return new Promise<void>((resolve, reject) => (mode === "hold" ? durable.push(resolve) : failing.push(reject)));
      },
    });
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => m.get("w", "s").status === "SCAN_QR_CODE");
    const engine = FakeEngine.created[0]!;
    engine.link();
    const acked: string[] = [];
    const receipt = (id: string) => ({ defer: () => () => acked.push(id) });
    const msg = (id: string) => ({ id, from: "15550002222@c.us", to: "15550001111@c.us", body: id, timestamp: 1, fromMe: false });

    engine.emit("message", msg("m1"), receipt("m1"));
    await tick();
    expect(acked).toEqual([]); // the event log has not confirmed it yet
    durable[0]!();
    await until(() => acked.length === 1);
    expect(acked).toEqual(["m1"]);

    mode = "fail";
    engine.emit("message", msg("m2"), receipt("m2"));
    await until(() => failing.length === 1);
    failing[0]!(new Error("JetStream unavailable"));
    await tick();
    await tick();
    expect(acked).toEqual(["m1"]); // left to the network to deliver again

    // a replaced engine's message is neither published nor acknowledged
    await m.get("w", "s").restart();
    const published = events.filter((e) => e.name === "wa.message.received").length;
    engine.emit("message", msg("m3"), receipt("m3"));
    await tick();
    expect(acked).toEqual(["m1"]);
    expect(events.filter((e) => e.name === "wa.message.received")).toHaveLength(published);
  });

  it("passes on why an engine could not hand over a message's media (too large, download failed), and the message itself", async () => {
    const m = manager();
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => m.get("w", "s").status === "SCAN_QR_CODE");
    const engine = FakeEngine.created[0]!;
    engine.link();
    const base = { from: "15550002222@c.us", to: "15550001111@c.us", timestamp: 1, fromMe: false, type: "document" as const };
    engine.emit("message", { ...base, id: "big", body: "too big", media: { mimetype: "application/zip", filename: "big.zip", size: 99, error: "MEDIA_TOO_LARGE" } });
    engine.emit("message", { ...base, id: "bad", body: "broken", media: { mimetype: "image/png", size: 5, error: "MEDIA_DOWNLOAD_FAILED" } });
    engine.emit("message", { ...base, id: "plain", body: "described", media: { mimetype: "image/png" } });
    await until(() => events.filter((e) => e.name === "wa.message.received").length === 3);
    const media = events.filter((e) => e.name === "wa.message.received").map((e) => [e.payload.message.id, e.payload.message.body, e.payload.message.media]);
    expect(media).toEqual([
      ["big", "too big", { mimetype: "application/zip", filename: "big.zip", size: 99, error: "MEDIA_TOO_LARGE" }],
      ["bad", "broken", { mimetype: "image/png", size: 5, error: "MEDIA_DOWNLOAD_FAILED" }],
      ["plain", "described", { mimetype: "image/png" }],
    ]);
  });

  it("refuses to send unless WORKING", async () => {
    const m = manager();
    await m.create({ workspaceId: "w", sessionId: "s", start: false });
    await expect(m.get("w", "s").sendMessage("15550002222", { text: "hi" })).rejects.toMatchObject({ type: "SESSION_NOT_READY", code: 409 });
  });

  it("holds a send to a STARTING session until it is WORKING (SEND_READY_WAIT_MS), then sends it", async () => {
    let release!: () => void;
    factoryHook = (e) => (e.gate = new Promise((r) => (release = r)));
    const m = manager({ sendReadyWaitMs: 5000 });
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => m.get("w", "s").status === "STARTING");
    let settled = false;
    const sent = m.get("w", "s").sendMessage("15550002222", { text: "hi" }).finally(() => (settled = true));
    await tick();
    expect(settled).toBe(false);
    FakeEngine.created[0]!.link();
    await expect(sent).resolves.toMatchObject({ id: "m-hi", ack: "SERVER" });
    release();
  });

  it("refuses a held send as soon as the session shows a QR instead, or when the wait is over", async () => {
    let release!: () => void;
    factoryHook = (e) => (e.gate = new Promise((r) => (release = r)));
    const m = manager({ sendReadyWaitMs: 5000 });
    await m.create({ workspaceId: "w", sessionId: "s" });
    await until(() => m.get("w", "s").status === "STARTING");
    const refused = m.get("w", "s").sendMessage("15550002222", { text: "hi" });
    release();
    await expect(refused).rejects.toMatchObject({ type: "SESSION_NOT_READY", data: { status: "SCAN_QR_CODE" } });

    factoryHook = (e) => (e.gate = new Promise(() => undefined));
    const short = manager({ sendReadyWaitMs: 30 });
    await short.create({ workspaceId: "w", sessionId: "t" });
    await until(() => short.get("w", "t").status === "STARTING");
    await expect(short.get("w", "t").sendMessage("15550002222", { text: "hi" })).rejects.toMatchObject({ type: "SESSION_NOT_READY", data: { status: "STARTING" } });
  });
});

describe("engine capabilities", () => {
  const withCaps = (engine: string | undefined, caps: string[] | undefined) =>
    manager({
      engineFactory: Object.assign(
        (ctx: any) => {
          const e = new FakeEngine(ctx);
          (e as any).listChats = async () => ({ items: [], next: undefined });
          (e as any).react = async () => {
            throw Object.assign(new Error("the page crashed"), { code: "ENGINE_ERROR" });
          };
          return e;
        },
        { engine, capabilities: caps === undefined ? undefined : new Set(caps as Capability[]) },
      ),
    });

  it("shows the engine and its capabilities on the session, in the catalogue's order", async () => {
    const m = withCaps("wwebjs", ["read", "chats"]);
    const view = await m.create({ workspaceId: "w1", sessionId: "s1", start: false });
    expect(view).toMatchObject({ engine: "wwebjs", capabilities: ["chats", "read"] });
    const bare = withCaps(undefined, undefined);
    expect(await bare.create({ workspaceId: "w2", sessionId: "s1", start: false })).toMatchObject({ engine: "unknown", capabilities: [] });
  });

  it("answers a capability the engine lacks with NOT_SUPPORTED naming engine and capability, whatever the status", async () => {
    const m = withCaps("wwebjs", ["chats"]);
    await m.create({ workspaceId: "w1", sessionId: "s1", start: false });
    const actor = m.get("w1", "s1");
    const refused = await actor.withCapability("contacts", async () => "never").catch((e) => e);
    expect(refused).toMatchObject({ type: "NOT_SUPPORTED", code: 501, data: { engine: "wwebjs", capability: "contacts" } });
    expect(refused.message).toBe("The wwebjs engine does not support contacts");
    expect(() => actor.assertCapabilities(["replies", "polls"])).toThrow("The wwebjs engine does not support replies");
    // declared but the session is not connected
    expect(await actor.withCapability("chats", async () => "never").catch((e) => e.type)).toBe("SESSION_NOT_READY");
  });

  it("runs a declared capability on a WORKING session and reports the engine's failures as ENGINE_ERROR", async () => {
    const m = withCaps("simulator", ["chats", "reactions"]);
    await m.create({ workspaceId: "w1", sessionId: "s1" });
    await until(() => m.get("w1", "s1").status === "SCAN_QR_CODE");
    FakeEngine.created[0].link();
    const actor = m.get("w1", "s1");
    expect(await actor.withCapability("chats", (e) => e.listChats!({ limit: 10 }))).toEqual({ items: [], next: undefined });
    expect(await actor.withCapability("reactions", (e) => e.react!("m1", "👍")).catch((e) => [e.type, e.message])).toEqual(["ENGINE_ERROR", "The engine failed: the page crashed"]);
  });
});

/** An engine factory named `engine` declaring `caps`, made of FakeEngines (the factoryHook applies). */
const named = (engine: string, caps: Capability[] = []) =>
  Object.assign(
    (ctx: any) => {
      const e = new FakeEngine(ctx);
      (e as any).engineName = engine;
      factoryHook?.(e);
      return e;
    },
    { engine, capabilities: new Set(caps) },
  );

describe("a session's engine", () => {
  const metaOf = async (w: string, s: string) => JSON.parse(await fs.readFile(path.join(root, "sessions", `workspace_${w}`, `session_${s}`, "meta.json"), "utf8"));

  it("is the one named at create (default: the node's), stored in meta.json, and drives the capabilities", async () => {
    const m = manager({ engineFactory: named("simulator", []), engines: new Map([["simulator", named("simulator", [])], ["baileys", named("baileys", ["read"])]]) });
    expect(m.installedEngines()).toEqual(["simulator", "baileys"]);
    expect(await m.create({ workspaceId: "w", sessionId: "a", start: false })).toMatchObject({ engine: "simulator", capabilities: [] });
    expect(await m.create({ workspaceId: "w", sessionId: "b", engine: "baileys" })).toMatchObject({ engine: "baileys", capabilities: ["read"] });
    expect((await metaOf("w", "a")).engine).toBe("simulator");
    expect((await metaOf("w", "b")).engine).toBe("baileys");
    await until(() => FakeEngine.created.length === 1);
    expect((FakeEngine.created[0] as any).engineName).toBe("baileys");
    // the engine travels in meta.json: a node whose default is another engine runs it on its own
    await m.haltAll();
    FakeEngine.created = [];
    const other = manager({ engineFactory: named("baileys", ["read"]), engines: new Map([["baileys", named("baileys", ["read"])], ["simulator", named("simulator", [])]]) });
    await other.restore(["w"]);
    await until(() => FakeEngine.created.length === 1);
    expect((FakeEngine.created[0] as any).engineName).toBe("baileys");
    expect(other.get("w", "a").view()).toMatchObject({ engine: "simulator", capabilities: [] });
    await other.haltAll();
  });

  it("refuses an engine the node lacks with ENGINE_NOT_INSTALLED, and writes nothing", async () => {
    const m = manager({ engineFactory: named("simulator", []) });
    await expect(m.create({ workspaceId: "w", sessionId: "c", engine: "wwebjs" })).rejects.toMatchObject({ type: "ENGINE_NOT_INSTALLED", code: 400, data: { engine: "wwebjs", installed: ["simulator"] } });
    expect(m.find("w", "c")).toBeUndefined();
    await expect(fs.stat(path.join(root, "sessions", "workspace_w", "session_c"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a session whose engine is not installed here (moved to such a node) fails ENGINE_NOT_INSTALLED and is not retried", async () => {
    const m = manager({ engineFactory: named("baileys", ["read"]), engines: new Map([["baileys", named("baileys", ["read"])], ["wwebjs", named("wwebjs", [])]]) });
    await m.create({ workspaceId: "w", sessionId: "d", engine: "wwebjs" });
    await m.haltAll();
    FakeEngine.created = [];
    const lacking = manager({ engineFactory: named("baileys", ["read"]) });
    await lacking.restore(["w"]);
    const actor = lacking.get("w", "d");
    await until(() => actor.status === "FAILED");
    expect(actor.view()).toMatchObject({ engine: "wwebjs", capabilities: [], reason: expect.stringMatching(/^ENGINE_NOT_INSTALLED: the wwebjs engine is not installed on node node-a/) });
    await new Promise((r) => setTimeout(r, 60));
    expect(FakeEngine.created).toHaveLength(0);
    expect(actor.status).toBe("FAILED");
  });
});

describe("capacity by engine weight", () => {
  const named = (engine: string) => Object.assign((ctx: any) => new FakeEngine(ctx), { engine, capabilities: new Set<Capability>() });
  const weights = { wwebjs: 1, baileys: 0.04, simulator: 0.005 };

  it("counts a session of another engine as its weight over the default's, in admission, stats and restore", async () => {
    const m = manager({ engineFactory: named("wwebjs"), engines: new Map([["wwebjs", named("wwebjs")], ["baileys", named("baileys")]]), engineWeights: weights, maxSessions: 2 });
    expect(m.cost("baileys")).toBeCloseTo(0.04);
    await m.create({ workspaceId: "w", sessionId: "web" });
    for (let i = 0; i < 25; i++) await m.create({ workspaceId: "w", sessionId: `b${i}`, engine: "baileys" });
    expect(m.stats()).toMatchObject({ total: 26, byEngine: { wwebjs: 1, baileys: 25 }, load: 2, capacity: 2, utilization: 1 });
    const refused = await m.create({ workspaceId: "w", sessionId: "b25", engine: "baileys" }).catch((e) => e);
    expect(refused).toMatchObject({ type: "INSTANCE_AT_CAPACITY", data: { load: 2, capacity: 2, engine: "baileys" } });
    expect(refused.message).toMatch(/weigh 2 of its 2 \(in wwebjs sessions; ENGINE_WEIGHTS\)/);
    // a stopped browser session frees a whole slot: 25 more baileys sessions fit, a browser again does not
    await m.get("w", "web").stop();
    for (let i = 25; i < 50; i++) await m.create({ workspaceId: "w", sessionId: `b${i}`, engine: "baileys" });
    await expect(m.start("w", "web")).rejects.toMatchObject({ type: "INSTANCE_AT_CAPACITY", data: { engine: "wwebjs" } });
    // the same weights when sessions are resumed from storage: a node half the size resumes what fits
    await m.haltAll();
    const half = manager({ engineFactory: named("wwebjs"), engines: new Map([["wwebjs", named("wwebjs")], ["baileys", named("baileys")]]), engineWeights: weights, maxSessions: 1 });
    const r = await half.restore(["w"]);
    expect(r).toMatchObject({ loaded: 51, resumed: 25 });
    await half.haltAll();
  });

  it("counts every session 1 without weights, and on a single-engine node whatever the weights", async () => {
    const m = manager({ maxSessions: 2 });
    expect(m.cost("anything")).toBe(1);
    const single = manager({ engineFactory: named("baileys"), engineWeights: weights, maxSessions: 2 });
    expect(single.cost("baileys")).toBe(1);
    await single.create({ workspaceId: "w", sessionId: "a" });
    await single.create({ workspaceId: "w", sessionId: "b" });
    await expect(single.create({ workspaceId: "w", sessionId: "c" })).rejects.toMatchObject({ type: "INSTANCE_AT_CAPACITY" });
    expect(single.stats()).toMatchObject({ total: 2, load: 2, byEngine: { baileys: 2 } });
    await single.haltAll();
  });
});

describe("launch queues by kind of engine", () => {
  const engines = () => new Map([["wwebjs", named("wwebjs")], ["baileys", named("baileys")]]);

  it("starts a baileys session at once while held browser starts fill the browser queue", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    factoryHook = (e) => {
      if ((e as any).engineName === "wwebjs") e.gate = held;
    };
    const queues = createLaunchQueues({ browser: { concurrency: 2, staggerMs: 0 }, socket: { concurrency: 32, staggerMs: 0 } });
    const m = manager({ engineFactory: named("wwebjs"), engines: engines(), launchQueue: queues, maxSessions: 100 });
    try {
      for (let i = 0; i < 6; i++) await m.create({ workspaceId: "w", sessionId: `web${i}` });
      await until(() => queues.browser.active === 2 && queues.browser.pending === 4);
      await m.create({ workspaceId: "w", sessionId: "b", engine: "baileys" });
      await until(() => m.get("w", "b").status === "SCAN_QR_CODE" && queues.socket.active === 0);
      expect([queues.browser.active, queues.browser.pending]).toEqual([2, 4]);
      for (let i = 0; i < 6; i++) expect(m.get("w", `web${i}`).status).toBe("STARTING");
      release();
      await until(() => [0, 1, 2, 3, 4, 5].every((i) => m.get("w", `web${i}`).status === "SCAN_QR_CODE"));
    } finally {
      release();
      await m.haltAll();
    }
  });

  it("sessions of a socket engine queue among themselves at the socket pace, not in the browser queue", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    factoryHook = (e) => {
      e.gate = held;
    };
    const queues = createLaunchQueues({ browser: { concurrency: 2, staggerMs: 0 }, socket: { concurrency: 1, staggerMs: 0 } });
    const m = manager({ engineFactory: named("baileys"), launchQueue: queues, maxSessions: 100 });
    try {
      await m.create({ workspaceId: "w", sessionId: "a" });
      await m.create({ workspaceId: "w", sessionId: "b" });
      await until(() => queues.socket.active === 1 && queues.socket.pending === 1);
      expect([queues.browser.active, queues.browser.pending]).toEqual([0, 0]);
      release();
      await until(() => m.get("w", "b").status === "SCAN_QR_CODE");
    } finally {
      release();
      await m.haltAll();
    }
  });
});

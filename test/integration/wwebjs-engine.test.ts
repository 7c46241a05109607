// What the wwebjs engine adds to whatsapp-web.js, with real Chromium against the fake WhatsApp Web
// page: the modules the client asks for, crash detection and bounded restarts, no orphans, stale
// profile locks, the initialize deadline, and a clear error when Chromium is missing.
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { promises as fs } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { isAlive, launchChromium, processTree, LEAN_CHROME_ARGS, withSandboxFlag } from "../../lib/engines/wwebjs/chromium";
import { LaunchQueue } from "../../lib/engines/launch-queue";
import type { EngineEvents, EngineMessage } from "../../lib/engines/types";
import type { WwebjsEngine, WwebjsEngineOptions } from "../../lib/engines/wwebjs";
import { WwebjsEngine as WwebjsEngineClass } from "../../lib/engines/wwebjs";
import { assertChromium } from "../../lib/engines/wwebjs/factory";
import { FAKE_PAGE_CHROME_ARGS, FAKE_PAGE_MODULES, FAKE_PAGE_OPTIONAL_MODULES, writeFakePage } from "../../lib/simulator/fake-wa-web";
import { CHROME_PATH, chromiumUnder, exists, expectNoChromiumUnder, fakePageOptions, pageModules, recordedEngine } from "../helpers/chromium";
import { freePort, tempDir, waitFor } from "../helpers/processes";
import { request } from "../helpers/http";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550001111";
const CONTACT = "4915112345678";

/**
 * What whatsapp-web.js 1.34.7 asks `window.require` for on QR login -> ready -> send text and
 * media -> receive text and media -> acks. A new name here means a library upgrade touches WhatsApp Web differently: update the fake
 * page (lib/simulator/fake-wa-web) and this list together, knowingly. (Sends pass sendSeen: false, so
 * WAWebStreamModel and WAWebUpdateUnreadChatAction are asked for on the read path only, which
 * test/integration/engine-capabilities.test.ts runs.)
 */
const EXPECTED_MODULES = [
  "WAWebSocketModel",
  "WAWebCmd",
  "WAWebConnModel",
  "WAWebOfflineHandler",
  "WAWebAltDeviceLinkingApi",
  "WABase64",
  "WAWebCompanionRegClientUtils",
  "WAWebAdvSignatureApi",
  "WAWebUserPrefsInfoStore",
  "WAWebSignalStoreApi",
  "WAWebUserPrefsMultiDevice",
  "WAWebBackendJobsCommon",
  "WAWebE2EProtoUtils",
  "WAWebUserPrefsMeUser",
  "WAWebCollections",
  "WAWebSyncGatingUtils",
  "WAWebCallCollection",
  "WAWebAddonReactionTableMode",
  "WAWebAddonPollVoteTableMode",
  "WAWebWidFactory",
  "WAWebFindChatAction",
  "WAWebChatGetters",
  "WALinkify",
  "WAWebMsgKey",
  "WAWebGetEphemeralFieldsMsgActionsUtils",
  "WAWebSendMsgChatAction",
  "WAWebMediaOpaqueData",
  "WAWebPrepRawMedia",
  "WAWebMediaStorage",
  "WAWebMmsMediaTypes",
  "WAWebMediaDataUtils",
  "WAWebMediaMmsV4Upload",
  "WAWebDownloadManager",
  // asked for by the engine itself, which watches contacts' chat states (lib/engines/wwebjs/presence.ts)
  "WAWebPresenceCollection",
];

let sim: TestSim;
let root: string;
let base: WwebjsEngineOptions;
let dir: string;
const engines: WwebjsEngine[] = [];

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("wwebjs");
  base = await fakePageOptions(path.join(root, "fake-wa-web"), sim.url);
});

afterAll(async () => {
  await sim?.close();
  await expectNoChromiumUnder(root);
  await fs.rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  await sim.post("/sim/reset");
  dir = await fs.mkdtemp(path.join(root, "case-"));
});

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await expectNoChromiumUnder(dir);
});

function newEngine(over: Partial<WwebjsEngineOptions> = {}) {
  const e = recordedEngine(path.join(dir, "auth"), { ...base, ...over });
  engines.push(e.engine);
  return e;
}

const next = <K extends keyof EngineEvents>(engine: WwebjsEngine, event: K, timeoutMs = 20000) => once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;

async function linked(over: Partial<WwebjsEngineOptions> = {}) {
  const e = newEngine(over);
  const qr = next(e.engine, "qr");
  await e.engine.start();
  const [code] = await qr;
  const ready = next(e.engine, "ready");
  const res = await sim.post("/sim/link", { qr: code, phone: ALICE });
  expect(res.status).toBe(200);
  await ready;
  return e;
}

describe("the fake WhatsApp Web page", () => {
  it("is asked for exactly the modules it implements, and for nothing it does not know", async () => {
    const { engine } = await linked();
    await engine.sendMessage(CONTACT, { text: "module census" });
    await engine.sendMessage(CONTACT, { media: { mimetype: "text/plain", data: Buffer.from("census").toString("base64"), filename: "c.txt" } });
    const incoming = next(engine, "message");
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "back" });
    await incoming;
    const media = next(engine, "message");
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "", media: { mimetype: "text/plain", data: Buffer.from("back").toString("base64") } });
    expect((await media)[0].media).toEqual({ mimetype: "text/plain", data: Buffer.from("back").toString("base64") });
    const { requested, unknown } = await pageModules(engine);
    expect(unknown).toEqual([]);
    expect([...requested].sort()).toEqual([...EXPECTED_MODULES].sort());
    const known = new Set<string>([...FAKE_PAGE_MODULES, ...FAKE_PAGE_OPTIONAL_MODULES]);
    expect(requested.filter((m) => !known.has(m))).toEqual([]);
  });
});

describe("group messages (without the groups capability)", () => {
  it("receives a group's message from the group, with the member who wrote it as author, live and in history", async () => {
    const { engine } = await linked();
    const groupId = (await sim.post("/sim/groups", { by: CONTACT, subject: "Team", participants: [ALICE] })).json.group.id;
    const incoming = next(engine, "message");
    const posted = (await sim.post(`/sim/groups/${groupId}/send`, { from: CONTACT, body: "hello team" })).json.id;
    const [msg] = await incoming;
    expect(msg).toMatchObject({ from: groupId, chatId: groupId, author: `${CONTACT}@c.us`, body: "hello team" });
    expect(msg.id.split("_").pop()).toBe(posted);
    const page = await engine.listMessages!(groupId, { limit: 5 });
    expect(page!.items[0]).toMatchObject({ author: `${CONTACT}@c.us`, body: "hello team" });
  });
});

describe("a big chat's history, a page at a time", () => {
  const CAROL = "4915100000777";
  const carol = `${CAROL}@c.us`;
  const OLD = 400;
  /** A chat of OLD own messages from yesterday (what the account said before this link): the part nobody asked for. */
  function seedOldChat() {
    const yesterday = Math.floor(Date.now() / 1000) - 86400;
    for (let i = 0; i < OLD; i++) sim.network.accounts.record(ALICE, { id: `OLD${String(i).padStart(4, "0")}`, chatId: carol, from: `${ALICE}@c.us`, to: carol, fromMe: true, body: `old ${i}`, timestamp: yesterday + i, type: "text", ack: "READ" });
  }
  /** How many of the chat's messages WhatsApp Web has loaded */
  const loaded = (engine: WwebjsEngine) => engine.page()!.evaluate((id: string) => (globalThis as any).require("WAWebCollections").Chat.get(id)?.msgs.length ?? 0, carol);

  it("catches up a chat back to its watermark only, not through the whole chat", async () => {
    seedOldChat();
    const { engine, events } = await linked();
    await engine.stop();
    // WhatsApp Web stored this one and acknowledged it, but its event never became durable (the node died in the gap)
    const missed = sim.network.accounts.record(ALICE, { id: "SIMCMISSEDINTHEGAP", chatId: carol, from: carol, to: `${ALICE}@c.us`, fromMe: false, body: "acknowledged, never made durable", timestamp: Math.floor(Date.now() / 1000), type: "text" });
    const ready = next(engine, "ready", 60000);
    await engine.start();
    await ready;
    await waitFor("the missed message", () => events.some(([name, m]) => name === "message" && (m as { id: string }).id.endsWith(`_${missed.id}`)), 20000);
    // the watermark is this link's start: one page of older messages shows it is reached
    expect(await loaded(engine)).toBeLessThan(OLD / 4);
  }, 120000);

  it("catches up a media message with its bytes: WhatsApp Web downloads the media of what it loaded from history", async () => {
    const { engine, events } = await linked();
    await engine.stop();
    const bytes = randomBytes(300 * 1024);
    // WhatsApp Web stored this one and acknowledged it, but its event never became durable (the node died in the gap)
    const { id } = sim.network.contactSend(CONTACT, { to: ALICE, body: "the invoice", media: { mimetype: "application/pdf", data: bytes.toString("base64"), filename: "invoice.pdf" } });
    expect(sim.network.ledger.ackIncoming(ALICE, id)).toBeDefined();
    const ready = next(engine, "ready", 60000);
    await engine.start();
    await ready;
    const caught = await waitFor("the missed message", () => events.find(([name, m]) => name === "message" && (m as { id: string }).id.endsWith(`_${id}`))?.[1] as EngineMessage | undefined, 20000);
    expect(caught).toMatchObject({ body: "the invoice", media: { mimetype: "application/pdf", filename: "invoice.pdf" } });
    const data = (caught.media as { data: string }).data;
    expect(createHash("sha256").update(Buffer.from(data, "base64")).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
  }, 120000);

  it("lists a chat newest first a page at a time, loading only what the pages need, and walks all of it by cursor", async () => {
    seedOldChat();
    const { engine } = await linked();
    const first = await engine.listMessages(carol, { limit: 3 });
    expect(first!.items.map((m) => m.body)).toEqual([`old ${OLD - 1}`, `old ${OLD - 2}`, `old ${OLD - 3}`]);
    expect(await loaded(engine)).toBeLessThan(OLD / 4);
    const since = (await engine.listMessages(carol, { limit: 100, since: first!.items[0].timestamp - 9 }))!;
    expect(since.items.map((m) => m.body)).toEqual(Array.from({ length: 10 }, (_, i) => `old ${OLD - 1 - i}`));
    expect(since.next).toBeUndefined();
    // every message once, in order, by cursor
    const bodies: string[] = [];
    let before: string | undefined;
    do {
      const page = (await engine.listMessages(carol, { limit: 100, before }))!;
      bodies.push(...page.items.map((m) => m.body));
      before = page.next;
    } while (before);
    expect(bodies).toEqual(Array.from({ length: OLD }, (_, i) => `old ${OLD - 1 - i}`));
    await expect(engine.listMessages(carol, { limit: 3, before: "not a cursor" })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
  }, 120000);
});

describe("large media through the real whatsapp-web.js", () => {
  it("downloads a 40 MiB inbound document with downloadMedia(), byte for byte", async () => {
    const { engine } = await linked();
    const doc = randomBytes(40 * 1024 * 1024);
    const incoming = next(engine, "message", 120000);
    const q = new URLSearchParams({ to: ALICE, body: "", filename: "big.pdf" });
    const r = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: doc, headers: { "content-type": "application/pdf" }, timeoutMs: 120000 });
    expect(r.status).toBe(202);
    const [msg] = await incoming;
    expect(msg.media).toMatchObject({ mimetype: "application/pdf", filename: "big.pdf" });
    const data = (msg.media as { data: string }).data;
    expect(createHash("sha256").update(Buffer.from(data, "base64")).digest("hex")).toBe(createHash("sha256").update(doc).digest("hex"));
  }, 180000);
});

describe("Chromium under a running session", () => {
  it("notices a killed browser, restarts it from LocalAuth without a QR (through the launch queue), and leaves nothing of the old one", async () => {
    const queue = new LaunchQueue({ concurrency: 1, staggerMs: 0 });
    const run = queue.run.bind(queue);
    let relaunches = 0;
    queue.run = (task, signal) => {
      relaunches++;
      return run(task, signal);
    };
    const { engine, names } = await linked({ relaunchQueue: queue });
    const oldPid = engine.browserPid()!;
    const oldTree = (await processTree(oldPid)).map((p) => p.pid);
    expect(oldTree.length).toBeGreaterThan(1);
    // what the watchdog and wafleet_session_memory_bytes read: PSS of the whole browser tree
    expect(await engine.memoryUsage()).toBeGreaterThan(10 * 1024 * 1024);

    const readyAgain = next(engine, "ready");
    process.kill(oldPid, "SIGKILL");
    await readyAgain;

    expect(names()).toEqual(["qr", "authenticated", "ready", "disconnected", "authenticated", "ready"]);
    expect(relaunches).toBe(1);
    const newPid = engine.browserPid()!;
    expect(newPid).not.toBe(oldPid);
    await waitFor("the old browser's processes gone", () => oldTree.every((pid) => !isAlive(pid)));
    const newTree = new Set((await processTree(newPid)).map((p) => p.pid));
    expect((await chromiumUnder(dir)).filter((pid) => !newTree.has(pid))).toEqual([]);
    // it works, and the network never saw two connections for the device
    const sent = await engine.sendMessage(CONTACT, { text: "after the crash" });
    expect(sent.ack).toBe("SERVER");
    expect((await sim.get("/sim/stats")).json).toMatchObject({ conflicts: 0, linkedConnections: 1 });
  });

  it("reports the crash as disconnected BROWSER_CRASHED", async () => {
    const { engine } = await linked();
    const disconnected = next(engine, "disconnected");
    process.kill(engine.browserPid()!, "SIGKILL");
    expect(await disconnected).toEqual(["BROWSER_CRASHED"]);
    await next(engine, "ready");
  });

  it("stopped and deleted while its relaunch waits in the launch queue: nothing comes back", async () => {
    const queue = new LaunchQueue({ concurrency: 1, staggerMs: 0 });
    const { engine } = await linked({ relaunchQueue: queue, restart: { baseMs: 20, maxMs: 40 } });
    // another session's launch holds the only slot
    let release!: () => void;
    const blocker = queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const lost = next(engine, "disconnected");
    process.kill(engine.browserPid()!, "SIGKILL");
    await lost;
    await waitFor("the relaunch queued", () => queue.pending === 1);
    await engine.stop();
    await fs.rm(path.join(dir, "auth"), { recursive: true, force: true });
    release();
    await blocker;
    await waitFor("the queue drained", () => queue.pending === 0 && queue.active === 0);
    expect(await exists(path.join(dir, "auth"))).toBe(false);
    await expectNoChromiumUnder(dir);
  });

  it("gives up after its restart limit: failed, and no browser left", async () => {
    const { engine, names } = await linked({ restart: { maxAttempts: 1, baseMs: 50, maxMs: 100, stableMs: 3_600_000 } });
    const readyAgain = next(engine, "ready");
    process.kill(engine.browserPid()!, "SIGKILL");
    await readyAgain;
    const failed = next(engine, "failed");
    process.kill(engine.browserPid()!, "SIGKILL");
    const [err] = await failed;
    expect(err).toMatchObject({ code: "ENGINE_ERROR" });
    expect(err.message).toMatch(/gave up after 1 restarts/);
    expect(names().slice(-2)).toEqual(["disconnected", "failed"]);
    await expectNoChromiumUnder(dir);
    expect(engine.info()).toBeUndefined();
  });
});

describe("the page watchdog", () => {
  it("cuts WhatsApp Web off when the node stops beating, with the browser still running, and a fresh browser links again once the node may connect", async () => {
    // mayConnect false stands in for a frozen node: the engine sends no heartbeat
    let mayConnect = true;
    const engine = new WwebjsEngineClass({ workspaceId: "w1", sessionId: "s1", authDir: path.join(dir, "auth"), mayConnect: () => mayConnect }, { ...base, pageWatchdog: { deadlineMs: 1500, beatMs: 300, checkMs: 100 } });
    engines.push(engine);
    const reasons: string[] = [];
    engine.on("disconnected", (reason) => reasons.push(reason));
    const qr = next(engine, "qr");
    await engine.start();
    const ready = next(engine, "ready");
    expect((await sim.post("/sim/link", { qr: (await qr)[0], phone: ALICE })).status).toBe(200);
    await ready;
    const stats = async () => (await sim.get("/sim/stats")).json;

    // beating: connected well past the deadline
    await new Promise((r) => setTimeout(r, 3000));
    expect(await stats()).toMatchObject({ linkedConnections: 1 });
    const pid = engine.browserPid()!;

    mayConnect = false;
    await waitFor("the page to cut its WhatsApp connection", async () => (await stats()).linkedConnections === 0, 10000, 100);
    // the browser runs on: the page cut itself off, nobody killed it
    expect(isAlive(pid)).toBe(true);
    const status = await engine.page()!.evaluate(() => (globalThis as any).__wafleetWatchdog.status());
    expect(status).toMatchObject({ severed: true, reason: expect.stringMatching(/no heartbeat from the node/) });
    // and it stays off: WhatsApp Web's reconnects are refused
    await new Promise((r) => setTimeout(r, 2000));
    expect(await stats()).toMatchObject({ linkedConnections: 0 });

    const readyAgain = next(engine, "ready", 30000);
    mayConnect = true;
    await readyAgain;
    expect(reasons).toEqual(["CONNECTION_LOST", "HEARTBEAT_LOST"]);
    expect(engine.browserPid()).not.toBe(pid);
    await waitFor("the cut-off browser gone", () => !isAlive(pid));
    expect((await engine.sendMessage(CONTACT, { text: "after the cut" })).ack).toBe("SERVER");
    expect(await stats()).toMatchObject({ conflicts: 0, linkedConnections: 1 });
  });

  it("keeps a page whose own main thread stalls connected: the page's stall is not the node's silence", async () => {
    let mayConnect = true;
    const engine = new WwebjsEngineClass({ workspaceId: "w1", sessionId: "s1", authDir: path.join(dir, "auth"), mayConnect: () => mayConnect }, { ...base, pageWatchdog: { deadlineMs: 1500, beatMs: 300, checkMs: 100 } });
    engines.push(engine);
    const qr = next(engine, "qr");
    await engine.start();
    const ready = next(engine, "ready");
    expect((await sim.post("/sim/link", { qr: (await qr)[0], phone: ALICE })).status).toBe(200);
    await ready;
    const reasons: string[] = [];
    engine.on("disconnected", (reason) => reasons.push(reason));
    const pid = engine.browserPid();
    // the page busy for twice the deadline (WhatsApp Web's own work can block its thread), and no
    // beat queued behind it: the page's first check after the stall must not count the stall
    mayConnect = false;
    await engine.page()!.evaluate(() => {
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        // busy
      }
    });
    mayConnect = true;
    await new Promise((r) => setTimeout(r, 1000));
    expect(await engine.page()!.evaluate(() => (globalThis as any).__wafleetWatchdog.status().severed)).toBe(false);
    // the same browser, never disconnected
    expect(engine.browserPid()).toBe(pid);
    expect(reasons).toEqual([]);
    expect((await engine.sendMessage(CONTACT, { text: "still here" })).ack).toBe("SERVER");
  });
});

describe("WhatsApp's connection", () => {
  it("survives a network restart: CONNECTION_LOST, then ready again, and a send in flight is delivered exactly once", async () => {
    // a network of its own, on a fixed port with its ledger on disk, so it can die and come back
    const port = await freePort();
    const stateFile = path.join(dir, "sim-state.json");
    let own = await startTestSim({ port, stateFile });
    try {
      const opts = await fakePageOptions(path.join(dir, "own-page"), own.url);
      const e = newEngine(opts);
      const qr = next(e.engine, "qr");
      await e.engine.start();
      const ready = next(e.engine, "ready");
      expect((await own.post("/sim/link", { qr: (await qr)[0], phone: ALICE })).status).toBe(200);
      await ready;

      // the send is accepted, but its SERVER ack is still on its way when the network dies
      await own.post("/sim/faults", { latencyMs: 300 });
      const sending = e.engine.sendMessage(CONTACT, { text: "across the restart" });
      await waitFor("the network to accept the send", async () => own.network.ledgerView().outgoing.length === 1, 5000, 5);
      const lost = next(e.engine, "disconnected");
      await own.close();
      expect(await lost).toEqual(["CONNECTION_LOST"]);

      const readyAgain = next(e.engine, "ready");
      own = await startTestSim({ port, stateFile });
      await readyAgain;
      await expect(sending).resolves.toMatchObject({ ack: "SERVER", to: `${CONTACT}@c.us` });
      expect(e.names().filter((n) => n !== "message_ack")).toEqual(["qr", "authenticated", "ready", "disconnected", "authenticated", "ready"]);
      expect((await own.get("/sim/stats")).json).toMatchObject({ sent: 1, duplicates: 1, conflicts: 0 });
      expect((await own.get("/sim/ledger")).json.outgoing).toEqual([expect.objectContaining({ body: "across the restart", deliveries: 1 })]);
    } finally {
      await own.close();
    }
  });
});

describe("starting", () => {
  it("fails start() with ENGINE_TIMEOUT when the page never loads (the library waits forever), leaving no browser", async () => {
    // a script the page must load first, from a server that never answers: `load` never fires
    const hung = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/never.js`;
      const page = await writeFakePage(path.join(dir, "hung-page"), { version: "hung", blockingScriptUrl: url });
      const { engine, names } = newEngine({ ...page, startTimeoutMs: 4000 });
      const started = engine.start();
      await waitFor("Chromium up", () => engine.browserPid());
      await expect(started).rejects.toMatchObject({ code: "ENGINE_TIMEOUT", message: expect.stringMatching(/initialize deadline/) });
      await expectNoChromiumUnder(dir);
      expect(names()).toEqual([]);
    } finally {
      hung.closeAllConnections();
      hung.close();
    }
  });

  it("starts on a profile a killed node left behind: the stale browser is killed and its lock files replaced", async () => {
    const profile = path.join(dir, "auth", "session-s1");
    await fs.mkdir(profile, { recursive: true });
    // a browser still holding the profile, as after the node that launched it was SIGKILLed
    const stale = await launchChromium({ executablePath: CHROME_PATH, userDataDir: profile, args: withSandboxFlag([...LEAN_CHROME_ARGS, ...FAKE_PAGE_CHROME_ARGS]) });
    stale.browser.disconnect();
    expect(isAlive(stale.pid)).toBe(true);
    const lock = await fs.readlink(path.join(profile, "SingletonLock"));
    expect(lock).toMatch(new RegExp(`-${stale.pid}$`));

    const { engine, names } = newEngine();
    await engine.start();
    expect(names()).toEqual(["qr"]);
    expect(isAlive(stale.pid)).toBe(false);
    expect(await fs.readlink(path.join(profile, "SingletonLock"))).toMatch(new RegExp(`-${engine.browserPid()}$`));
  });

  it("starts despite Singleton files naming a browser on another host (a failover from a dead node)", async () => {
    const profile = path.join(dir, "auth", "session-s1");
    await fs.mkdir(profile, { recursive: true });
    await fs.symlink("dead-node-host-4242", path.join(profile, "SingletonLock"));
    await fs.symlink("dead-node-host-4242", path.join(profile, "SingletonCookie"));
    await fs.symlink("/tmp/gone/SingletonSocket", path.join(profile, "SingletonSocket"));
    const { engine, names } = newEngine();
    await engine.start();
    expect(names()).toEqual(["qr"]);
  });

  it("names CHROME_PATH when Chromium is missing", async () => {
    expect(() => assertChromium(path.join(dir, "no-chromium"))).toThrow(/CHROME_PATH/);
    const { engine } = newEngine({ chromePath: path.join(dir, "no-chromium") });
    await expect(engine.start()).rejects.toMatchObject({ code: "ENGINE_ERROR", message: expect.stringMatching(/CHROME_PATH/) });
  });
});

// The SessionEngine contract, run against both engines on a real simulated network: the simulator
// engine, and the wwebjs engine (real whatsapp-web.js 1.34.7, real puppeteer, real Chromium,
// LocalAuth) on the fake WhatsApp Web page. Same sequences, same events in the same order, same
// persistence; the network's ledger and /sim/stats are the oracle.
import { once } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import { SimulatorEngine } from "../../lib/engines/simulator";
import type { EngineEvents, SessionEngine } from "../../lib/engines/types";
import { WwebjsEngine } from "../../lib/engines/wwebjs";
import { BaileysEngine, simulatedEndpoint } from "../../lib/engines/baileys";
import type { WwebjsEngineOptions } from "../../lib/engines/wwebjs";
import { ENGINE_EVENTS, expectNoChromiumUnder, fakePageOptions } from "../helpers/chromium";
import { tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550001111";
const CONTACT = "4915112345678";

interface Kit {
  name: string;
  /** What the engine does not do (yet): those tests check the refusal instead. */
  lacks?: { media?: true; pairingCode?: true; pushname?: true; imageFilename?: true };
  /** A new engine for the session `s1` with its auth folder at `authDir`. */
  make(authDir: string): SessionEngine;
}

let sim: TestSim;
let root: string;
let wwebjsOpts: WwebjsEngineOptions;

const kits: Kit[] = [
  {
    name: "simulator",
    make: (authDir) => new SimulatorEngine({ workspaceId: "w1", sessionId: "s1", authDir }, { url: sim.url, startTimeoutMs: 20000, sendTimeoutMs: 10000, reconnect: { baseMs: 50, maxMs: 500 } }),
  },
  {
    name: "wwebjs",
    make: (authDir) => new WwebjsEngine({ workspaceId: "w1", sessionId: "s1", authDir }, wwebjsOpts),
  },
  {
    // the real Baileys client on the network's fake WhatsApp server (the push name reaches it by
    // app-state sync, as from WhatsApp)
    name: "baileys",
    // WhatsApp's ImageMessage has no file name: an image's name does not cross the real protocol
    lacks: { imageFilename: true },
    make: (authDir) => new BaileysEngine({ workspaceId: "w1", sessionId: "s1", authDir }, { endpoint: simulatedEndpoint(sim.url), startTimeoutMs: 20000, sendTimeoutMs: 10000, reconnect: { baseMs: 50, maxMs: 500 } }),
  },
];

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("contract");
  wwebjsOpts = await fakePageOptions(path.join(root, "fake-wa-web"), sim.url);
});

afterAll(async () => {
  await sim?.close();
  await expectNoChromiumUnder(root);
  await fs.rm(root, { recursive: true, force: true });
});

describe.each(kits)("the $name engine", (kit) => {
  let dir: string;
  const engines: SessionEngine[] = [];

  beforeEach(async () => {
    await sim.post("/sim/reset");
    dir = await fs.mkdtemp(path.join(root, `${kit.name}-`));
  });

  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop()));
    await expectNoChromiumUnder(dir);
  });

  function newEngine(authDir = path.join(dir, "auth")) {
    const engine = kit.make(authDir);
    const events: unknown[][] = [];
    for (const name of ENGINE_EVENTS) engine.on(name, (...args: unknown[]) => events.push([name, ...args]));
    engines.push(engine);
    return { engine, events, names: () => events.map((e) => e[0]) };
  }

  const next = <K extends keyof EngineEvents>(engine: SessionEngine, event: K, timeoutMs = 20000) => once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;
  const stats = async () => (await sim.get("/sim/stats")).json;

  async function link(input: { qr: string } | { code: string }, phone = ALICE) {
    const res = await sim.post("/sim/link", { ...input, phone });
    if (res.status !== 200) throw new Error(`link failed: ${res.status} ${res.body.toString()}`);
  }

  async function linkedEngine(authDir?: string) {
    const e = newEngine(authDir);
    const qr = next(e.engine, "qr");
    await e.engine.start();
    const [code] = await qr;
    const ready = next(e.engine, "ready");
    await link({ qr: code });
    await ready;
    return e;
  }

  it("links by QR (qr, authenticated, ready) and comes back from its auth folder without a QR", async () => {
    const first = newEngine();
    await first.engine.start();
    expect(first.names()).toEqual(["qr"]);
    expect(typeof first.events[0][1]).toBe("string");
    expect(first.events[0][2]).toBeGreaterThan(Date.now());
    const ready = next(first.engine, "ready");
    await link({ qr: first.events[0][1] as string });
    const [me] = await ready;
    expect(first.names()).toEqual(["qr", "authenticated", "ready"]);
    expect(me).toMatchObject({ wid: `${ALICE}@c.us`, phone: ALICE, platform: "sim", ...(kit.lacks?.pushname ? {} : { pushname: `Sim ${ALICE}` }) });
    expect(first.engine.info()).toEqual(me);
    await first.engine.stop();
    expect(first.engine.info()).toBeUndefined();

    // a new engine on the same folder, as after a process restart
    const second = newEngine();
    await second.engine.start();
    await waitFor("ready after resume", () => second.names().includes("ready"));
    expect(second.names()).toEqual(["authenticated", "ready"]);
    expect(second.engine.info()).toMatchObject({ wid: `${ALICE}@c.us` });
    expect(await stats()).toMatchObject({ conflicts: 0, devices: 1, linkedConnections: 1 });
  });

  it("sends through the network (SERVER, then DEVICE and READ acks) and receives a contact's message", async () => {
    const { engine, events } = await linkedEngine();
    const sent = await engine.sendMessage(CONTACT, { text: "hello from the contract" });
    expect(sent).toMatchObject({ to: `${CONTACT}@c.us`, ack: "SERVER" });
    expect(typeof sent.timestamp).toBe("number");
    await waitFor("the DEVICE ack", () => events.some((e) => e[0] === "message_ack" && e[1] === sent.id && e[2] === "DEVICE"));
    const inbox = (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages;
    expect(inbox.map((m: { body: string }) => m.body)).toEqual(["hello from the contract"]);
    await waitFor("the READ ack", () => events.some((e) => e[0] === "message_ack" && e[1] === sent.id && e[2] === "READ"));
    expect(events.filter((e) => e[0] === "message_ack" && e[1] === sent.id).map((e) => e[2])).toEqual(["SERVER", "DEVICE", "READ"]);

    const incoming = next(engine, "message");
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "hi back" });
    const [msg] = await incoming;
    expect(msg).toMatchObject({ from: `${CONTACT}@c.us`, to: `${ALICE}@c.us`, body: "hi back", fromMe: false });
    expect(typeof msg.id).toBe("string");
    await waitFor("the network to forget the delivered message", async () => (await stats()).queued === 0);
    expect(await stats()).toMatchObject({ sent: 1, delivered: 2, duplicates: 0, conflicts: 0 });
  });

  if (kit.lacks?.media) {
    it("refuses media with NOT_SUPPORTED (nothing reaches the network)", async () => {
      const { engine } = await linkedEngine();
      await expect(engine.sendMessage(CONTACT, { media: { mimetype: "image/png", data: "AAAA" }, caption: "x" })).rejects.toMatchObject({ code: "NOT_SUPPORTED" });
      expect(await stats()).toMatchObject({ sent: 0 });
    });
  }

  /** A test of something the engine lacks is replaced by the test of its refusal (above). */
  const unless = (lacking: boolean | undefined) => (lacking ? () => undefined : it);

  unless(kit.lacks?.media)("sends media with a caption, and receives a contact's media, through the network", async () => {
    const { engine } = await linkedEngine();
    // a 1x1 PNG and a small PDF-ish document
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    const sent = await engine.sendMessage(CONTACT, { media: { mimetype: "image/png", data: png, filename: "dot.png" }, caption: "a dot" });
    expect(sent).toMatchObject({ to: `${CONTACT}@c.us`, ack: "SERVER" });
    const inbox = (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages;
    expect(inbox).toEqual([expect.objectContaining({ body: "a dot", media: { mimetype: "image/png", data: png, ...(kit.lacks?.imageFilename ? {} : { filename: "dot.png" }) } })]);

    const doc = Buffer.from("%PDF-1.4 a tiny document").toString("base64");
    const incoming = next(engine, "message");
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "the contract", media: { mimetype: "application/pdf", data: doc, filename: "contract.pdf" } });
    const [msg] = await incoming;
    expect(msg).toMatchObject({ from: `${CONTACT}@c.us`, body: "the contract", media: { mimetype: "application/pdf", data: doc, filename: "contract.pdf" } });
  });

  it("delivers messages that arrived while it was stopped once it is back", async () => {
    const { engine } = await linkedEngine();
    await engine.stop();
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "while you were away" });
    expect(await stats()).toMatchObject({ queued: 1 });
    const again = newEngine();
    const incoming = next(again.engine, "message");
    await again.engine.start();
    const [msg] = await incoming;
    expect(msg.body).toBe("while you were away");
    expect(again.names().filter((n) => n !== "message")).toEqual(["authenticated", "ready"]);
    await waitFor("the queue to drain", async () => (await stats()).queued === 0);
  });

  if (kit.lacks?.pairingCode) {
    it("refuses a pairing code with NOT_SUPPORTED and keeps showing its QR", async () => {
      const { engine, names } = newEngine();
      await engine.start();
      await expect(engine.requestPairingCode(`+${ALICE}`)).rejects.toMatchObject({ code: "NOT_SUPPORTED" });
      expect(names()).toEqual(["qr"]);
    });
  }

  unless(kit.lacks?.pairingCode)("links with a pairing code instead of a QR", async () => {
    const { engine, names } = newEngine();
    await engine.start();
    const code = await engine.requestPairingCode(`+${ALICE}`);
    expect(code).toMatch(/^[A-Z0-9]{8}$/);
    // a code typed wrong, or on another phone, links nothing
    const wrong = code.replace(/^./, (c) => (c === "A" ? "B" : "A"));
    for (const [typed, phone] of [[wrong, ALICE], [code, CONTACT]]) {
      const res = await sim.post("/sim/link", { code: typed, phone });
      expect([res.status, res.json.error?.code]).toEqual([404, "CODE_NOT_FOUND"]);
    }
    expect(await stats()).toMatchObject({ devices: 0 });
    const ready = next(engine, "ready");
    await link({ code });
    await ready;
    expect(names()).toEqual(["qr", "code", "authenticated", "ready"]);
    await expect(engine.requestPairingCode(ALICE)).rejects.toMatchObject({ code: "QR_NOT_AVAILABLE" });
  });

  it("on an unlink from the phone: disconnected LOGOUT, then a new QR, and info() is gone", async () => {
    const { engine, events } = await linkedEngine();
    const qr = next(engine, "qr");
    await sim.post("/sim/unlink", { phone: ALICE });
    await qr;
    expect(events.slice(3).map((e) => e.slice(0, 2))).toEqual([["disconnected", "LOGOUT"], ["qr", expect.any(String)]]);
    expect(engine.info()).toBeUndefined();
    expect(await stats()).toMatchObject({ devices: 0 });
    // the new QR links again
    const ready = next(engine, "ready");
    await link({ qr: events[events.length - 1][1] as string });
    await ready;
  });

  it("with credentials the network no longer knows: disconnected UNPAIRED, then a QR", async () => {
    const first = await linkedEngine();
    await first.engine.stop();
    await sim.post("/sim/reset");
    const { engine, events } = newEngine();
    await engine.start();
    expect(events.map((e) => e.slice(0, 2))).toEqual([["disconnected", "UNPAIRED"], ["qr", expect.any(String)]]);
  });

  it("on a conflict (the same device connected twice): disconnected CONFLICT, and the older engine stops for good", async () => {
    const first = await linkedEngine();
    await first.engine.stop();
    // a copy of the auth folder taken while stopped: the same linked device on a second machine
    await fs.cp(path.join(dir, "auth"), path.join(dir, "auth-copy"), { recursive: true });
    const older = newEngine();
    await older.engine.start();
    await waitFor("the older engine ready", () => older.names().includes("ready"));
    const conflict = next(older.engine, "disconnected");
    const newer = newEngine(path.join(dir, "auth-copy"));
    await newer.engine.start();
    expect(await conflict).toEqual(["CONFLICT"]);
    expect(older.engine.info()).toBeUndefined();
    await expect(older.engine.sendMessage(CONTACT, { text: "x" })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
    await waitFor("the newer engine ready", () => newer.names().includes("ready"));
    expect(newer.names()).toEqual(["authenticated", "ready"]);
    // the newer one works, and the older one never came back
    await newer.engine.sendMessage(CONTACT, { text: "after the conflict" });
    expect(older.names()).toEqual(["authenticated", "ready", "disconnected"]);
    expect(await stats()).toMatchObject({ conflicts: 1, linkedConnections: 1 });
    if (kit.name === "wwebjs") await expectNoChromiumUnder(path.join(dir, "auth"));
  });

  it("when WhatsApp restricts the account: disconnected TOS_BLOCK, then failed, and it stays stopped", async () => {
    const { engine, events } = await linkedEngine();
    const failed = next(engine, "failed");
    expect((await sim.post("/sim/accounts/" + ALICE + "/restrict", { reason: "TOS_BLOCK" })).status).toBe(200);
    const [err] = await failed;
    expect(err).toMatchObject({ code: "ENGINE_ERROR" });
    expect(events.slice(3).map((e) => e.slice(0, 2))).toEqual([["disconnected", "TOS_BLOCK"], ["failed", expect.anything()]]);
    await expect(engine.sendMessage(CONTACT, { text: "x" })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
    // no reconnect attempt reaches the network (it would be refused again)
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stats()).toMatchObject({ linkedConnections: 0 });
    expect(events.length).toBe(5);
  });

  it("logout unlinks the device on the network and empties the auth folder", async () => {
    const { engine } = await linkedEngine();
    await engine.logout();
    expect(await stats()).toMatchObject({ devices: 0 });
    expect(await fs.readdir(path.join(dir, "auth"))).toEqual([]);
    expect(engine.info()).toBeUndefined();
    await expectNoChromiumUnder(dir);
    // nothing to resume: a new engine shows a QR
    const again = newEngine();
    await again.engine.start();
    expect(again.names()).toEqual(["qr"]);
  });

  it("stops during start: start() rejects with SESSION_NOT_READY and nothing is left running", async () => {
    const { engine, names } = newEngine();
    const starting = engine.start();
    await engine.stop();
    await expect(starting).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
    await engine.stop();
    await waitFor("no connections", async () => (await stats()).connections === 0);
    await expectNoChromiumUnder(dir);
    expect(names()).toEqual([]);
  });

  it("refuses to send while not ready, with SESSION_NOT_READY", async () => {
    const { engine } = newEngine();
    await expect(engine.sendMessage(CONTACT, { text: "x" })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
    await engine.start();
    await expect(engine.sendMessage(CONTACT, { text: "x" })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
  });
});

// The simulator engine against a real simulated network: whatsapp-web.js's event order, credentials
// on disk, acks, reconnects across network restarts, unlinks, conflicts and a clean stop.
import { once } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import { SimulatorEngine } from "../../lib/engines/simulator";
import type { SimulatorEngineOptions } from "../../lib/engines/simulator";
import type { EngineEvents } from "../../lib/engines/types";
import { freePort, tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550001111";
const CONTACT = "4915112345678";
const EVENTS: (keyof EngineEvents)[] = ["qr", "code", "authenticated", "ready", "message", "message_ack", "disconnected", "failed"];

let sim: TestSim;
let dir: string;
const engines: SimulatorEngine[] = [];

beforeEach(async () => {
  dir = await tempDir("sim-engine");
});

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await sim?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** An engine whose events are recorded in order as [name, ...args]. */
function newEngine(authDir = path.join(dir, "auth"), opts: Partial<SimulatorEngineOptions> = {}) {
  const engine = new SimulatorEngine(
    { workspaceId: "w1", sessionId: "s1", authDir },
    { url: sim.url, startTimeoutMs: 5000, sendTimeoutMs: 5000, reconnect: { baseMs: 20, maxMs: 200 }, ...opts },
  );
  const events: unknown[][] = [];
  for (const name of EVENTS) engine.on(name, (...args: unknown[]) => events.push([name, ...args]));
  engines.push(engine);
  return { engine, events, names: () => events.map((e) => e[0]) };
}

function next<K extends keyof EngineEvents>(engine: SimulatorEngine, event: K, timeoutMs = 5000): Promise<EngineEvents[K]> {
  return once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;
}

async function scan(qr: string, phone = ALICE): Promise<void> {
  const res = await sim.post("/sim/link", { qr, phone });
  if (res.status !== 200) throw new Error(`link failed: ${res.body.toString()}`);
}

/** A linked, ready engine. */
async function linkedEngine(authDir?: string) {
  const e = newEngine(authDir);
  const [qr] = await Promise.all([next(e.engine, "qr"), e.engine.start()]).then(([args]) => args);
  const ready = next(e.engine, "ready");
  await scan(qr);
  await ready;
  return e;
}

const stats = async () => (await sim.get("/sim/stats")).json;
const credsFile = (authDir = path.join(dir, "auth")) => path.join(authDir, "creds.json");
const exists = (file: string) => fs.access(file).then(() => true, () => false);

describe("linking and resuming", () => {
  it("shows a QR, then emits authenticated and ready once scanned, storing credentials", async () => {
    sim = await startTestSim();
    const { engine, events, names } = newEngine();
    await engine.start();
    expect(names()).toEqual(["qr"]);
    const qr = events[0][1] as string;
    expect(typeof events[0][2]).toBe("number");

    const ready = next(engine, "ready");
    await scan(qr);
    const [me] = await ready;
    expect(names()).toEqual(["qr", "authenticated", "ready"]);
    expect(me).toEqual({ wid: `${ALICE}@c.us`, phone: ALICE, pushname: `Sim ${ALICE}`, platform: "sim" });
    expect(engine.info()).toEqual(me);
    expect(JSON.parse(await fs.readFile(credsFile(), "utf8"))).toMatchObject({ phone: ALICE, deviceId: expect.any(String), secret: expect.any(String) });
  });

  it("resumes from its auth folder without a QR (a new engine, as after a process restart)", async () => {
    sim = await startTestSim();
    const first = await linkedEngine();
    await first.engine.stop();
    await waitFor("the network to see the stop", async () => (await stats()).connections === 0, 3000);

    const second = newEngine();
    await second.engine.start();
    expect(second.names()).toEqual(["authenticated", "ready"]);
    expect(second.engine.info()?.phone).toBe(ALICE);
    expect(await stats()).toMatchObject({ conflicts: 0, linkedConnections: 1 });
  });

  it("links with a pairing code instead of a QR", async () => {
    sim = await startTestSim();
    const { engine, names } = newEngine();
    await engine.start();
    const code = await engine.requestPairingCode(`+${ALICE}`);
    expect(code).toMatch(/^[A-Z0-9]{8}$/);
    const ready = next(engine, "ready");
    expect((await sim.post("/sim/link", { code, phone: ALICE })).status).toBe(200);
    await ready;
    expect(names()).toEqual(["qr", "code", "authenticated", "ready"]);
  });

  it("treats start() while running as a no-op", async () => {
    sim = await startTestSim();
    const { engine } = newEngine();
    await Promise.all([engine.start(), engine.start()]);
    await engine.start();
    expect((await stats()).connections).toBe(1);
  });
});

describe("messages", () => {
  it("resolves a send on the SERVER ack and reports DEVICE and READ acks as they come", async () => {
    sim = await startTestSim();
    const { engine } = await linkedEngine();
    await expect(engine.sendMessage(`${CONTACT}`, { text: "hello" }, { messageId: "m-1" })).resolves.toEqual({
      id: "m-1",
      to: `${CONTACT}@c.us`,
      ack: "SERVER",
      timestamp: expect.any(Number),
    });
    expect(await next(engine, "message_ack")).toEqual(["m-1", "DEVICE"]);
    const read = next(engine, "message_ack");
    const inbox = (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages;
    expect(inbox).toEqual([expect.objectContaining({ id: "m-1", from: `${ALICE}@c.us`, body: "hello" })]);
    expect(await read).toEqual(["m-1", "READ"]);

    const withMedia = await engine.sendMessage(`${CONTACT}@c.us`, { caption: "a pic", media: { mimetype: "image/png", data: "iVBORw0K" } });
    expect(withMedia.id).toMatch(/^SIM/);
    const [, second] = (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages;
    expect(second).toMatchObject({ body: "a pic", media: { mimetype: "image/png", data: "iVBORw0K" } });
  });

  it("emits incoming messages and acks them, so the network's queue drains", async () => {
    sim = await startTestSim();
    const { engine } = await linkedEngine();
    const incoming = next(engine, "message");
    const sent = await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "hi there" });
    const [msg] = await incoming;
    expect(msg).toEqual({ id: sent.json.id, from: `${CONTACT}@c.us`, to: `${ALICE}@c.us`, body: "hi there", timestamp: expect.any(Number), fromMe: false, chatId: `${CONTACT}@c.us`, type: "text" });
    await waitFor("the ack", async () => (await stats()).queued === 0 && (await stats()).delivered === 1, 3000);
  });

  it("holds back its receipt while a listener defers it, and sends it when the listener says so", async () => {
    sim = await startTestSim();
    const { engine } = await linkedEngine();
    let finish: (() => void) | undefined;
    engine.on("message", (_msg, receipt) => {
      finish = receipt?.defer();
    });
    const incoming = next(engine, "message");
    const sent = await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "durable first" });
    await incoming;
    await new Promise((r) => setTimeout(r, 200));
    expect(sim.network.ledgerView().incoming.find((m) => m.id === sent.json.id)?.acked).toBe(false);
    finish!();
    await waitFor("the deferred ack", () => sim.network.ledgerView().incoming.find((m) => m.id === sent.json.id)?.acked === true, 3000);
  });

  it("refuses to send when not ready, with code SESSION_NOT_READY", async () => {
    sim = await startTestSim();
    const { engine } = newEngine();
    await expect(engine.sendMessage(CONTACT, { text: "x" })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
    await engine.start();
    await expect(engine.sendMessage(CONTACT, { text: "x" })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
  });
});

describe("connection loss", () => {
  it("survives a network restart: CONNECTION_LOST, then ready again, and a send in flight is delivered exactly once", async () => {
    const stateFile = path.join(dir, "sim-state.json");
    const port = await freePort();
    sim = await startTestSim({ port, stateFile });
    const { engine, names } = await linkedEngine();

    // Slow the network so the send is accepted but its SERVER ack is still on the way when the network dies.
    await sim.post("/sim/faults", { latencyMs: 300 });
    const sending = engine.sendMessage(CONTACT, { text: "across the restart" }, { messageId: "in-flight" });
    await waitFor("the network to accept the send", async () => sim.network.ledgerView().outgoing.length === 1, 3000, 5);
    const lost = next(engine, "disconnected");
    await sim.close();
    expect(await lost).toEqual(["CONNECTION_LOST"]);

    const readyAgain = next(engine, "ready");
    sim = await startTestSim({ port, stateFile });
    await readyAgain;
    await expect(sending).resolves.toMatchObject({ id: "in-flight", ack: "SERVER" });
    expect(names().filter((n) => n !== "message_ack")).toEqual(["qr", "authenticated", "ready", "disconnected", "authenticated", "ready"]);
    expect(await stats()).toMatchObject({ sent: 1, duplicates: 1, conflicts: 0 });
    expect((await sim.get("/sim/ledger")).json.outgoing).toEqual([expect.objectContaining({ id: "in-flight", deliveries: 1 })]);
    expect((await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages).toHaveLength(1);
  });

  it("rejects start() promptly when the network cannot be reached", async () => {
    sim = await startTestSim();
    const url = `http://127.0.0.1:${await freePort()}`;
    const { engine } = newEngine(undefined, { url });
    await expect(engine.start()).rejects.toThrow(/Cannot connect to the simulated WhatsApp network/);
  });
});

describe("unlinking, conflicts and stopping", () => {
  it("on an unlink from the phone: disconnected LOGOUT, credentials deleted, a new QR", async () => {
    sim = await startTestSim();
    const { engine, events } = await linkedEngine();
    const qr = next(engine, "qr");
    await sim.post("/sim/unlink", { phone: ALICE });
    await qr;
    expect(events.slice(3).map((e) => e.slice(0, 2))).toEqual([["disconnected", "LOGOUT"], ["qr", expect.any(String)]]);
    expect(await exists(credsFile())).toBe(false);
    expect(engine.info()).toBeUndefined();
  });

  it("with credentials the network does not know: disconnected UNPAIRED, credentials deleted, a QR", async () => {
    sim = await startTestSim();
    await fs.mkdir(path.join(dir, "auth"), { recursive: true });
    await fs.writeFile(credsFile(), JSON.stringify({ deviceId: "dev_gone", secret: "s", phone: ALICE }));
    const { engine, events } = newEngine();
    await engine.start();
    expect(events.map((e) => e.slice(0, 2))).toEqual([["disconnected", "UNPAIRED"], ["qr", expect.any(String)]]);
    expect(await exists(credsFile())).toBe(false);
  });

  it("on a conflict: disconnected CONFLICT and stops for good", async () => {
    sim = await startTestSim();
    const first = await linkedEngine();
    const conflict = next(first.engine, "disconnected");
    const second = newEngine(path.join(dir, "auth")); // same auth folder: the same device
    await second.engine.start();
    expect(await conflict).toEqual(["CONFLICT"]);
    expect(first.engine.info()).toBeUndefined();
    await expect(first.engine.sendMessage(CONTACT, { text: "x" })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
    // A negative: give a reconnect (every 20-200 ms here) time to happen, and check that none did.
    await new Promise((r) => setTimeout(r, 400));
    expect(await stats()).toMatchObject({ conflicts: 1, connections: 1, linkedConnections: 1 });
    expect(second.names()).toEqual(["authenticated", "ready"]);
  });

  it("stops during start: start() rejects, nothing is left running", async () => {
    sim = await startTestSim();
    const { engine, names } = newEngine();
    const starting = engine.start();
    await engine.stop();
    await expect(starting).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
    await engine.stop(); // idempotent
    await waitFor("no connections", async () => (await stats()).connections === 0, 3000);
    expect(names()).toEqual([]);
  });

  it("keeps credentials on stop and deletes them on logout, unlinking the device", async () => {
    sim = await startTestSim();
    const { engine, names } = await linkedEngine();
    await engine.stop();
    expect(await exists(credsFile())).toBe(true);
    await engine.start();
    expect(names().slice(-2)).toEqual(["authenticated", "ready"]);
    await engine.logout();
    expect(await fs.readdir(path.join(dir, "auth"))).toEqual([]);
    expect(await stats()).toMatchObject({ devices: 0, connections: 0 });
    expect(engine.info()).toBeUndefined();
  });
});

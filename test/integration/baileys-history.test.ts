// The baileys engine's store, end to end with the real Baileys client against the fake WhatsApp
// server: a newly linked device learns the account's chats and their recent messages from the
// phone's history sync (not as new messages), with the contacts' push names, and the names saved on
// the phone by app state; its store is on disk
// under auth/store/, survives a restart, and nothing is written to it once the engine is stopped.
import { once } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import { BaileysEngine, simulatedEndpoint } from "../../lib/engines/baileys";
import type { EngineEvents, EngineMessage, SessionEngine } from "../../lib/engines/types";
import { tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ME = "15550008001";
const ANA = "4915100008002";
const BEN = "4915100008003";
let sim: TestSim;
let root: string;

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("baileys-history");
});

afterAll(async () => {
  await sim?.close();
  await fs.rm(root, { recursive: true, force: true });
});

function next<K extends keyof EngineEvents>(engine: SessionEngine, event: K, timeoutMs = 30000) {
  return once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;
}

/** A baileys engine on `authDir`, linked to `phone` (by QR when it is new), ready; every message it receives is in `received`. */
async function linked(authDir: string, received: EngineMessage[] = [], phone = ME, historyTimeoutMs?: number): Promise<BaileysEngine> {
  const engine = new BaileysEngine({ workspaceId: "w", sessionId: "s", authDir }, { endpoint: simulatedEndpoint(sim.url), startTimeoutMs: 20000, sendTimeoutMs: 10000, ...(historyTimeoutMs ? { historyTimeoutMs } : {}) });
  engine.on("message", (m) => void received.push(m));
  const shown = next(engine, "qr");
  const ready = next(engine, "ready");
  await engine.start();
  const [qr] = await shown;
  expect((await sim.post("/sim/link", { qr, phone })).status).toBe(200);
  await ready;
  return engine;
}

async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true })) {
    const st = await fs.stat(path.join(dir, entry));
    if (st.isFile()) out[entry] = `${st.size}:${st.mtimeMs}:${st.ino}`;
  }
  return out;
}

it("a new device gets the account's chats and recent messages by history sync, keeps them across a restart, and writes nothing once stopped", async () => {
  // a first device: a conversation with Ana and one with Ben, then it is unlinked
  await sim.post(`/sim/contacts/${ANA}/profile`, { pushname: "Ana Shop" });
  const first = await linked(path.join(root, "first"));
  await first.sendMessage(ANA, { text: "hello Ana" });
  const got: EngineMessage[] = [];
  first.on("message", (m) => void got.push(m));
  await sim.post(`/sim/contacts/${ANA}/send`, { to: ME, body: "hi, how can I help?" });
  await sim.post(`/sim/contacts/${BEN}/send`, { to: ME, body: "are you there?" });
  await sim.post(`/sim/contacts/${BEN}/send`, { to: ME, body: "hello?" });
  await waitFor("both messages to the first device", () => got.length === 3, 20000);
  await waitFor("every message acknowledged", async () => (await sim.get("/sim/stats")).json.queued === 0, 20000);
  await first.logout();
  // a name saved on the phone: the address book reaches a device by app state (a contact mutation)
  await sim.post(`/sim/accounts/${ME}/contacts`, { phone: BEN, name: "Ben Miller" });
  // a business account's labels, made and applied on the phone: by app state too (label_edit, label_jid)
  await sim.post(`/sim/contacts/${ME}/profile`, { isBusiness: true });
  const vip = (await sim.post(`/sim/accounts/${ME}/labels`, { name: "VIP" })).json;
  expect((await sim.post(`/sim/accounts/${ME}/labels/${vip.id}/chats`, { chatId: `${BEN}@c.us`, on: true })).status).toBe(200);

  // a second device, linked anew: the phone's history sync, not messages
  const dir = path.join(root, "second");
  const received: EngineMessage[] = [];
  const engine = await linked(dir, received);
  await waitFor("the history sync", async () => (await engine.listChats({ limit: 10 })).items.length === 2, 20000);
  const chats = (await engine.listChats({ limit: 10 })).items;
  expect(chats.map((c) => [c.id, c.unreadCount, c.lastMessage?.body])).toEqual([
    [`${BEN}@c.us`, 2, "hello?"],
    [`${ANA}@c.us`, 1, "hi, how can I help?"],
  ]);
  await waitFor("the push names", async () => (await engine.getChat(`${ANA}@c.us`))?.name === "Ana Shop", 20000);
  await waitFor("the address book", async () => (await engine.getChat(`${BEN}@c.us`))?.name === "Ben Miller", 20000);
  expect(await engine.getContact(`${BEN}@c.us`)).toMatchObject({ id: `${BEN}@c.us`, phone: BEN, name: "Ben Miller", pushname: `Sim ${BEN}`, blocked: false });
  expect(await engine.getContact(`${ANA}@c.us`)).toMatchObject({ name: null, pushname: "Ana Shop" });
  await waitFor("the labels", async () => (await engine.listLabels()).length === 1, 20000);
  expect(await engine.listLabels()).toEqual([vip]);
  await waitFor("the labelled chat", async () => (await engine.getChatLabels(`${BEN}@c.us`))?.length === 1, 20000);
  expect(await engine.getChatLabels(`${BEN}@c.us`)).toEqual([vip]);
  expect(await engine.getChatLabels(`${ANA}@c.us`)).toEqual([]);
  expect((await engine.listContacts({ limit: 10 })).items.map((c) => [c.phone, c.name])).toEqual([
    [ANA, null],
    [BEN, "Ben Miller"],
  ]);
  const ana = await engine.listMessages(`${ANA}@c.us`, { limit: 10 });
  expect(ana!.items.map((m) => [m.body, m.fromMe, m.from, m.to])).toEqual([
    ["hi, how can I help?", false, `${ANA}@c.us`, `${ME}@c.us`],
    ["hello Ana", true, `${ME}@c.us`, `${ANA}@c.us`],
  ]);
  expect(await engine.getMessage(ana!.items[1].id)).toMatchObject({ body: "hello Ana", chatId: `${ANA}@c.us` });
  expect(received).toEqual([]);

  // a page past the end, a cursor of another shape
  const p1 = await engine.listMessages(`${BEN}@c.us`, { limit: 1 });
  expect(p1!.items.map((m) => m.body)).toEqual(["hello?"]);
  const p2 = await engine.listMessages(`${BEN}@c.us`, { limit: 1, before: p1!.next });
  expect([p2!.items.map((m) => m.body), p2!.next]).toEqual([["are you there?"], undefined]);
  await expect(engine.listMessages(`${BEN}@c.us`, { limit: 1, before: "not-a-position" })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
  await expect(engine.listChats({ limit: 1, before: "3EB0AAAA" })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });

  // the store is on disk, next to the auth; a restart reads it back (no second history sync comes)
  await engine.sendMessage(BEN, { text: "yes, here" });
  await engine.stop();
  const stored = await files(path.join(dir, "store"));
  expect(Object.keys(stored)).toEqual(expect.arrayContaining(["chats.json", "contacts.json", "labels.json"]));
  expect(Object.keys(stored).filter((f) => f.startsWith("messages"))).toHaveLength(2);
  await expect(engine.listChats({ limit: 1 })).rejects.toMatchObject({ code: "SESSION_NOT_READY" });
  // stopped: what reaches the account now waits in the network, and nothing is written to the store
  await sim.post(`/sim/contacts/${ANA}/send`, { to: ME, body: "after the stop" });
  await new Promise((r) => setTimeout(r, 300));
  expect(await files(path.join(dir, "store"))).toEqual(stored);

  const ready = next(engine, "ready");
  await engine.start();
  await ready;
  expect((await engine.listMessages(`${BEN}@c.us`, { limit: 1 }))!.items.map((m) => [m.body, m.fromMe])).toEqual([["yes, here", true]]);
  await waitFor("the message sent while stopped", async () => (await engine.listChats({ limit: 1 })).items[0]?.lastMessage?.body === "after the stop", 20000);
  expect((await engine.getChat(`${ANA}@c.us`))!.unreadCount).toBe(2);
  expect(await engine.getChatLabels(`${BEN}@c.us`)).toEqual([vip]);
  await engine.stop();
}, 120000);

it("pages a chat's history further back than the store holds: the phone answers on-demand requests, the store keeps what it has room for, once", async () => {
  const ACC = "15550008101";
  const CARL = "4915100008104";
  const chat = `${CARL}@c.us`;
  // 130 messages typed on the phone before any device is linked: the phone's history, nothing queued
  for (let i = 0; i < 130; i++) await sim.post(`/sim/accounts/${ACC}/send`, { to: CARL, body: `m${i}` });
  const dir = path.join(root, "deep");
  const engine = await linked(dir, [], ACC, 3000);
  await waitFor("the history sync", async () => (await engine.listChats({ limit: 1 })).items[0]?.lastMessage?.body === "m129", 20000);
  const wanted = Array.from({ length: 130 }, (_, i) => `m${129 - i}`);

  const pageAll = async (limit: number) => {
    const bodies: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await engine.listMessages(chat, { limit, ...(before ? { before } : {}) });
      bodies.push(...page!.items.map((m) => m.body));
      if (!page!.next) break;
      before = page!.next;
    }
    return bodies;
  };
  // pages of 30 back to the first message: 50 from the bootstrap, then the phone's chunks of 50
  expect(await pageAll(30)).toEqual(wanted);
  // again on the same connection: the phone is asked again for what the store has no room for (Baileys' history events would pass each message once per connection)
  expect(await pageAll(30)).toEqual(wanted);
  // an earlier message the store kept is found by id; the own messages filter works past the store too
  const m50 = (await engine.listMessages(chat, { limit: 1, before: (await engine.listMessages(chat, { limit: 79 }))!.next }))!.items[0];
  expect(m50.body).toBe("m50");
  expect(await engine.getMessage(m50.id)).toMatchObject({ body: "m50", fromMe: true, chatId: chat });
  expect((await engine.listMessages(chat, { limit: 100, fromMe: false }))!.items).toEqual([]);

  // the store kept the newest 100, none twice; a restart pages the same, asking the phone past them
  await engine.stop();
  const file = (await fs.readdir(path.join(dir, "store", "messages"))).filter((f) => f.endsWith(".json"));
  expect(file).toHaveLength(1);
  const stored = JSON.parse(await fs.readFile(path.join(dir, "store", "messages", file[0]), "utf8")).messages as EngineMessage[];
  expect(stored.map((m) => m.body)).toEqual(wanted.slice(0, 100).reverse());
  expect(new Set(stored.map((m) => m.id)).size).toBe(100);
  const ready = next(engine, "ready");
  await engine.start();
  await ready;
  const p1 = await engine.listMessages(chat, { limit: 100 });
  expect(p1!.items.map((m) => m.body)).toEqual(wanted.slice(0, 100));
  const p2 = await engine.listMessages(chat, { limit: 100, before: p1!.next });
  expect([p2!.items.map((m) => m.body), p2!.next]).toEqual([wanted.slice(100), undefined]);

  // the phone away: the store still answers; past it, the page fails with a clear code after the bounded wait
  sim.network.baileysGateway!.phonesAway.add(ACC);
  try {
    expect((await engine.listMessages(chat, { limit: 10 }))!.items.map((m) => m.body)).toEqual(wanted.slice(0, 10));
    await expect(engine.listMessages(chat, { limit: 10, before: p1!.next })).rejects.toMatchObject({ code: "ENGINE_TIMEOUT" });
  } finally {
    sim.network.baileysGateway!.phonesAway.delete(ACC);
  }
  // back: the same page is answered
  expect((await engine.listMessages(chat, { limit: 10, before: p1!.next }))!.items.map((m) => m.body)).toEqual(wanted.slice(100, 110));
  await engine.stop();
}, 120000);

it("hears a name saved on the phone while it is connected, without a reconnect (the server's server_sync of the address book)", async () => {
  const ACC = "15550008201";
  const DORA = "4915100008205";
  await sim.post(`/sim/contacts/${DORA}/send`, { to: ACC, body: "hi, it's Dora" });
  const engine = await linked(path.join(root, "address-book"), [], ACC);
  const readies: unknown[] = [];
  const drops: unknown[] = [];
  engine.on("ready", (me) => void readies.push(me));
  engine.on("disconnected", (reason) => void drops.push(reason));
  await waitFor("the history sync", async () => (await engine.getContact(`${DORA}@c.us`)) !== undefined, 20000);
  expect(await engine.getContact(`${DORA}@c.us`)).toMatchObject({ name: null });
  // the name is saved on the phone now: the connected device hears of it
  expect((await sim.post(`/sim/accounts/${ACC}/contacts`, { phone: DORA, name: "Dora Explorer" })).status).toBe(200);
  await waitFor("the saved name", async () => (await engine.getContact(`${DORA}@c.us`))?.name === "Dora Explorer", 20000);
  expect((await engine.getChat(`${DORA}@c.us`))!.name).toBe("Dora Explorer");
  // a second change, too
  await sim.post(`/sim/accounts/${ACC}/contacts`, { phone: DORA, name: "Dora M." });
  await waitFor("the renamed contact", async () => (await engine.getContact(`${DORA}@c.us`))?.name === "Dora M.", 20000);
  expect([readies, drops]).toEqual([[], []]);
  await engine.stop();
}, 60000);

// The simulated WhatsApp network, driven frame by frame over a real socket: linking, resume,
// conflicts, keepalive, acks, offline queues, persistence and the admin API.
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "../helpers/http";
import { tempDir, waitFor } from "../helpers/processes";
import { linkWireClient, startTestSim, WireClient } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550001111";
const BOB = "15550002222";
const CONTACT = "4915112345678";

let sim: TestSim;
const clients: WireClient[] = [];
const track = (c: WireClient) => (clients.push(c), c);

/** Closes a client and waits until the network has noticed too (it then counts `left` connections). */
async function goOffline(client: WireClient, left = 0): Promise<void> {
  await client.close();
  await waitFor("the network to see the close", async () => (await sim.get("/sim/stats")).json.connections === left, 3000);
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await sim?.close();
});

describe("linking", () => {
  it("shows a fresh QR shaped like WhatsApp's on every rotation, and only the current one links", async () => {
    sim = await startTestSim({ qrRotateMs: 150 });
    const c = track(await WireClient.hello(sim.url));
    const first = await c.take("qr");
    const second = await c.take("qr");
    expect(first.qr.split(",")).toHaveLength(4);
    expect(first.qr).toMatch(/^2@[A-Za-z0-9+/=]+(,[A-Za-z0-9+/=]+){3}$/);
    expect(second.qr).not.toBe(first.qr);
    expect(second.expiresAt).toBeGreaterThan(first.expiresAt);

    const shown = (await sim.get("/sim/qr")).json.qrs.map((q: { qr: string }) => q.qr);
    expect(shown).not.toContain(first.qr);
    const stale = await sim.post("/sim/link", { qr: first.qr, phone: ALICE });
    expect(stale.status).toBe(404);
    expect(stale.json.error.code).toBe("QR_NOT_FOUND");
  });

  it("links the connection showing a scanned QR: paired with credentials, then ready", async () => {
    sim = await startTestSim();
    const c = track(await WireClient.hello(sim.url));
    const { qr } = await c.take("qr");
    const res = await sim.post("/sim/link", { qr, phone: `+${ALICE}` });
    expect(res.status).toBe(200);
    const paired = await c.take("paired");
    expect(paired.creds).toEqual({ deviceId: expect.any(String), secret: expect.any(String), phone: ALICE });
    const ready = await c.take("ready");
    expect(ready.me).toEqual({ phone: ALICE, wid: `${ALICE}@c.us`, pushname: `Sim ${ALICE}`, platform: "sim" });
    expect(c.frames.map((f) => f.t)).toEqual(["qr", "paired", "ready"]);
    expect((await sim.get("/sim/stats")).json).toMatchObject({ connections: 1, linkedConnections: 1, devices: 1 });
    expect((await sim.get("/sim/qr")).json.qrs).toEqual([]);
  });

  it("links by a pairing code bound to the phone it was asked for", async () => {
    sim = await startTestSim();
    const c = track(await WireClient.hello(sim.url));
    await c.take("qr");
    c.send({ t: "pair_code", phone: ALICE });
    const { code } = await c.take("code");
    expect(code).toMatch(/^[A-Z0-9]{8}$/);

    const wrongPhone = await sim.post("/sim/link", { code, phone: BOB });
    expect(wrongPhone.status).toBe(404);
    expect(wrongPhone.json.error.code).toBe("CODE_NOT_FOUND");
    expect((await sim.post("/sim/link", { code, phone: ALICE })).status).toBe(200);
    expect((await c.take("paired")).creds.phone).toBe(ALICE);
    await c.take("ready");
  });

  it("links by a code the client made itself once the client proves the typed code (WhatsApp's companion flow)", async () => {
    sim = await startTestSim();
    const c = track(await WireClient.hello(sim.url));
    await c.take("qr");
    c.send({ t: "pair_code", phone: ALICE, own: true });
    await waitFor("QR linking to stop", async () => (await sim.get("/sim/qr")).json.qrs.length === 0);
    // another phone reaches no connection; a code the client does not prove links nothing
    expect((await sim.post("/sim/link", { code: "WRONG123", phone: BOB })).json.error.code).toBe("CODE_NOT_FOUND");
    const wrong = sim.post("/sim/link", { code: "WRONG123", phone: ALICE });
    const typed = await c.take("code_typed");
    expect(typed.code).toBe("WRONG123");
    // one attempt at a time: a second typing while the first waits is refused
    expect((await sim.post("/sim/link", { code: "ABCD1234", phone: ALICE })).json.error.code).toBe("CODE_NOT_FOUND");
    c.send({ t: "code_proof", attempt: "not-this-one", ok: true });
    c.send({ t: "code_proof", attempt: typed.attempt, ok: false });
    expect((await wrong).json.error.code).toBe("CODE_NOT_FOUND");
    expect((await sim.get("/sim/stats")).json).toMatchObject({ devices: 0 });

    const right = sim.post("/sim/link", { code: "abcd-1234", phone: ALICE });
    const again = await c.take("code_typed");
    expect(again.code).toBe("ABCD1234");
    c.send({ t: "code_proof", attempt: again.attempt, ok: true });
    expect((await right).json.me).toMatchObject({ phone: ALICE });
    expect((await c.take("paired")).creds.phone).toBe(ALICE);
    await c.take("ready");
  });

  it("a typed code waiting for its proof fails when the client goes away", async () => {
    sim = await startTestSim();
    const c = track(await WireClient.hello(sim.url));
    await c.take("qr");
    c.send({ t: "pair_code", phone: ALICE, own: true });
    await waitFor("QR linking to stop", async () => (await sim.get("/sim/qr")).json.qrs.length === 0);
    const link = sim.post("/sim/link", { code: "ABCD1234", phone: ALICE });
    await c.take("code_typed");
    await c.close();
    expect((await link).json.error.code).toBe("CODE_NOT_FOUND");
    expect((await sim.get("/sim/stats")).json).toMatchObject({ devices: 0 });
  });

  it("replaces a phone's device when the phone links again; the old device is unpaired", async () => {
    sim = await startTestSim();
    const { client: old, creds } = await linkWireClient(sim, ALICE);
    track(old);
    const { client: fresh } = await linkWireClient(sim, ALICE);
    track(fresh);
    expect(await old.take("logged_out")).toEqual({ t: "logged_out", reason: "UNPAIRED" });
    await old.closed;
    const again = track(await WireClient.hello(sim.url, creds));
    expect((await again.take("logged_out")).reason).toBe("UNPAIRED");
    expect((await sim.get("/sim/stats")).json).toMatchObject({ devices: 1, conflicts: 0 });
  });
});

describe("resume, conflicts and keepalive", () => {
  it("resumes with stored credentials without a QR", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    await goOffline(client);
    const c = track(await WireClient.hello(sim.url, creds));
    expect((await c.take("ready")).me.phone).toBe(ALICE);
    expect(c.frames[0].t).toBe("ready");
    expect((await sim.get("/sim/stats")).json).toMatchObject({ conflicts: 0, linkedConnections: 1 });
  });

  it("answers unknown or wrong credentials with logged_out UNPAIRED and closes", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    track(client);
    const wrong = track(await WireClient.hello(sim.url, { ...creds, secret: "nope" }));
    expect(await wrong.take("logged_out")).toEqual({ t: "logged_out", reason: "UNPAIRED" });
    await wrong.closed;
    const unknown = track(await WireClient.hello(sim.url, { deviceId: "dev_x", secret: "y", phone: BOB }));
    expect((await unknown.take("logged_out")).reason).toBe("UNPAIRED");
    expect((await sim.get("/sim/stats")).json.conflicts).toBe(0);
  });

  it("counts a second live connection of one device as a conflict and closes the older one", async () => {
    sim = await startTestSim();
    const { client: older, creds } = await linkWireClient(sim, ALICE);
    track(older);
    const newer = track(await WireClient.hello(sim.url, creds));
    await newer.take("ready");
    expect(await older.take("conflict")).toEqual({ t: "conflict" });
    await older.closed;
    expect((await sim.get("/sim/stats")).json).toMatchObject({ conflicts: 1, connections: 1, linkedConnections: 1 });

    newer.send({ t: "send", id: "after-conflict", to: `${CONTACT}@c.us`, body: "still here" });
    expect((await newer.take("ack")).ack).toBe("SERVER");
  });

  it("drops a connection that stops answering pings, and keeps one that answers", async () => {
    sim = await startTestSim({ keepaliveMs: 300 });
    const frozen = track(await WireClient.hello(sim.url, undefined, { autoPong: false }));
    const healthy = track(await WireClient.hello(sim.url));
    const started = Date.now();
    await frozen.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);
    expect((await sim.get("/sim/stats")).json.connections).toBe(1);
  });

  it("keeps a client that answers every ping while a busy loop makes every keepalive tick late", async () => {
    // K = 500 ms: 25 ticks of 10 ms, and a tick over 100 ms late counts as a stall. 30 ms of
    // synchronous work at every turn of the loop (as the Baileys tests' libsignal work shares the
    // network's loop) spaces the ticks ~30 ms apart, no single one a stall: the ping period
    // stretches from 250 ms to ~750 ms, longer than K. The healthy client still answers each ping
    // within a turn or two, so it must stay; the frozen one must still go.
    sim = await startTestSim({ keepaliveMs: 500 });
    const healthy = track(await WireClient.hello(sim.url));
    const frozen = track(await WireClient.hello(sim.url, undefined, { autoPong: false }));
    let pings = 0;
    healthy.ws.on("ping", () => pings++);
    const busy = setInterval(() => {
      const until = Date.now() + 30;
      while (Date.now() < until);
    }, 0);
    try {
      await frozen.closed;
      await waitFor("three pings to the healthy client, or its close", () => pings >= 3 || healthy.ws.readyState !== healthy.ws.OPEN, 10_000);
    } finally {
      clearInterval(busy);
    }
    expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);
    expect((await sim.get("/sim/stats")).json.connections).toBe(1);
  });
});

describe("outgoing messages", () => {
  it("acks SERVER, delivers to the contact's inbox once, then acks DEVICE and READ when read", async () => {
    sim = await startTestSim();
    const { client } = await linkWireClient(sim, ALICE);
    track(client);
    client.send({ t: "send", id: "m1", to: `${CONTACT}@c.us`, body: "hello" });
    const server = await client.take("ack");
    expect(server).toMatchObject({ id: "m1", ack: "SERVER", timestamp: expect.any(Number) });
    await client.takeAck("m1", "DEVICE");

    const inbox = await sim.get(`/sim/contacts/${CONTACT}/inbox`);
    expect(inbox.json.messages).toEqual([{ id: "m1", from: `${ALICE}@c.us`, to: `${CONTACT}@c.us`, body: "hello", timestamp: server.timestamp }]);
    expect(await client.take("ack")).toMatchObject({ id: "m1", ack: "READ" });
    expect((await sim.get("/sim/stats")).json).toMatchObject({ sent: 1, delivered: 1, duplicates: 0 });
  });

  it("counts a resent id as a duplicate, acks it again and never delivers it twice, from any connection", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    client.send({ t: "send", id: "dup", to: CONTACT, body: "once" });
    await client.takeAck("dup", "SERVER");
    await client.takeAck("dup", "DEVICE");
    client.send({ t: "send", id: "dup", to: CONTACT, body: "once" });
    await client.takeAck("dup", "SERVER");
    await client.takeAck("dup", "DEVICE"); // the acks it may have missed come again
    await goOffline(client);

    const resumed = track(await WireClient.hello(sim.url, creds));
    await resumed.take("ready");
    resumed.send({ t: "send", id: "dup", to: CONTACT, body: "once" });
    await resumed.takeAck("dup", "SERVER");

    expect((await sim.get("/sim/stats")).json).toMatchObject({ sent: 1, duplicates: 2, delivered: 1, conflicts: 0 });
    expect((await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages).toHaveLength(1);
    expect((await sim.get("/sim/ledger")).json.outgoing).toEqual([{ id: "dup", fromPhone: ALICE, to: `${CONTACT}@c.us`, body: "once", deliveries: 1, acceptedAt: expect.any(Number) }]);
  });

  it("turns a message to another linked account into that account's incoming message", async () => {
    sim = await startTestSim();
    const alice = track((await linkWireClient(sim, ALICE)).client);
    const bob = track((await linkWireClient(sim, BOB)).client);
    alice.send({ t: "send", id: "a2b", to: `${BOB}@c.us`, body: "hi bob", media: { mimetype: "text/plain", data: "aGk=" } });
    expect((await alice.take("ack")).ack).toBe("SERVER");
    const { message } = await bob.take("message");
    expect(message).toMatchObject({ id: "a2b", from: `${ALICE}@c.us`, to: `${BOB}@c.us`, body: "hi bob", media: { mimetype: "text/plain", data: "aGk=" } });
    bob.send({ t: "recv_ack", id: "a2b" });
    expect(await alice.take("ack")).toMatchObject({ id: "a2b", ack: "DEVICE" });
    expect((await sim.get("/sim/ledger")).json.outgoing[0].deliveries).toBe(1);
    expect((await sim.get("/sim/stats")).json).toMatchObject({ sent: 1, delivered: 1, queued: 0 });
  });

  it("rejects sends before ready and to bad recipients with an ERROR ack, and garbage with an error frame", async () => {
    sim = await startTestSim();
    const early = track(await WireClient.hello(sim.url));
    early.send({ t: "send", id: "e1", to: CONTACT, body: "x" });
    expect(await early.take("ack")).toMatchObject({ id: "e1", ack: "ERROR", error: expect.stringMatching(/NOT_READY/) });

    const { client } = await linkWireClient(sim, ALICE);
    track(client);
    client.send({ t: "send", id: "e2", to: "12345@newsletter", body: "x" });
    expect(await client.take("ack")).toMatchObject({ id: "e2", ack: "ERROR", error: expect.stringMatching(/BAD_RECIPIENT/) });
    client.send({ t: "send", id: "e3", to: "12345-678@g.us", body: "x" });
    expect(await client.take("ack")).toMatchObject({ id: "e3", ack: "ERROR", error: expect.stringMatching(/GROUP_NOT_FOUND/) });
    client.sendRaw("{not json");
    expect((await client.take("error")).code).toBe("BAD_JSON");
    await client.closed;

    const odd = track(await WireClient.hello(sim.url));
    odd.send({ t: "teleport" });
    expect((await odd.take("error")).code).toBe("UNKNOWN_FRAME");
    await odd.closed;
    expect((await sim.get("/sim/stats")).json.sent).toBe(0);
  });
});

describe("incoming messages", () => {
  it("queues messages for an offline account and delivers them in order when it comes back", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    await goOffline(client);
    const ids: string[] = [];
    for (const body of ["one", "two", "three"]) {
      const res = await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body });
      expect(res.status).toBe(202);
      expect(res.json).toEqual({ id: expect.any(String), queued: true });
      ids.push(res.json.id);
    }
    expect((await sim.get("/sim/stats")).json.queued).toBe(3);

    const back = track(await WireClient.hello(sim.url, creds));
    await back.take("ready");
    const got = [await back.take("message"), await back.take("message"), await back.take("message")].map((f) => f.message);
    expect(got.map((m) => m.body)).toEqual(["one", "two", "three"]);
    expect(got.map((m) => m.id)).toEqual(ids);
    expect(got[0]).toMatchObject({ from: `${CONTACT}@c.us`, to: `${ALICE}@c.us`, timestamp: expect.any(Number) });
    for (const id of ids) back.send({ t: "recv_ack", id });
    await waitFor("queue drained", async () => (await sim.get("/sim/stats")).json.queued === 0, 3000);
    expect((await sim.get("/sim/stats")).json.delivered).toBe(3);
  });

  it("pushes to an online account and redelivers what it did not ack on its next connection", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    const res = await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "are you there?" });
    expect(res.json.queued).toBe(false);
    expect((await client.take("message")).message.id).toBe(res.json.id);
    await goOffline(client); // no recv_ack

    const back = track(await WireClient.hello(sim.url, creds));
    expect((await back.take("message")).message.id).toBe(res.json.id);
    back.send({ t: "recv_ack", id: res.json.id });
    await waitFor("acked", async () => (await sim.get("/sim/ledger")).json.incoming[0].acked === true, 3000);
    expect((await sim.get("/sim/stats")).json).toMatchObject({ queued: 0, delivered: 1 });
  });
});

describe("updates (what contacts and the phone did to an account's messages)", () => {
  it("keeps reactions, edits, votes, revokes and phone sends for an offline account, after its queued messages, until each is acknowledged", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    // the account's own message and poll, which the contact then reacts to and votes on
    client.send({ t: "send", id: "mine", to: CONTACT, body: "lunch?" });
    client.send({ t: "send", id: "poll", to: CONTACT, body: "", poll: { name: "Where?", options: ["here", "there"], multiple: false } });
    await client.takeAck("poll", "SERVER");
    const theirs = (await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "tpyo" })).json.id;
    client.send({ t: "recv_ack", id: (await client.take("message")).message.id });
    await waitFor("the message acknowledged", async () => (await sim.get("/sim/stats")).json.queued === 0, 3000);
    await goOffline(client);

    expect((await sim.post(`/sim/contacts/${CONTACT}/react`, { to: ALICE, messageId: "mine", emoji: "👍" })).status).toBe(200);
    expect((await sim.post(`/sim/contacts/${CONTACT}/edit`, { to: ALICE, messageId: theirs, body: "typo" })).status).toBe(200);
    expect((await sim.post(`/sim/contacts/${CONTACT}/vote`, { to: ALICE, messageId: "poll", options: ["there"] })).status).toBe(200);
    const late = (await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "sorry" })).json.id;
    expect((await sim.post(`/sim/contacts/${CONTACT}/revoke`, { to: ALICE, messageId: late })).status).toBe(200);
    expect((await sim.post(`/sim/contacts/${CONTACT}/presence`, { to: ALICE, state: "typing" })).status).toBe(200);
    const phone = (await sim.post(`/sim/accounts/${ALICE}/send`, { to: CONTACT, body: "from my phone" })).json.id;
    expect((await sim.get("/sim/stats")).json).toMatchObject({ queued: 1, queuedUpdates: 5 });

    // back: the queued message first, then the updates in the order they happened; no stale typing
    const back = track(await WireClient.hello(sim.url, creds));
    await back.take("ready");
    const updates = [];
    for (let i = 0; i < 5; i++) updates.push(await back.take("update"));
    const order = back.frames.flatMap((f) => (f.t === "message" ? ["message"] : f.t === "update" ? [f.update.kind] : []));
    expect(order).toEqual(["message", "reaction", "edit", "vote", "revoke", "sent"]);
    expect(updates.map((f) => f.update)).toEqual([
      { kind: "reaction", id: "mine", chatId: `${CONTACT}@c.us`, from: `${CONTACT}@c.us`, emoji: "👍" },
      { kind: "edit", id: theirs, chatId: `${CONTACT}@c.us`, body: "typo" },
      { kind: "vote", id: "poll", chatId: `${CONTACT}@c.us`, voter: `${CONTACT}@c.us`, options: ["there"] },
      { kind: "revoke", id: late, chatId: `${CONTACT}@c.us` },
      { kind: "sent", message: expect.objectContaining({ id: phone, body: "from my phone", fromMe: true }) },
    ]);
    expect(new Set(updates.map((f) => f.uid)).size).toBe(5);

    // acknowledged ones are forgotten; the others come again on the next connection, with the same uid
    for (const f of updates.slice(0, 3)) back.send({ t: "update_ack", uid: f.uid });
    await waitFor("three acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 2, 3000);
    await goOffline(back);
    const again = track(await WireClient.hello(sim.url, creds));
    const redelivered = [await again.take("update"), await again.take("update")];
    expect(redelivered.map((f) => f.uid)).toEqual(updates.slice(3).map((f) => f.uid));
    for (const f of redelivered) again.send({ t: "update_ack", uid: f.uid });
    await waitFor("all acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 3000);
    // an acknowledgement for an unknown or already acknowledged update changes nothing
    again.send({ t: "update_ack", uid: updates[0].uid });
    again.send({ t: "update_ack", uid: 42 });
    await goOffline(again);
    const last = track(await WireClient.hello(sim.url, creds));
    await last.take("ready");
    await expect(last.take("update", { timeoutMs: 300 })).rejects.toThrow(/no matching/);
  });

  it("tells an online account at once, and keeps an update until acknowledged across a network restart", async () => {
    const dir = await tempDir("simnet-updates");
    const stateFile = path.join(dir, "sim.json");
    sim = await startTestSim({ stateFile });
    const { client, creds } = await linkWireClient(sim, ALICE);
    client.send({ t: "send", id: "m1", to: CONTACT, body: "hi" });
    await client.takeAck("m1", "SERVER");
    await sim.post(`/sim/contacts/${CONTACT}/react`, { to: ALICE, messageId: "m1", emoji: "🎉" });
    const live = await client.take("update");
    expect(live).toMatchObject({ uid: expect.any(String), update: { kind: "reaction", emoji: "🎉" } });
    await sim.post(`/sim/contacts/${CONTACT}/presence`, { to: ALICE, state: "typing" });
    expect(await client.take("update", { where: (f) => f.update.kind === "presence" })).toEqual({ t: "update", update: { kind: "presence", chatId: `${CONTACT}@c.us`, from: `${CONTACT}@c.us`, state: "typing" } });
    await goOffline(client);
    await sim.close();

    sim = await startTestSim({ stateFile });
    expect((await sim.get("/sim/stats")).json.queuedUpdates).toBe(1);
    const back = track(await WireClient.hello(sim.url, creds));
    expect(await back.take("update")).toEqual(live);
    await fs.rm(dir, { recursive: true, force: true });
  });
});

describe("unlinking", () => {
  it("unlinks from the phone: the device's connection gets logged_out LOGOUT and its creds stop working", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    track(client);
    expect((await sim.post("/sim/unlink", { phone: ALICE })).status).toBe(200);
    expect(await client.take("logged_out")).toEqual({ t: "logged_out", reason: "LOGOUT" });
    await client.closed;
    const again = track(await WireClient.hello(sim.url, creds));
    expect((await again.take("logged_out")).reason).toBe("UNPAIRED");
    expect((await sim.post("/sim/unlink", { phone: ALICE })).json.error.code).toBe("DEVICE_NOT_FOUND");
  });

  it("unlinks when the client logs out", async () => {
    sim = await startTestSim();
    const { client } = await linkWireClient(sim, ALICE);
    track(client);
    client.send({ t: "logout" });
    expect((await client.take("logged_out")).reason).toBe("LOGOUT");
    await client.closed;
    expect((await sim.get("/sim/stats")).json).toMatchObject({ devices: 0, connections: 0 });
  });
});

describe("state file", () => {
  it("keeps devices, queued messages, dedupe ids and counters across a restart of the network", async () => {
    const dir = await tempDir("simnet");
    const stateFile = path.join(dir, "state", "sim.json");
    sim = await startTestSim({ stateFile });
    const { client, creds } = await linkWireClient(sim, ALICE);
    client.send({ t: "send", id: "kept", to: CONTACT, body: "before restart" });
    await client.take("ack");
    await goOffline(client);
    const queued = await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "while you were away" });
    await sim.close();
    expect(JSON.parse(await fs.readFile(stateFile, "utf8")).devices).toHaveLength(1);

    sim = await startTestSim({ stateFile });
    expect((await sim.get("/sim/stats")).json).toMatchObject({ devices: 1, queued: 1, sent: 1, delivered: 1 });
    const back = track(await WireClient.hello(sim.url, creds));
    await back.take("ready");
    expect((await back.take("message")).message).toMatchObject({ id: queued.json.id, body: "while you were away" });
    back.send({ t: "send", id: "kept", to: CONTACT, body: "before restart" });
    await back.takeAck("kept", "SERVER");
    expect((await sim.get("/sim/stats")).json).toMatchObject({ sent: 1, duplicates: 1 });
    expect((await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages).toHaveLength(1);
    await fs.rm(dir, { recursive: true, force: true });
  });
});

describe("admin API", () => {
  beforeEach(async () => {
    sim = await startTestSim();
  });

  it.each([
    ["/sim/link", {}, "phone"],
    ["/sim/link", { phone: "12ab5" }, "phone"],
    ["/sim/link", { phone: "1234" }, "phone"],
    ["/sim/link", { phone: ALICE }, "qr"],
    ["/sim/unlink", { phone: "+1" }, "phone"],
    ["/sim/contacts/not-a-phone/send", { to: ALICE, body: "x" }, "contact"],
    [`/sim/contacts/${CONTACT}/send`, { body: "x" }, "to"],
    [`/sim/contacts/${CONTACT}/send`, { to: ALICE }, "body"],
    [`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "x", media: { data: "aGk=" } }, "media"],
    ["/sim/faults", { dropRate: 2 }, "dropRate"],
    ["/sim/faults", { latencyMs: -1 }, "latencyMs"],
    ["/sim/faults", { loseUpdateAcks: "yes" }, "loseUpdateAcks"],
  ])("POST %s %j -> 400 naming %s", async (route, body, field) => {
    const res = await sim.post(route, body);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "VALIDATION_ERROR", field, message: expect.stringContaining(field) });
  });

  it("answers 400 to bad JSON, 413 to bodies over 1 MiB, 404 to unknown routes and inboxes of bad ids", async () => {
    const bad = await request(sim.url, "POST", "/sim/link", { rawBody: "{nope", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("INVALID_JSON");
    const big = await request(sim.url, "POST", "/sim/link", { rawBody: `{"qr":"${"x".repeat(1024 * 1024)}"}` });
    expect(big.status).toBe(413);
    expect((await sim.get("/sim/nothing")).status).toBe(404);
    expect((await sim.get("/sim/nothing")).json.error.code).toBe("NOT_FOUND");
    expect((await sim.post("/sim/stats")).status).toBe(404);
    expect((await sim.get("/sim/contacts/abc/inbox")).status).toBe(400);
    expect((await sim.get("/sim/health")).json).toEqual({ ok: true });
  });

  it("carries a contact's media of 64 MiB to a linked device, sent raw (send-media) or as JSON base64, and refuses more", async () => {
    const { client } = await linkWireClient(sim, ALICE);
    track(client);
    const big = randomBytes(64 * 1024 * 1024);
    const q = new URLSearchParams({ to: ALICE, body: "the biggest", filename: "max.mp4" });
    const raw = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: big, headers: { "content-type": "video/mp4" }, timeoutMs: 120000 });
    expect(raw.status).toBe(202);
    // a 64 MiB frame takes its time on a loaded machine
    const got = (await client.take("message", { timeoutMs: 150000 })).message;
    expect(got).toMatchObject({ body: "the biggest", media: { mimetype: "video/mp4", filename: "max.mp4" } });
    expect(createHash("sha256").update(Buffer.from(got.media!.data, "base64")).digest("hex")).toBe(createHash("sha256").update(big).digest("hex"));
    const json = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ALICE, body: "as json", media: { mimetype: "image/png", data: big.subarray(0, 20 * 1024 * 1024).toString("base64") } }, timeoutMs: 120000 });
    expect(json.status).toBe(202);
    expect((await client.take("message", { timeoutMs: 150000 })).message.media!.data.length).toBe(Math.ceil((20 * 1024 * 1024) / 3) * 4);
    const over = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: Buffer.alloc(64 * 1024 * 1024 + 1), headers: { "content-type": "video/mp4" }, timeoutMs: 120000 });
    expect(over.status).toBe(413);
    for (const [headers, body] of [
      [{}, Buffer.from("x")],
      [{ "content-type": "not a type" }, Buffer.from("x")],
      [{ "content-type": "image/png" }, Buffer.alloc(0)],
    ] as const) {
      const r = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: body, headers: { ...headers } });
      expect(r.status).toBe(400);
    }
    expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send-media`, { rawBody: Buffer.from("x"), headers: { "content-type": "image/png" } })).json.error.field).toBe("to");
  }, 360000);

  it("resets everything and closes all connections", async () => {
    const { client } = await linkWireClient(sim, ALICE);
    await sim.post(`/sim/contacts/${CONTACT}/send`, { to: BOB, body: "queued" });
    expect((await sim.post("/sim/reset")).status).toBe(200);
    await client.closed;
    expect((await sim.get("/sim/stats")).json).toEqual({ connections: 0, linkedConnections: 0, conflicts: 0, sent: 0, delivered: 0, duplicates: 0, queued: 0, queuedUpdates: 0, devices: 0 });
    expect((await sim.get("/sim/ledger")).json).toEqual({ outgoing: [], incoming: [] });
  });
});

describe("faults", () => {
  it("delays the handling and sending of frames by latencyMs", async () => {
    sim = await startTestSim();
    const { client } = await linkWireClient(sim, ALICE);
    track(client);
    expect((await sim.post("/sim/faults", { latencyMs: 150 })).json).toEqual({ latencyMs: 150, dropRate: 0, loseUpdateAcks: false });
    const sentAt = Date.now();
    client.send({ t: "send", id: "slow", to: CONTACT, body: "x" });
    await client.take("ack");
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(290); // in and out
    expect((await sim.post("/sim/faults", { latencyMs: 0 })).json.latencyMs).toBe(0);
  });

  it("drops connections when frames arrive, at dropRate", async () => {
    sim = await startTestSim();
    const { client } = await linkWireClient(sim, ALICE);
    await sim.post("/sim/faults", { dropRate: 1 });
    client.send({ t: "send", id: "lost", to: CONTACT, body: "x" });
    await client.closed;
    expect((await sim.get("/sim/stats")).json).toMatchObject({ connections: 0, sent: 0 });
  });

  it("loses update acknowledgements while loseUpdateAcks is on; a dropped connection gets the update again", async () => {
    sim = await startTestSim();
    const { client, creds } = await linkWireClient(sim, ALICE);
    track(client);
    await sim.post("/sim/faults", { loseUpdateAcks: true });
    const groupId = (await sim.post("/sim/groups", { by: CONTACT, subject: "G", participants: [ALICE] })).json.group.id;
    const first = await client.take("update", { where: (f) => f.update.kind === "group" });
    client.send({ t: "update_ack", uid: first.uid! });
    // (a round trip after the ack: it has been handled)
    client.send({ t: "query", qid: "q", op: "group", groupId });
    await client.take("result");
    expect((await sim.get("/sim/stats")).json.queuedUpdates).toBe(1);
    expect((await sim.post(`/sim/accounts/${ALICE}/drop`)).json).toEqual({ dropped: true });
    await client.closed;
    expect((await sim.post(`/sim/accounts/${ALICE}/drop`)).json).toEqual({ dropped: false });
    await sim.post("/sim/faults", { loseUpdateAcks: false });
    const again = track(await WireClient.hello(sim.url, creds));
    const resent = await again.take("update", { where: (f) => f.update.kind === "group" });
    expect(resent.uid).toBe(first.uid);
    again.send({ t: "update_ack", uid: resent.uid! });
    await waitFor("acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 3000);
  });
});

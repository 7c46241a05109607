// The baileys engine's groups beyond the capability suite (test/integration/engine-capabilities.test.ts):
// how each of the network's group changes reaches it through the fake server's w:gp2 and picture
// notifications (add, join by code, remove, picture, invite revoked), and group messages both ways
// after a restart (Baileys keeps its sender key and does not give it again; a member's sender key
// is given again on the new connection); a group change whose ack was lost is announced once though a
// restart (a new engine on the same auth, as after a failover) comes between the loss and the re-send.
import { promises as fs } from "node:fs";
import path from "node:path";
import { BaileysEngine, simulatedEndpoint } from "../../lib/engines/baileys";
import type { GroupUpdate } from "../../lib/engines/capabilities";
import type { EngineEvents, EngineMessage } from "../../lib/engines/types";
import { baileysTestNet, linkedBaileys, nextEvent } from "../helpers/baileys";
import type { BaileysTestNet } from "../helpers/baileys";
import { waitFor } from "../helpers/processes";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550009001";
const ANA = "4915100009002";
const BEN = "4915100009003";
const PNG_2X2 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=";
let net: BaileysTestNet;
let sim: TestSim;
let engine: BaileysEngine;
const changes: GroupUpdate[] = [];
const received: EngineMessage[] = [];
const acks: Array<[string, string]> = [];

const next = <K extends keyof EngineEvents>(event: K) => nextEvent(engine, event);

beforeAll(async () => {
  net = await baileysTestNet("baileys-groups");
  sim = net.sim;
  engine = await net.link(ALICE);
  engine.on("group_update", (u) => void changes.push(u));
  engine.on("message", (m) => void received.push(m));
  engine.on("message_ack", (id, ack) => void acks.push([id, ack]));
}, 60000);

afterAll(() => net?.close());

const heard = (groupId: string, change: string) => waitFor(`${change} in ${groupId}`, () => changes.find((c) => c.groupId === groupId && c.change === change), 20000);

it("hears a contact's group with it in, an add, a join by code and a remove, each with who did it", async () => {
  const groupId = (await sim.post("/sim/groups", { by: ANA, subject: "Club", participants: [ALICE] })).json.group.id;
  expect(await heard(groupId, "create")).toEqual({ groupId, change: "create", by: `${ANA}@c.us`, participants: [`${ALICE}@c.us`], value: "Club" });
  await sim.post(`/sim/groups/${groupId}/participants`, { by: ANA, action: "add", participants: [BEN] });
  expect(await heard(groupId, "add")).toEqual({ groupId, change: "add", by: `${ANA}@c.us`, participants: [`${BEN}@c.us`] });
  await sim.post(`/sim/groups/${groupId}/participants`, { by: ANA, action: "remove", participants: [BEN] });
  expect(await heard(groupId, "remove")).toEqual({ groupId, change: "remove", by: `${ANA}@c.us`, participants: [`${BEN}@c.us`] });
  const code = (await sim.get(`/sim/groups/${groupId}`)).json.inviteCode;
  expect((await sim.post("/sim/groups/join", { by: BEN, code })).status).toBe(200);
  expect(await heard(groupId, "join")).toEqual({ groupId, change: "join", by: `${BEN}@c.us`, participants: [`${BEN}@c.us`] });
  expect((await engine.getGroup(groupId))!.participants.map((p) => p.id)).toEqual([`${ANA}@c.us`, `${ALICE}@c.us`, `${BEN}@c.us`]);
});

it("hears its own picture change and invite revocation (as the network tells every member and admin)", async () => {
  const { group } = await engine.createGroup("Mine", [ANA]);
  expect(await heard(group.id, "create")).toMatchObject({ by: `${ALICE}@c.us`, participants: [`${ANA}@c.us`], value: "Mine" });
  expect(await engine.setGroupPicture(group.id, { mimetype: "image/png", data: PNG_2X2 })).toBe(true);
  expect(await heard(group.id, "picture")).toEqual({ groupId: group.id, change: "picture", by: `${ALICE}@c.us` });
  // WhatsApp keeps the JPEG Baileys made of it
  expect((await sim.get(`/sim/groups/${group.id}`)).json.picture).toMatchObject({ mimetype: "image/jpeg" });
  await expect(engine.setGroupPicture(group.id, { mimetype: "image/png", data: Buffer.from("not a picture").toString("base64") })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
  await engine.revokeInviteCode(group.id);
  expect(await heard(group.id, "invite_revoked")).toEqual({ groupId: group.id, change: "invite_revoked", by: `${ALICE}@c.us` });
  expect(await engine.leaveGroup(group.id)).toBe(true);
  expect(await engine.leaveGroup(group.id)).toBe(false);
  expect(await engine.getInviteCode(group.id)).toBeUndefined();
});

it("posts to a group and reads a member's posts after a restart, with the sender keys of the first connection", async () => {
  const { group } = await engine.createGroup("Keys", [ANA, BEN]);
  const before = await engine.sendMessage(group.id, { text: "first" });
  // delivered: a member's receipt (the network tells that a member's device got it)
  await waitFor("DEVICE for the group post", () => acks.some(([id, ack]) => id === before.id && ack === "DEVICE"), 20000);
  expect(acks.filter(([id]) => id === before.id)).toEqual([
    [before.id, "SERVER"],
    [before.id, "DEVICE"],
  ]);
  const posted = (await sim.post(`/sim/groups/${group.id}/send`, { from: ANA, body: "hello" })).json.id;
  await waitFor("ANA's post", () => received.some((m) => m.id === posted), 20000);

  await engine.stop();
  const ready = next("ready");
  await engine.start();
  await ready;
  const after = await engine.sendMessage(group.id, { text: "second" });
  const again = (await sim.post(`/sim/groups/${group.id}/send`, { from: ANA, body: "again" })).json.id;
  const fromBen = (await sim.post(`/sim/groups/${group.id}/send`, { from: BEN, body: "me too" })).json.id;
  await waitFor("the posts after the restart", () => received.some((m) => m.id === again) && received.some((m) => m.id === fromBen), 20000);
  expect(received.filter((m) => m.chatId === group.id).map((m) => [m.author, m.body])).toEqual([
    [`${ANA}@c.us`, "hello"],
    [`${ANA}@c.us`, "again"],
    [`${BEN}@c.us`, "me too"],
  ]);
  const benInbox = (await sim.get(`/sim/contacts/${BEN}/inbox`)).json.messages as any[];
  expect(benInbox.filter((m) => m.to === group.id && m.from === `${ALICE}@c.us`).map((m) => [m.id, m.body])).toEqual([
    [before.id, "first"],
    [after.id, "second"],
  ]);
  expect((await sim.get("/sim/stats")).json).toMatchObject({ conflicts: 0, queued: 0, queuedUpdates: 0 });

  // a member's post can be reacted to, quoted, and the group marked read, as in a chat with one person
  const chat = async () => ((await sim.get(`/sim/accounts/${ALICE}/chats`)).json.chats as any[]).find((c) => c.id === group.id);
  expect((await chat()).unreadCount).toBe(3);
  expect(await engine.react(again, "👍")).toBe(true);
  const history = (await sim.get(`/sim/accounts/${ALICE}/chats/${group.id}/messages`)).json.messages as any[];
  expect(history.find((m) => m.id === again).reactions).toEqual({ [ALICE]: "👍" });
  const reply = await engine.sendMessage(group.id, { text: "welcome", replyTo: fromBen });
  expect(((await sim.get(`/sim/contacts/${ANA}/inbox`)).json.messages as any[]).find((m) => m.id === reply.id)).toMatchObject({ to: group.id, replyTo: fromBen });
  expect(await engine.markRead(group.id)).toBe(true);
  expect((await chat()).unreadCount).toBe(0);
}, 60000);

it("announces a group change once though the engine restarts (a new one on the same auth, as after a failover) between the lost ack and the server's re-send", async () => {
  const ME = "15550009011";
  const authDir = path.join(net.root, "failover");
  const first = await linkedBaileys(sim, { authDir, phone: ME, sessionId: "failover" });
  const heardFirst: GroupUpdate[] = [];
  first.on("group_update", (u) => void heardFirst.push(u));
  const groupId = (await sim.post("/sim/groups", { by: ANA, subject: "Failover", participants: [ME] })).json.group.id;
  await waitFor("the group's creation", () => heardFirst.some((u) => u.groupId === groupId && u.change === "create"), 20000);
  await waitFor("every update acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 20000);
  // the engine hears the change, its acknowledgement never reaches the server
  await sim.post("/sim/faults", { loseUpdateAcks: true });
  let second: BaileysEngine | undefined;
  try {
    await sim.post(`/sim/groups/${groupId}/participants`, { by: ANA, action: "add", participants: [BEN] });
    await waitFor("the add", () => heardFirst.some((u) => u.groupId === groupId && u.change === "add"), 20000);
    expect((await sim.get("/sim/stats")).json.queuedUpdates).toBe(1);
    // the node goes away; another engine takes the session from the same auth folder
    await first.stop();
    await sim.post("/sim/faults", { loseUpdateAcks: false });
    expect(Object.keys(JSON.parse(await fs.readFile(path.join(authDir, "baileys", "keys-group-notifications.json"), "utf8")))).toHaveLength(2);
    second = new BaileysEngine({ workspaceId: "w", sessionId: "failover", authDir }, { endpoint: simulatedEndpoint(sim.url), startTimeoutMs: 30000, sendTimeoutMs: 10000 });
    const heardSecond: GroupUpdate[] = [];
    second.on("group_update", (u) => void heardSecond.push(u));
    const ready = nextEvent(second, "ready");
    await second.start();
    await ready;
    // the server sends the add again (same id) and this time hears the ack
    await waitFor("the change sent again and acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 30000);
    // a fresh change, announced after anything sent again, marks the end
    await sim.post(`/sim/groups/${groupId}/update`, { by: ANA, subject: "After the failover" });
    await waitFor("the fresh change", () => heardSecond.some((u) => u.change === "subject"), 20000);
    expect(heardSecond.filter((u) => u.groupId === groupId).map((u) => [u.change, u.participants ?? u.value])).toEqual([["subject", "After the failover"]]);
  } finally {
    await sim.post("/sim/faults", { loseUpdateAcks: false });
    await first.stop();
    await second?.stop();
  }
}, 90000);

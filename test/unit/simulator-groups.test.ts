// The simulated network's groups, calls and labels: the oracle the `groups`, `calls` and `labels`
// capabilities are tested against, checked here over a real socket and the admin API.
import { promises as fs } from "node:fs";
import path from "node:path";
import { SimGroups } from "../../lib/simulator/groups";
import { tempDir } from "../helpers/processes";
import { linkWireClient, startTestSim, WireClient } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550001111";
const BOB = "15550002222";
const ANA = "4915112345678";
const BEN = "4915100000002";
const NOBODY = "4915100000404";
const PRIVATE = "4915100000777";

let sim: TestSim;
const clients: WireClient[] = [];
const track = (c: WireClient) => (clients.push(c), c);
let qid = 0;

/** A query over the wire: its data, or its error code. */
async function ask(client: WireClient, q: Record<string, unknown>): Promise<{ data?: any; error?: string; message?: string }> {
  const id = `q${++qid}`;
  client.send({ t: "query", qid: id, ...q });
  const r = await client.take("result", { where: (f) => f.qid === id });
  return { data: r.data, error: r.error, message: r.message };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await sim?.close();
});

describe("groups (the bookkeeping alone)", () => {
  it("makes the creator owner and admin, and the last admin leaving hands admin to the longest-standing member", () => {
    const groups = new SimGroups(() => "ok");
    const { group, results } = groups.create(ANA, "Team", [BEN, ALICE, BEN]);
    expect(group.participants).toEqual([
      { id: `${ANA}@c.us`, admin: true, superAdmin: true },
      { id: `${BEN}@c.us`, admin: false, superAdmin: false },
      { id: `${ALICE}@c.us`, admin: false, superAdmin: false },
    ]);
    expect(results).toEqual([
      { id: `${BEN}@c.us`, status: "added" },
      { id: `${ALICE}@c.us`, status: "added" },
    ]);
    const events = groups.leave(ANA, group.id);
    expect(events.map((e) => [e.change, e.participants])).toEqual([
      ["leave", [`${ANA}@c.us`]],
      ["promote", [`${BEN}@c.us`]],
    ]);
    expect(groups.get(BEN, group.id)!.participants.find((p) => p.id === `${BEN}@c.us`)!.admin).toBe(true);
    expect(groups.get(ANA, group.id)).toBeUndefined();
  });
});

describe("groups over the wire", () => {
  it("creates a group from a linked account with a result per participant: added, not on WhatsApp, privacy forbids (invite sent)", async () => {
    sim = await startTestSim();
    const alice = track((await linkWireClient(sim, ALICE)).client);
    await sim.post(`/sim/contacts/${NOBODY}/profile`, { onWhatsApp: false });
    await sim.post(`/sim/contacts/${PRIVATE}/profile`, { addToGroups: "contacts" });
    const created = await ask(alice, { op: "group_create", subject: "Support", participants: [`${ANA}@c.us`, NOBODY, PRIVATE] });
    expect(created.data.participants).toEqual([
      { id: `${ANA}@c.us`, status: "added" },
      { id: `${NOBODY}@c.us`, status: "not_on_whatsapp" },
      { id: `${PRIVATE}@c.us`, status: "invite_sent" },
    ]);
    const groupId = created.data.group.id;
    expect(groupId).toMatch(/^120363\d{12}@g\.us$/);
    // a contact who saved the account may be added by it
    await sim.post(`/sim/accounts/${PRIVATE}/contacts`, { phone: ALICE, name: "Alice" });
    const again = await ask(alice, { op: "group_participants", groupId, action: "add", participants: [PRIVATE, ANA] });
    expect(again.data).toEqual([
      { id: `${PRIVATE}@c.us`, status: "added" },
      { id: `${ANA}@c.us`, status: "already_member" },
    ]);
    const oracle = (await sim.get(`/sim/groups/${groupId}`)).json;
    expect(oracle).toMatchObject({ subject: "Support", owner: `${ALICE}@c.us`, settings: { announce: false, restrict: false } });
    expect(oracle.participants.map((p: any) => p.id)).toEqual([`${ALICE}@c.us`, `${ANA}@c.us`, `${PRIVATE}@c.us`]);
    // promote, demote and remove answer per participant too; a non-member is not_a_member
    expect((await ask(alice, { op: "group_participants", groupId, action: "promote", participants: [ANA, BEN] })).data).toEqual([
      { id: `${ANA}@c.us`, status: "promoted" },
      { id: `${BEN}@c.us`, status: "not_a_member" },
    ]);
    expect((await ask(alice, { op: "group_participants", groupId, action: "demote", participants: [ANA] })).data).toEqual([{ id: `${ANA}@c.us`, status: "demoted" }]);
    expect((await ask(alice, { op: "group_participants", groupId, action: "remove", participants: [PRIVATE] })).data).toEqual([{ id: `${PRIVATE}@c.us`, status: "removed" }]);
    expect((await ask(alice, { op: "groups", limit: 10 })).data.items.map((g: any) => g.id)).toEqual([groupId]);
  });

  it("enforces admin rights and settings: a non-admin's message to an announcement group is refused as WhatsApp refuses it", async () => {
    sim = await startTestSim();
    const alice = track((await linkWireClient(sim, ALICE)).client);
    const created = (await sim.post("/sim/groups", { by: ANA, subject: "News", participants: [ALICE, BEN] })).json;
    const groupId = created.group.id;
    // the linked account hears it was added, by whom
    expect((await alice.take("update")).update).toMatchObject({ kind: "group", groupId, change: "create", by: `${ANA}@c.us`, participants: [`${ALICE}@c.us`, `${BEN}@c.us`] });

    alice.send({ t: "send", id: "m1", to: groupId, body: "hello all" });
    expect(await alice.takeAck("m1", "SERVER")).toBeTruthy();
    const inbox = (await sim.get(`/sim/contacts/${BEN}/inbox`)).json.messages;
    expect(inbox).toEqual([expect.objectContaining({ id: "m1", from: `${ALICE}@c.us`, to: groupId, body: "hello all" })]);

    expect((await ask(alice, { op: "group_update", groupId, settings: { announce: true } })).error).toBe("NOT_ADMIN");
    expect((await ask(alice, { op: "group_participants", groupId, action: "remove", participants: [BEN] })).error).toBe("NOT_ADMIN");
    expect((await ask(alice, { op: "group_invite", groupId })).error).toBe("NOT_ADMIN");
    // a member edits the subject while info is open to all
    expect((await ask(alice, { op: "group_update", groupId, subject: "News!" })).data).toMatchObject({ subject: "News!" });

    const set = await sim.post(`/sim/groups/${groupId}/update`, { by: ANA, settings: { announce: true, restrict: true } });
    expect(set.status).toBe(200);
    expect((await alice.take("update", { where: (f) => (f.update as any).change === "settings" })).update).toMatchObject({ by: `${ANA}@c.us`, value: { announce: true, restrict: true } });
    alice.send({ t: "send", id: "m2", to: groupId, body: "may I?" });
    expect((await alice.takeAck("m2", "ERROR")).error).toMatch(/^NOT_ADMIN/);
    expect((await ask(alice, { op: "group_update", groupId, subject: "mine" })).error).toBe("NOT_ADMIN");
    // the admin promotes the account: now it may post and edit
    await sim.post(`/sim/groups/${groupId}/participants`, { by: ANA, action: "promote", participants: [ALICE] });
    expect((await alice.take("update", { where: (f) => (f.update as any).change === "promote" })).update).toMatchObject({ participants: [`${ALICE}@c.us`], by: `${ANA}@c.us` });
    alice.send({ t: "send", id: "m3", to: groupId, body: "now I may" });
    expect(await alice.takeAck("m3", "DEVICE")).toBeTruthy();
  });

  it("delivers a member's group message to a linked account with its author; a non-member may not post", async () => {
    sim = await startTestSim();
    const alice = track((await linkWireClient(sim, ALICE)).client);
    const bob = track((await linkWireClient(sim, BOB)).client);
    const groupId = (await sim.post("/sim/groups", { by: ANA, subject: "Mix", participants: [ALICE, BOB] })).json.group.id;
    const sent = await sim.post(`/sim/groups/${groupId}/send`, { from: ANA, body: `hi @${ALICE}`, mentions: [`${ALICE}@c.us`] });
    expect(sent.status).toBe(202);
    const { message } = await alice.take("message");
    expect(message).toMatchObject({ id: sent.json.id, from: groupId, author: `${ANA}@c.us`, body: `hi @${ALICE}`, mentions: [`${ALICE}@c.us`] });
    // an account's message reaches the other linked member as incoming, authored by the account
    alice.send({ t: "send", id: "a1", to: groupId, body: "from alice" });
    expect((await bob.take("message", { where: (f) => f.message.id === "a1" })).message).toMatchObject({ from: groupId, author: `${ALICE}@c.us` });
    const history = (await sim.get(`/sim/accounts/${BOB}/chats/${groupId}/messages`)).json.messages;
    expect(history.map((m: any) => [m.body, m.author, m.chatId])).toEqual([
      ["from alice", `${ALICE}@c.us`, groupId],
      [`hi @${ALICE}`, `${ANA}@c.us`, groupId],
    ]);
    expect((await sim.get(`/sim/accounts/${BOB}/chats`)).json.chats[0]).toMatchObject({ id: groupId, name: "Mix" });
    const outsider = await sim.post(`/sim/groups/${groupId}/send`, { from: BEN, body: "let me in" });
    expect([outsider.status, outsider.json.error.code]).toEqual([404, "NOT_FOUND"]);
  });

  it("hands out, revokes and accepts invite codes; leaving tells the members; pictures belong to members", async () => {
    sim = await startTestSim();
    const alice = track((await linkWireClient(sim, ALICE)).client);
    const groupId = (await ask(alice, { op: "group_create", subject: "Club", participants: [ANA] })).data.group.id;
    const code = (await ask(alice, { op: "group_invite", groupId })).data;
    expect(code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const revoked = (await ask(alice, { op: "group_revoke_invite", groupId })).data;
    expect(revoked).not.toBe(code);
    expect((await sim.post("/sim/groups/join", { by: BEN, code })).status).toBe(404);
    expect((await sim.post("/sim/groups/join", { by: BEN, code: revoked })).status).toBe(200);
    expect((await alice.take("update", { where: (f) => (f.update as any).change === "join" })).update).toMatchObject({ by: `${BEN}@c.us`, participants: [`${BEN}@c.us`] });

    const png = Buffer.from("89504e470d0a1a0a", "hex").toString("base64");
    expect((await ask(alice, { op: "group_picture_set", groupId, picture: { mimetype: "image/png", data: png } })).data).toBe(true);
    expect((await ask(alice, { op: "group_picture", groupId })).data).toMatchObject({ mimetype: "image/png", data: png });
    expect((await ask(alice, { op: "group_picture_set", groupId, picture: { mimetype: "image/gif", data: png } })).error).toBe("VALIDATION_ERROR");

    await sim.post(`/sim/groups/${groupId}/leave`, { by: ANA });
    expect((await alice.take("update", { where: (f) => (f.update as any).change === "leave" })).update).toMatchObject({ by: `${ANA}@c.us`, participants: [`${ANA}@c.us`] });
    expect((await ask(alice, { op: "group_leave", groupId })).data).toBe(true);
    expect(await ask(alice, { op: "group", groupId })).toEqual({ data: null });
    expect((await ask(alice, { op: "group_picture", groupId })).error).toBe("NOT_FOUND");
    // the account joins back by code, found by the group's remaining admin
    const code2 = (await sim.get(`/sim/groups/${groupId}`)).json.inviteCode;
    expect((await ask(alice, { op: "group_join", code: code2 })).data).toMatchObject({ id: groupId });
  });

  it("keeps groups and labels across a restart of the network (state file)", async () => {
    const dir = await tempDir("sim-groups");
    const stateFile = path.join(dir, "state.json");
    sim = await startTestSim({ stateFile });
    const groupId = (await sim.post("/sim/groups", { by: ANA, subject: "Kept", participants: [BEN] })).json.group.id;
    await sim.post(`/sim/contacts/${ALICE}/profile`, { isBusiness: true });
    const label = (await sim.post(`/sim/accounts/${ALICE}/labels`, { name: "VIP" })).json;
    await sim.close();
    sim = await startTestSim({ stateFile });
    expect((await sim.get(`/sim/groups/${groupId}`)).json).toMatchObject({ subject: "Kept", participants: [{ id: `${ANA}@c.us` }, { id: `${BEN}@c.us` }] });
    const alice = track((await linkWireClient(sim, ALICE)).client);
    expect((await ask(alice, { op: "labels" })).data).toEqual([label]);
    await fs.rm(dir, { recursive: true, force: true });
  });
});

describe("calls", () => {
  it("rings a linked account, which may reject a ringing call once; another account cannot", async () => {
    sim = await startTestSim();
    const alice = track((await linkWireClient(sim, ALICE)).client);
    const bob = track((await linkWireClient(sim, BOB)).client);
    const call = (await sim.post(`/sim/contacts/${ANA}/call`, { to: ALICE, isVideo: true })).json;
    expect((await alice.take("update")).update).toEqual({ kind: "call", callId: call.id, from: `${ANA}@c.us`, isVideo: true, isGroup: false, timestamp: call.timestamp });
    expect((await ask(bob, { op: "call_reject", callId: call.id })).data).toBe(false);
    expect((await ask(alice, { op: "call_reject", callId: call.id })).data).toBe(true);
    expect((await ask(alice, { op: "call_reject", callId: call.id })).data).toBe(false);
    expect((await sim.get(`/sim/calls/${call.id}`)).json.state).toBe("rejected");
    expect((await sim.post(`/sim/contacts/${ANA}/call`, { to: ALICE, isVideo: "yes" })).status).toBe(400);
  });
});

describe("labels", () => {
  it("are for business accounts: listed, put on chats and taken off; the phone's changes reach the linked device", async () => {
    sim = await startTestSim();
    const alice = track((await linkWireClient(sim, ALICE)).client);
    expect((await ask(alice, { op: "labels" })).error).toBe("NOT_BUSINESS");
    expect((await sim.post(`/sim/accounts/${ALICE}/labels`, { name: "New" })).status).toBe(409);
    await sim.post(`/sim/contacts/${ALICE}/profile`, { isBusiness: true });
    const lead = (await sim.post(`/sim/accounts/${ALICE}/labels`, { name: "Lead" })).json;
    const paid = (await sim.post(`/sim/accounts/${ALICE}/labels`, { name: "Paid", color: "#00aa00" })).json;
    expect((await ask(alice, { op: "labels" })).data).toEqual([lead, paid]);
    await sim.post(`/sim/contacts/${ANA}/send`, { to: ALICE, body: "hi" });
    const chatId = `${ANA}@c.us`;
    expect((await ask(alice, { op: "chat_label", chatId, labelId: lead.id, on: true })).data).toBe("ok");
    expect((await ask(alice, { op: "chat_label", chatId, labelId: "99", on: true })).data).toBe("no_label");
    expect((await ask(alice, { op: "chat_label", chatId: `${BEN}@c.us`, labelId: lead.id, on: true })).data).toBe("no_chat");
    expect((await ask(alice, { op: "chat_labels", chatId })).data).toEqual([lead]);
    await sim.post(`/sim/accounts/${ALICE}/labels/${paid.id}/chats`, { chatId, on: true });
    expect((await alice.take("update", { where: (f) => f.update.kind === "label" })).update).toEqual({ kind: "label", chatId, labelId: paid.id, on: true });
    // the phone's new labels reach the device too (WhatsApp Web syncs them)
    expect((await alice.take("update", { where: (f) => f.update.kind === "label_defs" && (f.update as any).labels.length === 2 })).update).toEqual({ kind: "label_defs", labels: [lead, paid] });
    expect((await sim.get(`/sim/accounts/${ALICE}/chats/${chatId}/labels`)).json.labels).toEqual([lead, paid]);
  });
});

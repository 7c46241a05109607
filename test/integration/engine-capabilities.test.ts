// The capability contract: each capability runs on every engine that declares it, against the
// simulated network's own record of the account (the oracle): the simulator engine, and the wwebjs
// engine (real whatsapp-web.js 1.34.7, real puppeteer and Chromium) on the fake WhatsApp Web page.
// A declaration is a tested promise: a capability an engine declares has its test here, generated
// from the declaration itself.
import { createHash } from "node:crypto";
import { once } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Capability, GroupUpdate } from "../../lib/engines/capabilities";
import { CAPABILITIES, CAPABILITY_VERBS } from "../../lib/engines/capabilities";
import { SIMULATOR_CAPABILITIES, SimulatorEngine } from "../../lib/engines/simulator";
import type { EngineEvents, EngineMessage, SessionEngine } from "../../lib/engines/types";
import { BAILEYS_CAPABILITIES, BaileysEngine, simulatedEndpoint } from "../../lib/engines/baileys";
import { WwebjsEngine } from "../../lib/engines/wwebjs";
import { WWEBJS_CAPABILITIES } from "../../lib/engines/wwebjs/engine";
import { expectNoChromiumUnder, fakePageOptions } from "../helpers/chromium";
import { tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550001111";
const ANA = "4915112345678";
const BEN = "4915100000002";
/** A real 2x2 PNG (an engine may decode it to re-encode it) */
const PNG_2X2 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=";
const VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Ben\nTEL;type=CELL;waid=4915100000002:+4915100000002\nEND:VCARD";

let sim: TestSim;
let root: string;

interface Kit {
  name: string;
  capabilities: ReadonlySet<Capability>;
  make(authDir: string): Promise<SessionEngine>;
}

const kits: Kit[] = [
  {
    name: "simulator",
    capabilities: SIMULATOR_CAPABILITIES,
    make: async (authDir) => new SimulatorEngine({ workspaceId: "w1", sessionId: "s1", authDir }, { url: sim.url, startTimeoutMs: 20000, sendTimeoutMs: 10000 }),
  },
  {
    name: "wwebjs",
    capabilities: WWEBJS_CAPABILITIES,
    make: async (authDir) => new WwebjsEngine({ workspaceId: "w1", sessionId: "s1", authDir }, await fakePageOptions(path.join(root, "fake-wa-web"), sim.url)),
  },
  {
    name: "baileys",
    capabilities: BAILEYS_CAPABILITIES,
    make: async (authDir) => new BaileysEngine({ workspaceId: "w1", sessionId: "s1", authDir }, { endpoint: simulatedEndpoint(sim.url), startTimeoutMs: 20000, sendTimeoutMs: 10000 }),
  },
];

/** The network's own id of a message (the wwebjs engine's ids are `<fromMe>_<chat>_<id>`). */
const raw = (id: string) => id.split("_").pop()!;
const inbox = async (contact: string) => (await sim.get(`/sim/contacts/${contact}/inbox`)).json.messages as any[];
const history = async (chat: string) => (await sim.get(`/sim/accounts/${ALICE}/chats/${chat}@c.us/messages`)).json.messages as any[];

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("capabilities");
});

afterAll(async () => {
  await sim?.close();
  await expectNoChromiumUnder(root);
  await fs.rm(root, { recursive: true, force: true });
});

/** Each capability's test, on a linked engine (ALICE) whose chats with ANA and BEN the tests share. */
const SPECS: Record<Capability, (engine: SessionEngine) => Promise<void>> = {
  replies: async (engine) => {
    const asked = await contactMessage(engine, ANA, "Where are you?");
    const sent = await engine.sendMessage(ANA, { text: "At the station", replyTo: asked.id });
    expect((await inbox(ANA)).find((m) => m.id === raw(sent.id))).toMatchObject({ replyTo: raw(asked.id), body: "At the station" });
    const other = await contactMessage(engine, BEN, "not your chat");
    await expect(engine.sendMessage(ANA, { text: "x", replyTo: other.id })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
    const quoting = await contactMessage(engine, ANA, "re", { replyTo: raw(sent.id) });
    expect(raw(quoting.replyTo!)).toBe(raw(sent.id));
  },
  mentions: async (engine) => {
    const sent = await engine.sendMessage(ANA, { text: `@${BEN} joins us`, mentions: [`${BEN}@c.us`] });
    expect((await inbox(ANA)).find((m) => m.id === raw(sent.id))).toMatchObject({ mentions: [`${BEN}@c.us`] });
    const got = await contactMessage(engine, ANA, `hi @${ALICE}`, { mentions: [`${ALICE}@c.us`] });
    expect(got.mentions).toEqual([`${ALICE}@c.us`]);
  },
  location: async (engine) => {
    const sent = await engine.sendMessage(ANA, { location: { latitude: 52.52, longitude: 13.405, name: "Berlin", address: "Pariser Platz" } });
    expect((await inbox(ANA)).find((m) => m.id === raw(sent.id))).toMatchObject({ location: { latitude: 52.52, longitude: 13.405, name: "Berlin", address: "Pariser Platz" } });
    const got = await contactMessage(engine, ANA, "", { location: { latitude: -33.86, longitude: 151.21, name: "Sydney" } });
    expect(got).toMatchObject({ type: "location", location: { latitude: -33.86, longitude: 151.21, name: "Sydney" } });
  },
  vcard: async (engine) => {
    const sent = await engine.sendMessage(ANA, { contact: { vcard: VCARD } });
    expect((await inbox(ANA)).find((m) => m.id === raw(sent.id))).toMatchObject({ vcard: VCARD });
    const got = await contactMessage(engine, ANA, "", { vcard: VCARD });
    expect(got).toMatchObject({ type: "vcard", vcard: VCARD });
  },
  polls: async (engine) => {
    const sent = await engine.sendMessage(ANA, { poll: { name: "Lunch?", options: ["pizza", "salad"], multiple: true } });
    expect((await inbox(ANA)).find((m) => m.id === raw(sent.id))).toMatchObject({ poll: { name: "Lunch?", options: ["pizza", "salad"], multiple: true } });
    const got = await contactMessage(engine, ANA, "", { poll: { name: "When?", options: ["now", "later"], multiple: false } });
    expect(got).toMatchObject({ type: "poll", poll: { name: "When?", options: ["now", "later"], multiple: false } });
    // a contact votes on the account's poll: its whole current selection, by the options' names
    const heard = next(engine, "poll_vote");
    await sim.post(`/sim/contacts/${ANA}/vote`, { to: ALICE, messageId: raw(sent.id), options: ["salad", "pizza"] });
    const [id, voter, options, chatId] = await heard;
    expect([raw(id), voter, [...options].sort(), chatId]).toEqual([raw(sent.id), `${ANA}@c.us`, ["pizza", "salad"], `${ANA}@c.us`]);
    expect((await history(ANA)).find((m) => m.id === raw(sent.id)).votes).toEqual({ [ANA]: ["salad", "pizza"] });
  },
  reactions: async (engine) => {
    const theirs = await contactMessage(engine, ANA, "Nice!");
    expect(await engine.react!(theirs.id, "👍")).toBe(true);
    expect((await history(ANA)).find((m) => m.id === raw(theirs.id)).reactions).toEqual({ [ALICE]: "👍" });
    expect(await engine.react!(theirs.id, "")).toBe(true);
    expect((await history(ANA)).find((m) => m.id === raw(theirs.id)).reactions).toBeUndefined();
    const mine = await engine.sendMessage(ANA, { text: "like this?" });
    const heard = next(engine, "message_reaction");
    await sim.post(`/sim/contacts/${ANA}/react`, { to: ALICE, messageId: raw(mine.id), emoji: "❤️" });
    const [id, from, emoji, chatId] = await heard;
    expect([raw(id), from, emoji, chatId]).toEqual([raw(mine.id), `${ANA}@c.us`, "❤️", `${ANA}@c.us`]);
  },
  edit: async (engine) => {
    const mine = await engine.sendMessage(ANA, { text: "See you at 5" });
    expect(await engine.editMessage!(mine.id, "See you at 6")).toBe(true);
    expect((await inbox(ANA)).find((m) => m.id === raw(mine.id))).toMatchObject({ body: "See you at 6", edited: true });
    const theirs = await contactMessage(engine, ANA, "typo");
    const heard = next(engine, "message_edited");
    await sim.post(`/sim/contacts/${ANA}/edit`, { to: ALICE, messageId: raw(theirs.id), body: "fixed" });
    const [id, text, chatId] = await heard;
    expect([raw(id), text, chatId]).toEqual([raw(theirs.id), "fixed", `${ANA}@c.us`]);
  },
  revoke: async (engine) => {
    const mine = await engine.sendMessage(ANA, { text: "oops" });
    expect(await engine.deleteMessage!(mine.id, true)).toBe(true);
    expect((await inbox(ANA)).find((m) => m.id === raw(mine.id))).toMatchObject({ revoked: true, body: "" });
    const theirs = await contactMessage(engine, ANA, "delete me here");
    expect(await engine.deleteMessage!(theirs.id, false)).toBe(true);
    expect((await history(ANA)).some((m) => m.id === raw(theirs.id))).toBe(false);
    const gone = await contactMessage(engine, ANA, "regret");
    const heard = next(engine, "message_revoked");
    await sim.post(`/sim/contacts/${ANA}/revoke`, { to: ALICE, messageId: raw(gone.id) });
    const [id, chatId] = await heard;
    expect([raw(id), chatId]).toEqual([raw(gone.id), `${ANA}@c.us`]);
  },
  read: async (engine) => {
    await contactMessage(engine, BEN, "one");
    await contactMessage(engine, BEN, "two");
    const unread = async () => (await sim.get(`/sim/accounts/${ALICE}/chats`)).json.chats.find((c: any) => c.id === `${BEN}@c.us`).unreadCount;
    expect(await unread()).toBeGreaterThanOrEqual(2);
    expect(await engine.markRead!(`${BEN}@c.us`)).toBe(true);
    expect(await unread()).toBe(0);
  },
  presence: async (engine) => {
    for (const state of ["typing", "recording", "paused"] as const) {
      await engine.sendPresence!(`${ANA}@c.us`, state);
      expect((await sim.get(`/sim/accounts/${ALICE}/state`)).json.presence[`${ANA}@c.us`]).toBe(state);
    }
    // a contact's chat state, as the engine hears it
    for (const state of ["typing", "paused", "recording", "paused"] as const) {
      const heard = next(engine, "presence");
      await sim.post(`/sim/contacts/${ANA}/presence`, { to: ALICE, state });
      expect(await heard).toEqual([`${ANA}@c.us`, state, `${ANA}@c.us`]);
    }
  },
  sentEvents: async (engine) => {
    const heard = next(engine, "message_sent");
    const { id } = (await sim.post(`/sim/accounts/${ALICE}/send`, { to: ANA, body: "typed on my phone" })).json;
    const [message] = await heard;
    expect(message).toMatchObject({ fromMe: true, body: "typed on my phone", to: `${ANA}@c.us`, chatId: `${ANA}@c.us` });
    expect(raw(message.id)).toBe(id);
    // the engine's own sends are not "sent from another device"
    const events: unknown[] = [];
    engine.on("message_sent", (m) => events.push(m));
    await engine.sendMessage(ANA, { text: "from the API" });
    await engine.sendMessage(ANA, { text: "and again" });
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  },
  chats: async (engine) => {
    await contactMessage(engine, ANA, "older");
    await contactMessage(engine, BEN, "newest");
    const first = await engine.listChats!({ limit: 1 });
    expect(first.items[0]).toMatchObject({ id: `${BEN}@c.us`, isGroup: false, lastMessage: { body: "newest" } });
    const rest = await engine.listChats!({ limit: 100, before: first.next });
    expect(rest.items.map((c) => c.id)).toContain(`${ANA}@c.us`);
    expect(rest.items.map((c) => c.id)).not.toContain(`${BEN}@c.us`);
    expect(await engine.getChat!(`${BEN}@c.us`)).toMatchObject({ id: `${BEN}@c.us` });
    expect(await engine.getChat!("4915199999999@c.us")).toBeUndefined();
  },
  history: async (engine) => {
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push((await engine.sendMessage(BEN, { text: `h${i}` })).id);
    const p1 = await engine.listMessages!(`${BEN}@c.us`, { limit: 3 });
    const p2 = await engine.listMessages!(`${BEN}@c.us`, { limit: 2, before: p1!.next });
    expect([...p1!.items, ...p2!.items].map((m) => m.body)).toEqual(["h4", "h3", "h2", "h1", "h0"]);
    expect(await engine.getMessage!(sent[0])).toMatchObject({ body: "h0", fromMe: true, chatId: `${BEN}@c.us` });
    expect(await engine.listMessages!("4915199999999@c.us", { limit: 3 })).toBeUndefined();
    // what happened while the engine was away is in the history when it comes back
    await engine.stop();
    await sim.post(`/sim/accounts/${ALICE}/send`, { to: BEN, body: "typed while the session was stopped" });
    const ready = next(engine, "ready", 60000);
    await engine.start();
    await ready;
    // (WhatsApp relays it to a multi-device companion after its login: the baileys engine may be ready a moment before it has it)
    await waitFor("the message typed while the session was stopped", async () => (await engine.listMessages!(`${BEN}@c.us`, { limit: 1 }))!.items[0]?.body === "typed while the session was stopped", 20000);
    const back = await engine.listMessages!(`${BEN}@c.us`, { limit: 2 });
    expect(back!.items.map((m) => m.body)).toEqual(["typed while the session was stopped", "h4"]);
    expect((await engine.listChats!({ limit: 1 })).items[0]).toMatchObject({ id: `${BEN}@c.us`, lastMessage: { body: "typed while the session was stopped", fromMe: true } });
    // a long chat pages back to its first message, whatever the engine keeps itself (the baileys engine's store holds 100 per chat, and asks the phone for earlier ones)
    const LONG = "4915100000003";
    for (let i = 0; i < 110; i++) await sim.post(`/sim/accounts/${ALICE}/send`, { to: LONG, body: `d${i}` });
    await waitFor("the long chat's last message", async () => (await engine.listMessages!(`${LONG}@c.us`, { limit: 1 }))?.items[0]?.body === "d109", 30000);
    const bodies: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await engine.listMessages!(`${LONG}@c.us`, { limit: 40, ...(before ? { before } : {}) });
      bodies.push(...page!.items.map((m) => m.body));
      if (!page!.next) break;
      before = page!.next;
    }
    expect(bodies).toEqual(Array.from({ length: 110 }, (_, i) => `d${109 - i}`));
  },
  contacts: async (engine) => {
    await engine.sendMessage(ANA, { text: "hello Ana" });
    await engine.sendMessage(BEN, { text: "hello Ben" });
    await sim.post(`/sim/contacts/${ANA}/profile`, { isBusiness: true, about: "Ana's shop", pictureUrl: "https://example.com/ana.jpg" });
    await sim.post(`/sim/contacts/4915100000404/profile`, { onWhatsApp: false });
    const [yes, no] = await engine.checkPhones!([ANA, "4915100000404"]);
    expect(yes).toMatchObject({ phone: ANA, exists: true, id: `${ANA}@c.us` });
    expect(no).toMatchObject({ exists: false });
    expect(await engine.getContact!(`${ANA}@c.us`)).toMatchObject({ id: `${ANA}@c.us`, phone: ANA, lid: yes.lid, isBusiness: true, about: "Ana's shop", pictureUrl: "https://example.com/ana.jpg", blocked: false });
    expect(await engine.getContact!("4915100000404@c.us")).toBeUndefined();
    expect(await engine.getContact!(yes.lid!)).toMatchObject({ phone: ANA });
    expect(await engine.setBlocked!(`${ANA}@c.us`, true)).toBe(true);
    expect((await sim.get(`/sim/accounts/${ALICE}/state`)).json.blocked).toEqual([ANA]);
    expect(await engine.getContact!(`${ANA}@c.us`)).toMatchObject({ blocked: true });
    await engine.setBlocked!(`${ANA}@c.us`, false);
    const page = await engine.listContacts!({ limit: 100 });
    expect(page.items.map((c) => c.phone)).toEqual(expect.arrayContaining([ANA, BEN]));
  },
  groups: async (engine) => {
    await sim.post(`/sim/contacts/4915100000404/profile`, { onWhatsApp: false });
    const created = await engine.createGroup!("Support", [`${ANA}@c.us`, BEN, "4915100000404"]);
    const groupId = created.group.id;
    expect(created.participants).toEqual([
      { id: `${ANA}@c.us`, status: "added" },
      { id: `${BEN}@c.us`, status: "added" },
      { id: "4915100000404@c.us", status: "not_on_whatsapp" },
    ]);
    const oracle = async () => (await sim.get(`/sim/groups/${groupId}`)).json;
    expect((await oracle()).participants.map((p: any) => [p.id, p.admin])).toEqual([
      [`${ALICE}@c.us`, true],
      [`${ANA}@c.us`, false],
      [`${BEN}@c.us`, false],
    ]);
    expect(await engine.getGroup!(groupId)).toMatchObject({ id: groupId, subject: "Support", owner: `${ALICE}@c.us`, settings: { announce: false, restrict: false } });
    expect((await engine.listGroups!({ limit: 10 })).items.map((g) => g.id)).toContain(groupId);
    expect(await engine.getGroup!("120363000000000000@g.us")).toBeUndefined();

    // info and settings, as the network records them; a member hears each change with its author
    const changes: any[] = [];
    engine.on("group_update", (u) => void changes.push(u));
    expect(await engine.updateGroup!(groupId, { subject: "Help desk", description: "Ask here", settings: { announce: true, restrict: true } })).toMatchObject({ subject: "Help desk", description: "Ask here", settings: { announce: true, restrict: true } });
    expect(await oracle()).toMatchObject({ subject: "Help desk", description: "Ask here", settings: { announce: true, restrict: true } });

    // participants, each with its own result
    expect(await engine.changeParticipants!(groupId, "promote", [`${ANA}@c.us`, "4915100000009@c.us"])).toEqual([
      { id: `${ANA}@c.us`, status: "promoted" },
      { id: "4915100000009@c.us", status: "not_a_member" },
    ]);
    expect(await engine.changeParticipants!(groupId, "demote", [`${ANA}@c.us`])).toEqual([{ id: `${ANA}@c.us`, status: "demoted" }]);
    expect(await engine.changeParticipants!(groupId, "remove", [`${BEN}@c.us`])).toEqual([{ id: `${BEN}@c.us`, status: "removed" }]);
    expect(await engine.changeParticipants!(groupId, "add", [`${BEN}@c.us`, `${ANA}@c.us`])).toEqual([
      { id: `${BEN}@c.us`, status: "added" },
      { id: `${ANA}@c.us`, status: "already_member" },
    ]);

    // a message to the group with mentions of everyone reaches the members
    const everyone = [`${ANA}@c.us`, `${BEN}@c.us`];
    const sent = await engine.sendMessage(groupId, { text: `@${ANA} @${BEN} meeting at 5`, mentions: everyone });
    expect((await inbox(BEN)).find((m) => m.id === raw(sent.id))).toMatchObject({ to: groupId, mentions: everyone });
    // a member's message arrives from the group, with its author
    await engine.updateGroup!(groupId, { settings: { announce: false } });
    const posted = await sim.post(`/sim/groups/${groupId}/send`, { from: ANA, body: "on my way" });
    let got: EngineMessage | undefined;
    await waitFor("the group message", () => (got = received.get(engine)!.find((m) => raw(m.id) === posted.json.id)) !== undefined, 20000);
    expect(got).toMatchObject({ from: groupId, chatId: groupId, author: `${ANA}@c.us`, body: "on my way" });

    // an announcement group refuses a non-admin: the contact makes one and adds the account
    const theirs = (await sim.post("/sim/groups", { by: ANA, subject: "News", participants: [ALICE] })).json.group.id;
    await waitFor("the account sees the group", async () => (await engine.getGroup!(theirs)) !== undefined, 20000);
    await sim.post(`/sim/groups/${theirs}/update`, { by: ANA, settings: { announce: true } });
    await expect(engine.sendMessage(theirs, { text: "may I?" })).rejects.toMatchObject({ code: "GROUP_NOT_ADMIN" });
    await expect(engine.changeParticipants!(theirs, "add", [BEN])).rejects.toMatchObject({ code: "GROUP_NOT_ADMIN" });

    // invite codes: get, revoke (the old one stops working), join by code
    const code = await engine.getInviteCode!(groupId);
    expect(code).toBe((await oracle()).inviteCode);
    const fresh = await engine.revokeInviteCode!(groupId);
    expect(fresh).not.toBe(code);
    expect((await oracle()).inviteCode).toBe(fresh);
    const theirCode = (await sim.get(`/sim/groups/${theirs}`)).json.inviteCode;
    expect(await engine.leaveGroup!(theirs)).toBe(true);
    expect(await engine.getGroup!(theirs)).toBeUndefined();
    expect(await engine.joinGroup!(theirCode)).toBe(theirs);
    expect(await engine.joinGroup!("AAAAAAAAAAAAAAAAAAAAAA")).toBeUndefined();

    // the picture
    // an engine may re-encode it (whatsapp-web.js sends a 640x640 JPEG): the picture read back is
    // what WhatsApp keeps, byte for byte, whichever type that is
    expect(await engine.getGroupPicture!(groupId)).toBeNull();
    expect(await engine.setGroupPicture!(groupId, { mimetype: "image/png", data: PNG_2X2 })).toBe(true);
    const picture = await engine.getGroupPicture!(groupId);
    const kept = (await oracle()).picture;
    expect(picture).toEqual({ mimetype: kept.mimetype, data: expect.any(String) });
    expect(createHash("sha256").update(Buffer.from(picture!.data, "base64")).digest("hex")).toBe(kept.sha256);
    expect(kept.mimetype === "image/png" ? picture!.data : kept.mimetype).toBe(kept.mimetype === "image/png" ? PNG_2X2 : "image/jpeg");
    if (engine instanceof WwebjsEngine) {
      // the library decodes the picture in the page to re-encode it: bytes that are no image are refused
      await expect(engine.setGroupPicture!(groupId, { mimetype: "image/png", data: Buffer.from("not a picture").toString("base64") })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
      expect((await oracle()).picture).toEqual(kept);
    }
    expect(await engine.setGroupPicture!(groupId, null)).toBe(true);
    expect(await engine.getGroupPicture!(groupId)).toBeNull();
    expect((await oracle()).picture).toBeNull();

    // what the contacts did, heard as group updates with who did it
    await sim.post(`/sim/groups/${theirs}/participants`, { by: ANA, action: "promote", participants: [ALICE] });
    await waitFor("the promotion", () => changes.some((c) => c.groupId === theirs && c.change === "promote"), 20000);
    expect(changes.find((c) => c.groupId === theirs && c.change === "promote")).toEqual({ groupId: theirs, change: "promote", by: `${ANA}@c.us`, participants: [`${ALICE}@c.us`] });
    expect(changes.find((c) => c.groupId === theirs && c.change === "settings")).toMatchObject({ by: `${ANA}@c.us`, value: { announce: true } });
    await sim.post(`/sim/groups/${groupId}/leave`, { by: BEN });
    await waitFor("the leave", () => changes.some((c) => c.groupId === groupId && c.change === "leave"), 20000);
    expect(changes.find((c) => c.groupId === groupId && c.change === "leave")).toEqual({ groupId, change: "leave", by: `${BEN}@c.us`, participants: [`${BEN}@c.us`] });
  },
  calls: async (engine) => {
    const heard = next(engine, "call");
    const call = (await sim.post(`/sim/contacts/${ANA}/call`, { to: ALICE, isVideo: true })).json;
    const [got] = await heard;
    expect(got).toEqual({ callId: call.id, from: `${ANA}@c.us`, isVideo: true, isGroup: false, timestamp: expect.any(Number) });
    expect(await engine.rejectCall!(call.id)).toBe(true);
    expect((await sim.get(`/sim/calls/${call.id}`)).json.state).toBe("rejected");
    expect(await engine.rejectCall!(call.id)).toBe(false);
    expect(await engine.rejectCall!("0123456789ABCDEF")).toBe(false);
  },
  labels: async (engine) => {
    await expect(engine.listLabels!()).rejects.toMatchObject({ code: "LABELS_NOT_AVAILABLE" });
    // a WhatsApp Business account (a device learns it when it connects, as WhatsApp Web does)
    await sim.post(`/sim/contacts/${ALICE}/profile`, { isBusiness: true });
    await engine.stop();
    const ready = next(engine, "ready", 60000);
    await engine.start();
    await ready;
    const lead = (await sim.post(`/sim/accounts/${ALICE}/labels`, { name: "Lead" })).json;
    const paid = (await sim.post(`/sim/accounts/${ALICE}/labels`, { name: "Paid" })).json;
    await waitFor("the phone's labels", async () => (await engine.listLabels!()).length === 2, 20000);
    expect(await engine.listLabels!()).toEqual([lead, paid]);
    await contactMessage(engine, ANA, "I want to buy");
    const chatId = `${ANA}@c.us`;
    const heardLabels: unknown[] = [];
    engine.on("label", (...args) => void heardLabels.push(args));
    expect(await engine.setChatLabel!(chatId, lead.id, true)).toBe("ok");
    expect((await sim.get(`/sim/accounts/${ALICE}/chats/${chatId}/labels`)).json.labels).toEqual([lead]);
    expect(await engine.getChatLabels!(chatId)).toEqual([lead]);
    expect(await engine.setChatLabel!(chatId, "999", true)).toBe("no_label");
    expect(await engine.setChatLabel!("4915199999999@c.us", lead.id, true)).toBe("no_chat");
    expect(await engine.setChatLabel!(chatId, lead.id, false)).toBe("ok");
    expect(await engine.getChatLabels!(chatId)).toEqual([]);
    expect((await sim.get(`/sim/accounts/${ALICE}/chats/${chatId}/labels`)).json.labels).toEqual([]);
    // the phone labels a chat: the engine hears of it (and never of its own changes)
    const heard = next(engine, "label");
    await sim.post(`/sim/accounts/${ALICE}/labels/${paid.id}/chats`, { chatId, on: true });
    expect(await heard).toEqual([chatId, paid.id, true]);
    expect(heardLabels).toEqual([[chatId, paid.id, true]]);
    expect(await engine.getChatLabels!(chatId)).toEqual([paid]);
  },
};

function next<K extends keyof EngineEvents>(engine: SessionEngine, event: K, timeoutMs = 20000) {
  return once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;
}

/** Every message each engine received, so a test finds one that arrived before the network answered its sender. */
const received = new WeakMap<SessionEngine, EngineMessage[]>();

/** A contact's message (any fields) as the engine received it. */
async function contactMessage(engine: SessionEngine, contact: string, body: string, fields: Record<string, unknown> = {}): Promise<EngineMessage> {
  const res = await sim.post(`/sim/contacts/${contact}/send`, { to: ALICE, body, ...fields });
  if (res.status !== 202) throw new Error(`contact send: ${res.status} ${res.body.toString()}`);
  const id: string = res.json.id;
  let found: EngineMessage | undefined;
  await waitFor(`message ${id}`, () => (found = received.get(engine)!.find((m) => raw(m.id) === id)) !== undefined, 20000);
  return found!;
}

describe.each(kits)("the $name engine", (kit) => {
  let engine: SessionEngine;
  let dir: string;

  beforeAll(async () => {
    await sim.post("/sim/reset");
    dir = await fs.mkdtemp(path.join(root, `${kit.name}-`));
    engine = await kit.make(path.join(dir, "auth"));
    const log: EngineMessage[] = [];
    received.set(engine, log);
    engine.on("message", (m) => void log.push(m));
    const qr = next(engine, "qr", 60000);
    await engine.start();
    const [code] = await qr;
    const ready = next(engine, "ready", 60000);
    const linked = await sim.post("/sim/link", { qr: code, phone: ALICE });
    if (linked.status !== 200) throw new Error(`link: ${linked.status}`);
    await ready;
  }, 90000);

  afterAll(async () => {
    await engine?.stop();
    await expectNoChromiumUnder(dir);
  });

  it("declares its capabilities, and has the verbs of each", () => {
    expect(engine.capabilities).toBe(kit.capabilities);
    for (const c of kit.capabilities) for (const verb of CAPABILITY_VERBS[c]) expect([c, typeof engine[verb]]).toEqual([c, "function"]);
  });

  for (const capability of CAPABILITIES.filter((c) => kit.capabilities.has(c))) {
    it(`${capability}`, () => SPECS[capability](engine), 60000);
  }

  const hearsUpdates = (["reactions", "edit", "polls", "revoke", "sentEvents"] as const).every((c) => kit.capabilities.has(c));
  if (hearsUpdates) {
    it("hears what happened while it was stopped, once: a reaction, an edit, a vote, a revoke, a message sent from the phone", async () => {
      const mine = await engine.sendMessage(BEN, { text: "react to this later" });
      const poll = await engine.sendMessage(BEN, { poll: { name: "Tea?", options: ["yes", "no"], multiple: false } });
      const typo = await contactMessage(engine, BEN, "helo");
      const regret = await contactMessage(engine, BEN, "not for you");
      const heard: Record<string, unknown[][]> = {};
      const listen = (event: keyof EngineEvents) => engine.on(event, (...args: unknown[]) => void (heard[event] ??= []).push(args));
      for (const event of ["message_reaction", "message_edited", "poll_vote", "message_revoked", "message_sent"] as const) listen(event);
      await engine.stop();

      await sim.post(`/sim/contacts/${BEN}/react`, { to: ALICE, messageId: raw(mine.id), emoji: "🙌" });
      await sim.post(`/sim/contacts/${BEN}/edit`, { to: ALICE, messageId: raw(typo.id), body: "hello" });
      await sim.post(`/sim/contacts/${BEN}/vote`, { to: ALICE, messageId: raw(poll.id), options: ["no"] });
      await sim.post(`/sim/contacts/${BEN}/revoke`, { to: ALICE, messageId: raw(regret.id) });
      const phone = (await sim.post(`/sim/accounts/${ALICE}/send`, { to: BEN, body: "sent while the session was stopped" })).json.id;
      expect((await sim.get("/sim/stats")).json.queuedUpdates).toBe(5);

      const ready = next(engine, "ready", 60000);
      await engine.start();
      await ready;
      await waitFor("the five updates", () => Object.values(heard).flat().length >= 5, 30000);
      expect(heard.message_reaction.map(([id, from, emoji, chatId]) => [raw(id as string), from, emoji, chatId])).toEqual([[raw(mine.id), `${BEN}@c.us`, "🙌", `${BEN}@c.us`]]);
      expect(heard.message_edited.map(([id, text]) => [raw(id as string), text])).toEqual([[raw(typo.id), "hello"]]);
      expect(heard.poll_vote.map(([id, voter, options]) => [raw(id as string), voter, options])).toEqual([[raw(poll.id), `${BEN}@c.us`, ["no"]]]);
      expect(heard.message_revoked.map(([id]) => raw(id as string))).toEqual([raw(regret.id)]);
      expect(heard.message_sent.map(([m]) => [raw((m as EngineMessage).id), (m as EngineMessage).body])).toEqual([[phone, "sent while the session was stopped"]]);
      await waitFor("every update acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 20000);

      // once: a second restart hears none of them again (a fresh reaction, which comes after anything redelivered, marks the end)
      await engine.stop();
      const again = next(engine, "ready", 60000);
      await engine.start();
      await again;
      const fresh = next(engine, "message_reaction");
      await sim.post(`/sim/contacts/${BEN}/react`, { to: ALICE, messageId: raw(mine.id), emoji: "👌" });
      expect((await fresh)[2]).toBe("👌");
      // (an engine may hear an update just before the network has its acknowledgement)
      await waitFor("the fresh reaction acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 20000);
      expect(Object.fromEntries(Object.entries(heard).map(([k, v]) => [k, v.length]))).toEqual({ message_reaction: 2, message_edited: 1, poll_vote: 1, message_revoked: 1, message_sent: 1 });
    }, 120000);
  }

  if (kit.capabilities.has("groups")) {
    it("hears a group change made while it was stopped, once", async () => {
      const groupId = (await sim.post("/sim/groups", { by: ANA, subject: "Offline", participants: [ALICE] })).json.group.id;
      await waitFor("the account sees the group", async () => (await engine.getGroup!(groupId)) !== undefined, 20000);
      await waitFor("every update acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 20000);
      const heard: GroupUpdate[] = [];
      engine.on("group_update", (u) => void (u.groupId === groupId && heard.push(u)));
      await engine.stop();
      await sim.post(`/sim/groups/${groupId}/update`, { by: ANA, subject: "Renamed offline" });
      expect((await sim.get("/sim/stats")).json.queuedUpdates).toBe(1);

      const ready = next(engine, "ready", 60000);
      await engine.start();
      await ready;
      await waitFor("the rename", () => heard.length > 0, 30000);
      expect(heard).toEqual([{ groupId, change: "subject", by: `${ANA}@c.us`, value: "Renamed offline" }]);
      expect(await engine.getGroup!(groupId)).toMatchObject({ subject: "Renamed offline" });
      await waitFor("every update acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 20000);

      // once: after another restart only a fresh change is heard
      await engine.stop();
      const again = next(engine, "ready", 60000);
      await engine.start();
      await again;
      await sim.post(`/sim/groups/${groupId}/update`, { by: ANA, description: "fresh" });
      await waitFor("the fresh change", () => heard.length > 1, 20000);
      expect(heard.map((u) => [u.change, u.value])).toEqual([
        ["subject", "Renamed offline"],
        ["description", "fresh"],
      ]);
    }, 120000);
  }

  if (kit.capabilities.has("groups")) {
    it("hears a group change whose acknowledgement was lost once, though the server sends it again after a reconnect", async () => {
      const all: GroupUpdate[] = [];
      engine.on("group_update", (u) => void all.push(u));
      const groupId = (await sim.post("/sim/groups", { by: ANA, subject: "Lossy", participants: [ALICE] })).json.group.id;
      await waitFor("the group's creation heard", () => all.some((u) => u.groupId === groupId && u.change === "create"), 20000);
      await waitFor("every update acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 20000);
      const before = all.length;
      const heard = { get: () => all.slice(before).filter((u) => u.groupId === groupId) };
      // the engine hears the change, but its acknowledgement never reaches the server
      await sim.post("/sim/faults", { loseUpdateAcks: true });
      await sim.post(`/sim/groups/${groupId}/participants`, { by: ANA, action: "add", participants: [BEN] });
      await waitFor("the change", () => heard.get().length > 0, 20000);
      expect((await sim.get("/sim/stats")).json.queuedUpdates).toBe(1);
      // a network blip: after the reconnect the server sends the change again, and this time hears the ack
      await sim.post("/sim/faults", { loseUpdateAcks: false });
      expect((await sim.post(`/sim/accounts/${ALICE}/drop`)).json).toEqual({ dropped: true });
      await waitFor("the change sent again and acknowledged", async () => (await sim.get("/sim/stats")).json.queuedUpdates === 0, 60000);
      // a fresh change, announced after anything sent again, marks the end
      await sim.post(`/sim/groups/${groupId}/update`, { by: ANA, subject: "After the blip" });
      await waitFor("the fresh change", () => heard.get().some((u) => u.change === "subject"), 20000);
      expect(heard.get().map((u) => [u.change, u.participants ?? u.value])).toEqual([
        ["add", [`${BEN}@c.us`]],
        ["subject", "After the blip"],
      ]);
    }, 120000);
  }

  it("keeps the network's oracle clean: no conflicts, nothing queued (and the fake page was asked for no module it lacks)", async () => {
    // the tests before stop at what the engine heard, and a client acknowledges a message or a
    // notification after it has processed it (Baileys emits, then acks): an ack still on its way is
    // not something left queued, so the queues get a moment to drain before they are judged
    const drained = async () => {
      const s = (await sim.get("/sim/stats")).json;
      return s.queued === 0 && s.queuedUpdates === 0 ? s : undefined;
    };
    const stats = (await waitFor("the network's queues drained", drained, 10000, 100).catch(() => undefined)) ?? (await sim.get("/sim/stats")).json;
    expect(stats).toMatchObject({ conflicts: 0, queued: 0, queuedUpdates: 0 });
    if (engine instanceof WwebjsEngine) expect(await engine.page()!.evaluate(() => (globalThis as any).__fakeWaWeb.unknown)).toEqual([]);
  });
});

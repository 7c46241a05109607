// The WhatsApp surface over REST (DESIGN section 6) on the simulator engine, against the simulated
// network's own record of the account (the oracle): capabilities on the session, sending every
// message type, reactions, edits, revokes, read state, presence, chats and history with cursors,
// contacts, blocking, and the events contacts cause.
import { openEventStream, request } from "../helpers/http";
import { waitFor } from "../helpers/processes";
import { ADMIN, expectCleanError, linkSession, startApiNode, type ApiNode } from "./api-harness";

const ME = "15550001111";
const ANA = "4915112345678";
const BEN = "4915100000002";
const S = "/api/v1/workspaces/acme/sessions/main";
const VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Ben\nTEL;type=CELL;waid=4915100000002:+4915100000002\nEND:VCARD";

let node: ApiNode;
const sim = (method: string, p: string, body?: unknown) => request(node.sim, method, p, { body });
const history = async (chat: string) => (await sim("GET", `/sim/accounts/${ME}/chats/${chat}@c.us/messages`)).json.messages as any[];
const inbox = async (contact: string) => (await sim("GET", `/sim/contacts/${contact}/inbox`)).json.messages as any[];
const enc = encodeURIComponent;

beforeAll(async () => {
  node = await startApiNode();
  await linkSession(node, "acme", "main", ME);
}, 60000);

afterAll(async () => {
  await node?.stop();
});

async function send(body: Record<string, unknown>) {
  const r = await node.call("POST", `${S}/messages`, { body });
  if (r.status !== 201) throw new Error(`send: ${r.status} ${r.body}`);
  return r.json.id as string;
}

describe("capabilities", () => {
  it("shows the session's engine and every capability the simulator declares", async () => {
    const r = await node.call("GET", S);
    expect(r.json.engine).toBe("simulator");
    expect(r.json.capabilities).toEqual(["chats", "history", "contacts", "replies", "mentions", "reactions", "edit", "revoke", "location", "vcard", "polls", "presence", "read", "sentEvents", "groups", "calls", "labels"]);
  });
});

describe("sending", () => {
  it("sends a reply with mentions, a location, a vCard, a poll and a voice note, each as the contact receives it", async () => {
    const asked = (await sim("POST", `/sim/contacts/${ANA}/send`, { to: ME, body: "Where are you?" })).json.id;
    const reply = await send({ to: ANA, text: `@${BEN} and I are here`, replyTo: asked, mentions: [BEN], linkPreview: false });
    const where = await send({ to: ANA, location: { latitude: 52.52, longitude: 13.405, name: "Berlin" } });
    const card = await send({ to: ANA, contact: { vcard: VCARD } });
    const poll = await send({ to: ANA, poll: { name: "Lunch?", options: ["pizza", "salad"], multiple: false } });
    const voice = await send({ to: ANA, media: { mimetype: "audio/ogg", data: Buffer.from("OggS-voice").toString("base64") }, voice: true });

    const got = await inbox(ANA);
    const byId = (id: string) => got.find((m) => m.id === id);
    expect(byId(reply)).toMatchObject({ replyTo: asked, mentions: [`${BEN}@c.us`] });
    expect(byId(where)).toMatchObject({ location: { latitude: 52.52, longitude: 13.405, name: "Berlin" } });
    expect(byId(card)).toMatchObject({ vcard: VCARD });
    expect(byId(poll)).toMatchObject({ poll: { name: "Lunch?", options: ["pizza", "salad"], multiple: false } });
    expect(byId(voice)).toMatchObject({ voice: true, media: { mimetype: "audio/ogg" } });
    const types = Object.fromEntries((await history(ANA)).map((m) => [m.id, m.type]));
    expect([types[reply], types[where], types[card], types[poll], types[voice]]).toEqual(["text", "location", "vcard", "poll", "voice"]);
  });

  it("refuses a reply to a message of another chat, two kinds at once, and a voice note that is not audio", async () => {
    const other = (await sim("POST", `/sim/contacts/${BEN}/send`, { to: ME, body: "hello" })).json.id;
    const crossChat = await node.call("POST", `${S}/messages`, { body: { to: ANA, text: "x", replyTo: other } });
    expect([crossChat.status, crossChat.json.error.code]).toEqual([400, "VALIDATION_ERROR"]);
    const both = await node.call("POST", `${S}/messages`, { body: { to: ANA, text: "x", poll: { name: "p", options: ["a", "b"] } } });
    expect(both.status).toBe(400);
    const voice = await node.call("POST", `${S}/messages`, { body: { to: ANA, media: { mimetype: "image/png", data: "iVBORw0KGgo=" }, voice: true } });
    expect(voice.status).toBe(400);
    for (const r of [crossChat, both, voice]) expectCleanError(r);
  });
});

describe("acting on messages", () => {
  it("reacts and removes the reaction, edits and revokes its own message, deletes a message for itself only", async () => {
    const incoming = (await sim("POST", `/sim/contacts/${ANA}/send`, { to: ME, body: "Nice!" })).json.id;
    const mine = await send({ to: ANA, text: "See you at 5" });

    const reacted = await node.call("PUT", `${S}/messages/${enc(incoming)}/reaction`, { body: { emoji: "👍" } });
    expect(reacted.status).toBe(200);
    expect((await history(ANA)).find((m) => m.id === incoming).reactions).toEqual({ [ME]: "👍" });
    await node.call("PUT", `${S}/messages/${enc(incoming)}/reaction`, { body: { emoji: "" } });
    expect((await history(ANA)).find((m) => m.id === incoming).reactions).toBeUndefined();
    expect((await node.call("PUT", `${S}/messages/${enc(incoming)}/reaction`, { body: { emoji: "not an emoji" } })).status).toBe(400);

    const edited = await node.call("PATCH", `${S}/messages/${enc(mine)}`, { body: { text: "See you at 6" } });
    expect(edited.status).toBe(200);
    expect((await inbox(ANA)).find((m) => m.id === mine)).toMatchObject({ body: "See you at 6", edited: true });
    expect((await node.call("PATCH", `${S}/messages/${enc(incoming)}`, { body: { text: "not mine" } })).json.error.code).toBe("MESSAGE_NOT_EDITABLE");

    expect((await node.call("DELETE", `${S}/messages/${enc(incoming)}`)).json.error.code).toBe("MESSAGE_NOT_EDITABLE");
    expect((await node.call("DELETE", `${S}/messages/${enc(mine)}`)).status).toBe(204);
    expect((await inbox(ANA)).find((m) => m.id === mine)).toMatchObject({ revoked: true, body: "" });
    const revoked = await node.call("GET", `${S}/messages/${enc(mine)}`);
    expect(revoked.json).toMatchObject({ id: mine, revoked: true, type: "revoked", body: "" });

    expect((await node.call("DELETE", `${S}/messages/${enc(incoming)}?for=me`)).status).toBe(204);
    expect((await node.call("GET", `${S}/messages/${enc(incoming)}`)).json.error.code).toBe("MESSAGE_NOT_FOUND");
    expect((await history(ANA)).some((m) => m.id === incoming)).toBe(false);
  });

  it("answers 404 for an unknown message on every message route", async () => {
    const id = enc("SIMCNOSUCHMESSAGE");
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { text: "x" }],
      ["DELETE", undefined],
    ] as const) {
      const r = await node.call(method, `${S}/messages/${id}`, { body });
      expect([method, r.status, r.json.error.code]).toEqual([method, 404, "MESSAGE_NOT_FOUND"]);
    }
    expect((await node.call("PUT", `${S}/messages/${id}/reaction`, { body: { emoji: "👍" } })).status).toBe(404);
  });
});

describe("chats and history", () => {
  it("lists chats newest first with unread counts, and marks one read", async () => {
    await sim("POST", `/sim/contacts/${BEN}/send`, { to: ME, body: "one" });
    await sim("POST", `/sim/contacts/${BEN}/send`, { to: ME, body: "two" });
    const chats = await node.call("GET", `${S}/chats?limit=10`);
    expect(chats.status).toBe(200);
    expect(chats.json.items[0]).toMatchObject({ id: `${BEN}@c.us`, isGroup: false, lastMessage: { body: "two", fromMe: false } });
    expect(chats.json.items[0].unreadCount).toBeGreaterThanOrEqual(2);
    const truth = (await sim("GET", `/sim/accounts/${ME}/chats`)).json.chats.map((c: any) => c.id);
    expect(chats.json.items.map((c: any) => c.id)).toEqual(truth);

    expect((await node.call("POST", `${S}/chats/${BEN}/read`)).status).toBe(200);
    expect((await node.call("GET", `${S}/chats/${BEN}@c.us`)).json.unreadCount).toBe(0);
    expect((await node.call("GET", `${S}/chats/4915199999999`)).json.error.code).toBe("CHAT_NOT_FOUND");
  });

  it("pages a chat's history with opaque cursors that cannot be changed or reused for another list", async () => {
    const chat = "4915100000077";
    for (let i = 0; i < 25; i++) await sim("POST", `/sim/contacts/${chat}/send`, { to: ME, body: `n${i}` });
    await send({ to: chat, text: "mine" });
    const bodies: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: any = await node.call("GET", `${S}/chats/${chat}/messages?limit=10${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      expect(r.status).toBe(200);
      bodies.push(...r.json.items.map((m: any) => m.body));
      cursor = r.json.nextCursor;
      pages++;
      if (cursor && pages === 1) {
        const tampered = cursor.replace(/^./, (c) => (c === "A" ? "B" : "A"));
        expect((await node.call("GET", `${S}/chats/${chat}/messages?cursor=${enc(tampered)}`)).json.error.code).toBe("INVALID_CURSOR");
        expect((await node.call("GET", `${S}/chats/${BEN}/messages?cursor=${enc(cursor)}`)).json.error.code).toBe("INVALID_CURSOR");
        expect((await node.call("GET", `${S}/chats/${chat}/messages?fromMe=false&cursor=${enc(cursor)}`)).json.error.code).toBe("INVALID_CURSOR");
        expect((await node.call("GET", `${S}/chats?cursor=${enc(cursor)}`)).json.error.code).toBe("INVALID_CURSOR");
      }
    } while (cursor);
    expect(pages).toBe(3);
    expect(bodies).toEqual(["mine", ...Array.from({ length: 25 }, (_, i) => `n${24 - i}`)]);
    const mine = await node.call("GET", `${S}/chats/${chat}/messages?fromMe=true`);
    expect(mine.json.items.map((m: any) => m.body)).toEqual(["mine"]);
    const future = await node.call("GET", `${S}/chats/${chat}/messages?since=${Math.floor(Date.now() / 1000) + 3600}`);
    expect(future.json).toEqual({ items: [], nextCursor: null });
    expect((await node.call("GET", `${S}/chats/${chat}/messages?limit=101`)).status).toBe(400);
    expect((await node.call("GET", `${S}/chats/not-a-chat/messages`)).status).toBe(400);
  });

  it("shows typing, recording and paused in a chat", async () => {
    for (const state of ["typing", "recording", "paused"]) {
      expect((await node.call("POST", `${S}/chats/${ANA}/presence`, { body: { state } })).status).toBe(200);
      expect((await sim("GET", `/sim/accounts/${ME}/state`)).json.presence[`${ANA}@c.us`]).toBe(state);
    }
    expect((await node.call("POST", `${S}/chats/${ANA}/presence`, { body: { state: "dancing" } })).status).toBe(400);
  });
});

describe("contacts", () => {
  it("checks numbers, shows a contact by phone and by LID, and pages the contacts", async () => {
    const GHOST = "4915100000404";
    await sim("POST", `/sim/contacts/${GHOST}/profile`, { onWhatsApp: false });
    await sim("POST", `/sim/contacts/${ANA}/profile`, { isBusiness: true, about: "Ana's shop", pictureUrl: "https://example.com/ana.jpg" });
    const check = await node.call("POST", `${S}/contacts/check`, { body: { phones: [`+${ANA}`, GHOST] } });
    expect(check.status).toBe(200);
    expect(check.json.items[0]).toMatchObject({ phone: ANA, exists: true, id: `${ANA}@c.us` });
    expect(check.json.items[0].lid).toMatch(/^\d+@lid$/);
    expect(check.json.items[1]).toEqual({ phone: GHOST, exists: false, id: null, lid: null });

    const byPhone = await node.call("GET", `${S}/contacts/${ANA}`);
    expect(byPhone.json).toMatchObject({ id: `${ANA}@c.us`, phone: ANA, isBusiness: true, about: "Ana's shop", pictureUrl: "https://example.com/ana.jpg", blocked: false });
    const byLid = await node.call("GET", `${S}/contacts/${enc(check.json.items[0].lid)}`);
    expect(byLid.json.phone).toBe(ANA);
    expect((await node.call("GET", `${S}/contacts/${GHOST}`)).json.error.code).toBe("CONTACT_NOT_FOUND");

    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const r: any = await node.call("GET", `${S}/contacts?limit=2${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      all.push(...r.json.items.map((c: any) => c.phone));
      cursor = r.json.nextCursor;
    } while (cursor);
    expect(all).toEqual([...all].sort());
    expect(all).toEqual(expect.arrayContaining([ANA, BEN]));
    expect((await node.call("POST", `${S}/contacts/check`, { body: { phones: Array.from({ length: 101 }, (_, i) => String(4915100001000 + i)) } })).status).toBe(400);
  });

  it("blocks a contact, whose messages then never arrive, and unblocks it", async () => {
    const PEST = "4915100000666";
    expect((await node.call("POST", `${S}/contacts/${PEST}/block`)).json).toEqual({ contactId: `${PEST}@c.us`, blocked: true });
    expect((await sim("POST", `/sim/contacts/${PEST}/send`, { to: ME, body: "buy now" })).json.blocked).toBe(true);
    expect((await node.call("GET", `${S}/contacts/${PEST}`)).json.blocked).toBe(true);
    const refused = await node.call("POST", `${S}/messages`, { body: { to: PEST, text: "stop" } });
    expect([refused.status, refused.json.error.code]).toEqual([409, "CONTACT_BLOCKED"]);
    await node.call("POST", `${S}/contacts/${PEST}/unblock`);
    expect((await sim("POST", `/sim/contacts/${PEST}/send`, { to: ME, body: "hello again" })).json.blocked).toBeUndefined();
  });
});

describe("events", () => {
  it("streams what contacts and the phone do: reactions, edits, revokes, votes, presence, own messages sent from the phone", async () => {
    const stream = await openEventStream(node.api, "/api/v1/workspaces/acme/events", ADMIN);
    try {
      const theirs = (await sim("POST", `/sim/contacts/${ANA}/send`, { to: ME, body: "typo" })).json.id;
      const poll = await send({ to: ANA, poll: { name: "When?", options: ["now", "later"] } });
      const mine = await send({ to: ANA, text: "ok" });
      await sim("POST", `/sim/contacts/${ANA}/react`, { to: ME, messageId: mine, emoji: "❤️" });
      await sim("POST", `/sim/contacts/${ANA}/edit`, { to: ME, messageId: theirs, body: "fixed" });
      await sim("POST", `/sim/contacts/${ANA}/vote`, { to: ME, messageId: poll, options: ["later"] });
      await sim("POST", `/sim/contacts/${ANA}/revoke`, { to: ME, messageId: theirs });
      await sim("POST", `/sim/contacts/${ANA}/presence`, { to: ME, state: "typing" });
      const fromPhone = (await sim("POST", `/sim/accounts/${ME}/send`, { to: ANA, body: "sent from my phone" })).json.id;
      const names = ["wa.message.reaction", "wa.message.edited", "wa.poll.vote", "wa.message.revoked", "wa.presence", "wa.message.sent"];
      await waitFor("the events", async () => names.every((n) => stream.events.some((e) => e.event === n)));
      const of = (n: string) => stream.events.find((e) => e.event === n)!.data;
      expect(of("wa.message.reaction")).toMatchObject({ messageId: mine, chatId: `${ANA}@c.us`, from: `${ANA}@c.us`, emoji: "❤️" });
      expect(of("wa.message.edited")).toMatchObject({ messageId: theirs, text: "fixed" });
      expect(of("wa.poll.vote")).toMatchObject({ messageId: poll, voter: `${ANA}@c.us`, options: ["later"] });
      expect(of("wa.message.revoked")).toMatchObject({ messageId: theirs });
      expect(of("wa.presence")).toMatchObject({ chatId: `${ANA}@c.us`, state: "typing" });
      expect(of("wa.message.sent")).toMatchObject({ message: { id: fromPhone, fromMe: true, body: "sent from my phone", to: `${ANA}@c.us` } });
      expect((await node.call("GET", `${S}/messages/${enc(theirs)}`)).json).toMatchObject({ revoked: true });
    } finally {
      stream.close();
    }
  });
});

// The simulated network's model of what WhatsApp keeps for an account (chats, history, read state,
// reactions, edits, revokes, polls, contacts, blocking): the oracle every engine's capabilities are
// tested against.
import { lidOf, SimAccounts } from "../../lib/simulator/accounts";
import type { SimHistoryMessage } from "../../lib/simulator/protocol";

const ME = "15550001111";
const ANA = "4915112345678";
const BEN = "4915100000002";
const jid = (p: string) => `${p}@c.us`;

function incoming(a: SimAccounts, from: string, id: string, t = 1000, extra: Partial<SimHistoryMessage> = {}) {
  return a.record(ME, { id, chatId: jid(from), from: jid(from), to: jid(ME), fromMe: false, body: `hi ${id}`, timestamp: t, type: "text", ...extra });
}
function outgoing(a: SimAccounts, to: string, id: string, t = 1000, extra: Partial<SimHistoryMessage> = {}) {
  return a.record(ME, { id, chatId: jid(to), from: jid(ME), to: jid(to), fromMe: true, body: `re ${id}`, timestamp: t, type: "text", ack: "SERVER", ...extra });
}

describe("chats and history", () => {
  it("lists chats by latest activity, newest first, with unread counts and the last message, in pages that neither skip nor repeat", () => {
    const a = new SimAccounts();
    for (let i = 0; i < 25; i++) incoming(a, String(4915100000100 + i), `m${i}`, 1000 + i);
    incoming(a, "4915100000100", "late", 2000); // the first chat becomes the newest
    const seen: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = a.chats(ME, 10, before);
      seen.push(...page.items.map((c) => c.id));
      if (page.next === undefined) break;
      before = page.next;
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect(seen[0]).toBe(jid("4915100000100"));
    expect(seen[1]).toBe(jid("4915100000124"));
    const first = a.chat(ME, jid("4915100000100"))!;
    expect(first.unreadCount).toBe(2);
    expect(first.lastMessage?.id).toBe("late");
  });

  it("pages a chat's messages newest first, filters by since and fromMe, and knows no unknown chat", () => {
    const a = new SimAccounts();
    for (let i = 0; i < 30; i++) (i % 3 === 0 ? outgoing : incoming)(a, ANA, `m${i}`, 1000 + i);
    const p1 = a.messages(ME, jid(ANA), { limit: 12 })!;
    expect(p1.items.map((m) => m.id).slice(0, 2)).toEqual(["m29", "m28"]);
    const p2 = a.messages(ME, jid(ANA), { limit: 12, before: p1.next })!;
    const p3 = a.messages(ME, jid(ANA), { limit: 12, before: p2.next })!;
    expect(p3.next).toBeUndefined();
    expect([...p1.items, ...p2.items, ...p3.items].map((m) => m.id)).toEqual(Array.from({ length: 30 }, (_, i) => `m${29 - i}`));
    expect(a.messages(ME, jid(ANA), { limit: 100, since: 1025 })!.items.map((m) => m.id)).toEqual(["m29", "m28", "m27", "m26", "m25"]);
    const mine = a.messages(ME, jid(ANA), { limit: 100, fromMe: true })!.items;
    expect(mine).toHaveLength(10);
    expect(mine.every((m) => m.fromMe)).toBe(true);
    expect(a.messages(ME, jid(BEN), { limit: 10 })).toBeUndefined();
  });

  it("marks a chat read and returns the messages newly read", () => {
    const a = new SimAccounts();
    outgoing(a, ANA, "o1");
    incoming(a, ANA, "i1");
    incoming(a, ANA, "i2");
    expect(a.markRead(ME, jid(ANA))!.map((m) => m.id)).toEqual(["i1", "i2"]);
    expect(a.chat(ME, jid(ANA))!.unreadCount).toBe(0);
    expect(a.markRead(ME, jid(ANA))).toEqual([]);
    expect(a.markRead(ME, jid(BEN))).toBeUndefined();
  });

  it("keeps one reaction per person, removed by an empty emoji", () => {
    const a = new SimAccounts();
    incoming(a, ANA, "i1");
    a.react(ME, "i1", ME, "👍");
    a.react(ME, "i1", ANA, "❤️");
    a.react(ME, "i1", ME, "😂");
    expect(a.message(ME, "i1")!.reactions).toEqual({ [ME]: "😂", [ANA]: "❤️" });
    a.react(ME, "i1", ME, "");
    a.react(ME, "i1", ANA, "");
    expect(a.message(ME, "i1")!.reactions).toBeUndefined();
    expect(a.react(ME, "nope", ME, "👍")).toBeUndefined();
  });

  it("lets only the sender edit its text and revoke its message; deleting for me removes it from this history only", () => {
    const a = new SimAccounts();
    outgoing(a, ANA, "o1");
    incoming(a, ANA, "i1");
    outgoing(a, ANA, "loc", 1000, { type: "location", location: { latitude: 1, longitude: 2 } });
    expect(a.edit(ME, "i1", "x", true)).toBeUndefined();
    expect(a.edit(ME, "loc", "x", true)).toBeUndefined();
    expect(a.edit(ME, "o1", "fixed", true)).toMatchObject({ body: "fixed", edited: true });
    expect(a.revoke(ME, "i1", true)).toBeUndefined();
    expect(a.revoke(ME, "loc", true)).toMatchObject({ revoked: true, type: "revoked", body: "" });
    expect(a.message(ME, "loc")!.location).toBeUndefined();
    expect(a.edit(ME, "loc", "x", true)).toBeUndefined();
    expect(a.deleteForMe(ME, "i1")).toBe(true);
    expect(a.message(ME, "i1")).toBeUndefined();
    expect(a.messages(ME, jid(ANA), { limit: 10 })!.items.map((m) => m.id)).toEqual(["loc", "o1"]);
  });

  it("counts poll votes only for the poll's options, one option unless multiple", () => {
    const a = new SimAccounts();
    outgoing(a, ANA, "p1", 1000, { type: "poll", poll: { name: "Lunch?", options: ["yes", "no"], multiple: false } });
    expect(a.vote(ME, "p1", ANA, ["maybe"])).toBeUndefined();
    expect(a.vote(ME, "p1", ANA, ["yes", "no"])).toBeUndefined();
    expect(a.vote(ME, "p1", ANA, ["no"])!.votes).toEqual({ [ANA]: ["no"] });
  });

  it("moves an own message's ack only upwards", () => {
    const a = new SimAccounts();
    outgoing(a, ANA, "o1");
    a.setAck(ME, "o1", "READ");
    a.setAck(ME, "o1", "DEVICE");
    expect(a.message(ME, "o1")!.ack).toBe("READ");
  });
});

describe("contacts", () => {
  it("lists the address book and chat partners by phone, shows profiles and LIDs, and resolves a LID to its phone", () => {
    const a = new SimAccounts();
    incoming(a, BEN, "i1");
    a.saveContact(ME, ANA, "Ana (work)");
    a.setProfile(ANA, { isBusiness: true, about: "Shop", pictureUrl: "https://example.com/a.jpg" });
    const p1 = a.contacts(ME, 1);
    const p2 = a.contacts(ME, 1, p1.next);
    expect([...p1.items, ...p2.items].map((c) => c.phone)).toEqual([BEN, ANA].sort());
    expect(p2.next).toBeUndefined();
    const ana = a.contact(ME, ANA);
    expect(ana).toMatchObject({ id: jid(ANA), name: "Ana (work)", isBusiness: true, about: "Shop", pictureUrl: "https://example.com/a.jpg", blocked: false });
    expect(ana.lid).toMatch(/^\d{15}$/);
    expect(lidOf(ANA)).toBe(ana.lid);
    expect(a.phoneOfLid(ana.lid)).toBe(ANA);
  });

  it("blocks and unblocks", () => {
    const a = new SimAccounts();
    a.setBlocked(ME, ANA, true);
    expect(a.isBlocked(ME, ANA)).toBe(true);
    expect(a.contact(ME, ANA).blocked).toBe(true);
    a.setBlocked(ME, ANA, false);
    expect(a.blocked(ME)).toEqual([]);
  });

  it("survives a snapshot and restore unchanged", () => {
    const a = new SimAccounts();
    incoming(a, ANA, "i1");
    outgoing(a, ANA, "o1");
    a.react(ME, "i1", ME, "👍");
    a.setBlocked(ME, BEN, true);
    a.saveContact(ME, ANA, "Ana");
    a.setProfile(BEN, { onWhatsApp: false });
    const b = new SimAccounts();
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(b.chat(ME, jid(ANA))).toEqual(a.chat(ME, jid(ANA)));
    expect(b.onWhatsApp(BEN)).toBe(false);
    incoming(b, ANA, "i2");
    expect(b.message(ME, "i2")!.seq).toBeGreaterThan(b.message(ME, "o1")!.seq);
  });
});

// The baileys engine's store of chats, messages and contacts (lib/engines/baileys/store.ts), on its
// own: bounded per chat, read back after a reopen, a corrupt file set aside without losing the rest,
// and nothing written once closed.
import { promises as fs } from "node:fs";
import path from "node:path";
import { BaileysStore } from "../../lib/engines/baileys/store";
import type { EngineMessage } from "../../lib/engines/types";
import { tempDir } from "../helpers/processes";

const ME = "15550009001";
const ANA = "4915100009002@c.us";
const BEN = "4915100009003@c.us";
let dir: string;

beforeEach(async () => {
  dir = await tempDir("baileys-store");
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const incoming = (chat: string, id: string, body: string, timestamp = 1_700_000_000): EngineMessage => ({ id, from: chat, to: `${ME}@c.us`, body, timestamp, fromMe: false, chatId: chat });
const own = (chat: string, id: string, body: string, timestamp = 1_700_000_000): EngineMessage => ({ id, from: `${ME}@c.us`, to: chat, body, timestamp, fromMe: true, chatId: chat });

it("keeps the newest messages of each chat, up to its bound, in order, and pages them with positions", async () => {
  const store = await BaileysStore.open(dir, { messagesPerChat: 3 });
  for (let i = 0; i < 5; i++) await store.addMessages([incoming(ANA, `A${i}`, `a${i}`)], { unread: true });
  await store.addMessages([own(BEN, "B0", "b0", 1_700_000_100)]);
  const page = await store.listMessages(ANA, { limit: 2 });
  expect(page!.items.map((m) => m.body)).toEqual(["a4", "a3"]);
  const rest = await store.listMessages(ANA, { limit: 2, before: page!.next });
  expect([rest!.items.map((m) => m.body), rest!.next]).toEqual([["a2"], undefined]);
  // forgotten past the bound, by id too
  expect(await store.getMessage("A0")).toBeUndefined();
  expect(await store.getMessage("A2")).toMatchObject({ body: "a2", chatId: ANA });
  // chats by last activity, with their unread counts
  const chats = await store.listChats({ limit: 1 });
  expect(chats.items.map((c) => [c.id, c.unreadCount, c.lastMessage?.body])).toEqual([[BEN, 0, "b0"]]);
  expect((await store.listChats({ limit: 5, before: chats.next })).items.map((c) => [c.id, c.unreadCount])).toEqual([[ANA, 5]]);
  // an older message (history sync) goes in its place; one stored again is updated, not doubled
  await store.addMessages([incoming(ANA, "OLD", "older", 1_699_000_000), incoming(ANA, "A4", "a4 again")]);
  expect((await store.listMessages(ANA, { limit: 10 }))!.items.map((m) => m.body)).toEqual(["a4 again", "a3", "a2"]);
  await expect(store.listMessages(ANA, { limit: 1, before: "A3" })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
  expect(await store.listMessages("4915100000000@c.us", { limit: 1 })).toBeUndefined();
  await store.close();
});

it("reads back what it wrote after a reopen, and loses only a corrupt file's content", async () => {
  const store = await BaileysStore.open(dir);
  await store.addMessages([incoming(ANA, "A1", "hello"), own(BEN, "B1", "hi Ben", 1_700_000_010)], { unread: true });
  await store.updateMessage(BEN, "B1", (m) => void (m.ack = "READ"));
  await store.updateContacts([{ id: "4915100009002@s.whatsapp.net", notify: "Ana", lid: "123456789012345@lid" }]);
  await store.close();

  const again = await BaileysStore.open(dir);
  expect((await again.listChats({ limit: 10 })).items.map((c) => [c.id, c.name, c.unreadCount])).toEqual([
    [BEN, "4915100009003", 0],
    [ANA, "Ana", 1],
  ]);
  expect(await again.getMessage("B1")).toMatchObject({ body: "hi Ben", ack: "READ", fromMe: true });
  expect(await again.getContact("123456789012345@lid")).toMatchObject({ id: ANA, notify: "Ana" });
  // labels: made, put on a chat (a change only once), kept across a reopen, gone with a deleted label
  await again.editLabel({ id: "2", name: "Paid", color: "#64c4ff" });
  await again.editLabel({ id: "1", name: "Lead", color: "#ff9485" });
  expect([await again.labelChat(ANA, "1", true), await again.labelChat(ANA, "1", true)]).toEqual([true, false]);
  expect(await again.labelsOfChat("4915100000000@c.us")).toBeUndefined();
  await again.close();
  const labelled = await BaileysStore.open(dir);
  expect(await labelled.listLabels()).toEqual([
    { id: "1", name: "Lead", color: "#ff9485" },
    { id: "2", name: "Paid", color: "#64c4ff" },
  ]);
  expect(await labelled.labelsOfChat(ANA)).toEqual([{ id: "1", name: "Lead", color: "#ff9485" }]);
  await labelled.editLabel({ id: "1", name: "Lead", color: "#ff9485", deleted: true });
  expect(await labelled.labelsOfChat(ANA)).toEqual([]);
  await labelled.close();

  // Ana's chat file is damaged: set aside, her chat is empty; the rest is intact
  const files = await fs.readdir(path.join(dir, "store", "messages"));
  for (const f of files) {
    const text = await fs.readFile(path.join(dir, "store", "messages", f), "utf8");
    if (text.includes("A1")) await fs.writeFile(path.join(dir, "store", "messages", f), text.slice(0, 20));
  }
  const damaged = await BaileysStore.open(dir, { log: () => undefined });
  expect((await damaged.listMessages(ANA, { limit: 10 }))!.items).toEqual([]);
  expect((await damaged.listMessages(BEN, { limit: 10 }))!.items.map((m) => m.body)).toEqual(["hi Ben"]);
  expect((await fs.readdir(path.join(dir, "store", "messages"))).filter((f) => f.endsWith(".corrupt"))).toHaveLength(1);
  await damaged.close();

  // a damaged chat list: set aside, the store starts empty instead of failing
  await fs.writeFile(path.join(dir, "store", "chats.json"), "{not json");
  const empty = await BaileysStore.open(dir, { log: () => undefined });
  expect((await empty.listChats({ limit: 10 })).items).toEqual([]);
  await empty.close();
});

it("writes everything changed before close, and nothing after", async () => {
  const store = await BaileysStore.open(dir);
  const burst = Array.from({ length: 20 }, (_, i) => store.addMessages([incoming(ANA, `A${i}`, `m${i}`, 1_700_000_000 + i)]));
  await Promise.all(burst);
  await store.close();
  const reopened = await BaileysStore.open(dir);
  expect((await reopened.listMessages(ANA, { limit: 1 }))!.items.map((m) => m.body)).toEqual(["m19"]);
  await reopened.close();

  const stat = async () => Promise.all(["chats.json", "contacts.json"].map((f) => fs.stat(path.join(dir, "store", f)).then((s) => s.mtimeMs, () => 0)));
  const before = await stat();
  await store.addMessages([incoming(BEN, "B1", "after the close")]);
  await store.updateContacts([{ id: BEN, notify: "Ben" }]);
  await new Promise((r) => setTimeout(r, 100));
  expect(await stat()).toEqual(before);
  expect((await fs.readdir(path.join(dir, "store", "messages"))).length).toBe(1);
});

it("takes a chat's earlier messages from the phone before its oldest, in their order within a second, as many as fit, once; notes the chat's beginning", async () => {
  const store = await BaileysStore.open(dir, { messagesPerChat: 5 });
  await store.addMessages([incoming(ANA, "A3", "a3"), incoming(ANA, "A4", "a4")]);
  const start = await store.pageMessages(ANA, { limit: 10 });
  expect([start!.items.map((m) => m.body), start!.exhausted, start!.first, start!.oldest?.id]).toEqual([["a4", "a3"], true, false, "A3"]);
  // the phone's answer, newest first, all in the same second as what is stored; one is already stored
  const seqs = await store.addEarlier(ANA, "A3", [incoming(ANA, "A2", "a2"), incoming(ANA, "A3", "a3"), incoming(ANA, "A1", "a1"), incoming(ANA, "A0", "a0")]);
  // room for 3 (a2, a1, a0 fit; a3 is not taken twice)
  expect([...seqs.keys()]).toEqual(["A0", "A1", "A2"]);
  expect((await store.listMessages(ANA, { limit: 10 }))!.items.map((m) => m.body)).toEqual(["a4", "a3", "a2", "a1", "a0"]);
  // positions page through them in order
  const p1 = await store.listMessages(ANA, { limit: 3 });
  expect((await store.listMessages(ANA, { limit: 3, before: p1!.next }))!.items.map((m) => m.body)).toEqual(["a1", "a0"]);
  // an answer to a stale request (the oldest is no longer the one named) is not taken
  expect((await store.addEarlier(ANA, "A3", [incoming(ANA, "Z", "z")])).size).toBe(0);
  // an empty answer: the store holds the chat's first message, across a reopen
  await store.addEarlier(ANA, "A0", []);
  expect((await store.pageMessages(ANA, { limit: 10 }))!.first).toBe(true);
  await store.close();
  const again = await BaileysStore.open(dir, { messagesPerChat: 5 });
  expect((await again.pageMessages(ANA, { limit: 10 }))!.first).toBe(true);
  expect((await again.listMessages(ANA, { limit: 10 }))!.items.map((m) => m.body)).toEqual(["a4", "a3", "a2", "a1", "a0"]);
  // a new message pushes the first out: the beginning is no longer held
  await again.addMessages([incoming(ANA, "A5", "a5", 1_700_000_001)]);
  const after = await again.pageMessages(ANA, { limit: 10 });
  expect([after!.items.map((m) => m.body), after!.first]).toEqual([["a5", "a4", "a3", "a2", "a1"], false]);
  await again.close();
});

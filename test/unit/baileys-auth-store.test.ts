// The baileys engine's auth store: what Baileys hands it survives a reopen (creds and Signal keys,
// Buffers included), files are replaced whole, a close finishes the writes asked for before it (or,
// after the node lost its lease, drops those not yet under way) and nothing is written after it.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AUTH_SUBDIR, BaileysAuthStore } from "../../lib/engines/baileys/auth-store";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "baileys-auth-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("BaileysAuthStore", () => {
  it("starts a new device with fresh credentials, not linked", async () => {
    const store = await BaileysAuthStore.open(dir);
    expect(store.linked).toBe(false);
    expect(Buffer.isBuffer(store.creds.noiseKey.public) || store.creds.noiseKey.public instanceof Uint8Array).toBe(true);
    expect(await BaileysAuthStore.linked(dir)).toBe(false);
    await store.close();
  });

  it("keeps creds and keys (with their bytes) across a reopen, and says linked once the device has an account", async () => {
    const store = await BaileysAuthStore.open(dir);
    const noise = Buffer.from(store.creds.noiseKey.public);
    await store.saveCreds({ me: { id: "15550001111:7@s.whatsapp.net" }, account: { details: Buffer.from([1, 2, 3]) } });
    const keys = store.state().keys;
    await keys.set({ session: { "15550001111.0": Buffer.from("session-bytes") }, "pre-key": { "1": { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) }, "2": { public: Buffer.alloc(32, 3), private: Buffer.alloc(32, 4) } } });
    await keys.set({ "pre-key": { "1": null } });
    await store.close();

    expect(await BaileysAuthStore.linked(dir)).toBe(true);
    const again = await BaileysAuthStore.open(dir);
    expect(Buffer.from(again.creds.noiseKey.public).equals(noise)).toBe(true);
    expect(again.creds.me.id).toBe("15550001111:7@s.whatsapp.net");
    const k = again.state().keys;
    expect(Buffer.from((await k.get("session", ["15550001111.0"]))["15550001111.0"] as Buffer).toString()).toBe("session-bytes");
    expect(Object.keys(await k.get("pre-key", ["1", "2"]))).toEqual(["2"]);
    await again.close();
    // only whole files, no temp files left behind
    expect((await fs.readdir(path.join(dir, AUTH_SUBDIR))).sort()).toEqual(["creds.json", "keys-pre-key.json", "keys-session.json"]);
  });

  it("writes nothing after close (a stopped engine must not touch a folder another node may own)", async () => {
    const store = await BaileysAuthStore.open(dir);
    await store.saveCreds({ me: { id: "1@s.whatsapp.net" } });
    const before = await fs.readFile(path.join(dir, AUTH_SUBDIR, "creds.json"), "utf8");
    const keys = store.state().keys;
    await store.close();
    await store.saveCreds({ me: { id: "2@s.whatsapp.net" } });
    await keys.set({ session: { x: Buffer.from("late") } });
    expect(await fs.readFile(path.join(dir, AUTH_SUBDIR, "creds.json"), "utf8")).toBe(before);
    expect(await fs.readdir(path.join(dir, AUTH_SUBDIR))).toEqual(["creds.json"]);
  });

  it("finishes on close the writes asked for before it: a creds update queued behind another write is not lost", async () => {
    // (Baileys updates the creds several times while a device links; a node stopped right after
    // dropped the one behind a write under way, and the restored session showed a QR)
    const store = await BaileysAuthStore.open(dir);
    const first = store.saveCreds({ platform: "sim" });
    const linked = store.saveCreds({ me: { id: "15550001111:7@s.whatsapp.net" }, account: { details: Buffer.from([1]) } });
    const upload = store.state().keys.set({ "pre-key": { "1": { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } });
    await store.close();
    await Promise.all([first, linked, upload]);
    expect(await BaileysAuthStore.linked(dir)).toBe(true);
    const again = await BaileysAuthStore.open(dir);
    expect(again.creds.me.id).toBe("15550001111:7@s.whatsapp.net");
    expect(Object.keys(await again.state().keys.get("pre-key", ["1"]))).toEqual(["1"]);
    await again.close();
  });

  it("tells when every write asked for so far is on disk", async () => {
    const store = await BaileysAuthStore.open(dir);
    void store.saveCreds({ platform: "sim" });
    void store.saveCreds({ me: { id: "15550001111:7@s.whatsapp.net" }, account: { details: Buffer.from([1]) } });
    await store.flushed();
    expect(await BaileysAuthStore.linked(dir)).toBe(true);
    await store.close();
  });

  it("a close after the node lost its lease writes no prekeys, even when it comes while their write was reading the file", async () => {
    const store = await BaileysAuthStore.open(dir);
    await store.saveCreds({ me: { id: "1@s.whatsapp.net" } });
    const before = await fs.readFile(path.join(dir, AUTH_SUBDIR, "creds.json"), "utf8");
    const upload = store.state().keys.set({ "pre-key": { "1": { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } });
    const running = store.saveCreds({ me: { id: "2@s.whatsapp.net" } });
    const queued = store.saveCreds({ me: { id: "3@s.whatsapp.net" } });
    await store.close("discard");
    await Promise.all([upload, running, queued]);
    expect(await fs.readdir(path.join(dir, AUTH_SUBDIR))).toEqual(["creds.json"]);
    // the write under way may have landed; the one queued behind it did not
    expect([before, expect.stringContaining("2@s.whatsapp.net")]).toContainEqual(await fs.readFile(path.join(dir, AUTH_SUBDIR, "creds.json"), "utf8"));
  });

  it("coalesces a burst of writes and ends with the last state", async () => {
    const store = await BaileysAuthStore.open(dir);
    const keys = store.state().keys;
    await Promise.all(Array.from({ length: 50 }, (_, i) => keys.set({ "sender-key": { [`k${i}`]: Buffer.from(String(i)) } })));
    await store.close();
    const again = await BaileysAuthStore.open(dir);
    expect(Object.keys(await again.state().keys.get("sender-key", Array.from({ length: 50 }, (_, i) => `k${i}`)))).toHaveLength(50);
    await again.close();
  });

  it("keeps one-time prekeys on disk, not in memory: only changes not yet written are held, and reads see them", async () => {
    const store = await BaileysAuthStore.open(dir);
    const keys = store.state().keys;
    const preKeys = Object.fromEntries(Array.from({ length: 812 }, (_, i) => [String(i + 1), { public: Buffer.alloc(32, i % 256), private: Buffer.alloc(32, 255 - (i % 256)) }]));
    const upload = keys.set({ "pre-key": preKeys });
    // asked for before the write reached the disk: the pending change answers
    expect(Buffer.from(((await keys.get("pre-key", ["812"]))["812"] as { private: Buffer }).private).equals(Buffer.alloc(32, 255 - (811 % 256)))).toBe(true);
    await upload;
    expect(store.keysInMemory("pre-key")).toBe(0);
    // read back from the file, bytes intact; a used prekey is removed and stays removed
    const got = await keys.get("pre-key", ["1", "400", "813"]);
    expect(Object.keys(got).sort()).toEqual(["1", "400"]);
    expect(Buffer.from((got["400"] as { public: Buffer }).public).equals(Buffer.alloc(32, 399 % 256))).toBe(true);
    const used = keys.set({ "pre-key": { "400": null } });
    expect(await keys.get("pre-key", ["400"])).toEqual({});
    await used;
    expect(store.keysInMemory("pre-key")).toBe(0);
    await store.close();

    const again = await BaileysAuthStore.open(dir);
    expect(again.keysInMemory("pre-key")).toBe(0);
    const k = again.state().keys;
    expect(Object.keys(await k.get("pre-key", ["399", "400", "401"])).sort()).toEqual(["399", "401"]);
    // a write asked for during another one carries both changes
    await Promise.all([k.set({ "pre-key": { "900": { public: Buffer.alloc(32, 9), private: Buffer.alloc(32, 9) } } }), k.set({ "pre-key": { "1": null } })]);
    await again.close();
    const third = await BaileysAuthStore.open(dir);
    const left = await third.state().keys.get("pre-key", ["1", "2", "900"]);
    expect(Object.keys(left).sort()).toEqual(["2", "900"]);
    await third.close();
  });

  it("remembers the group notifications heard across a reopen, the latest `keep` of them, and notes nothing once closed", async () => {
    const store = await BaileysAuthStore.open(dir);
    // ids led by digits, as a group's are: read back as they were written (not as a Buffer)
    for (const id of ["A1", "A2", "A3"]) await store.noteNotification(`120363000000000001@g.us/${id}`, 2);
    expect(["A1", "A2", "A3"].map((id) => store.heardNotification(`120363000000000001@g.us/${id}`))).toEqual([false, true, true]);
    await store.close();
    await store.noteNotification("120363000000000001@g.us/A4", 2);
    const again = await BaileysAuthStore.open(dir);
    expect(["A1", "A2", "A3", "A4"].map((id) => again.heardNotification(`120363000000000001@g.us/${id}`))).toEqual([false, true, true, false]);
    expect(await fs.readdir(path.join(dir, AUTH_SUBDIR))).toEqual(["keys-group-notifications.json"]);
    await again.close();
  });
});

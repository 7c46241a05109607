// What a snapshot takes of a session (its restore set) and how a live profile is copied: files
// that change during the copy are copied again until a pass sees no change; a profile that never
// settles is kept as crash-consistent and flagged.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { captureSession, inRestoreSet, releaseCapture } from "../../lib/backup/restore-set";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-capture-"));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

async function put(rel: string, data: string | Buffer) {
  await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await fs.writeFile(path.join(dir, rel), data);
}

const IDB = "auth/session-s1/Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb";

describe("the restore set", () => {
  it.each([
    ["meta.json", true],
    ["auth/creds.json", true],
    ["auth/creds.json.77.ab12.tmp", false],
    [`${IDB}/000003.log`, true],
    ["auth/session-s1/Default/Local Storage/leveldb/CURRENT", true],
    ["auth/session-s1/Default/Cache/Cache_Data/data_0", false],
    ["auth/session-s1/Default/Code Cache/js/index", false],
    ["auth/session-s1/Default/Service Worker/CacheStorage/x", false],
    ["auth/session-s1/Default/Preferences", false],
    ["auth/session-s1/SingletonLock", false],
    ["auth/session-s1/GPUCache/data_0", false],
    ["auth/session-s1/Default/IndexedDB/../Cookies", false],
    ["auth/baileys/creds.json", true],
    ["auth/baileys/keys-pre-key.json", true],
    ["auth/baileys/keys-app-state-sync-key.json", true],
    ["auth/baileys/creds.json.123.ab12cd34.tmp", false],
    ["auth/baileys/keys-../x.json", false],
    ["auth/baileys/sub/creds.json", false],
    ["auth/store/chats.json", true],
    ["auth/store/contacts.json", true],
    ["auth/store/messages/0123456789abcdef01234567.json", true],
    ["auth/store/chats.json.123.ab12cd34.tmp", false],
    ["auth/store/messages/0123456789abcdef01234567.json.corrupt", false],
    ["auth/store/messages/../../baileys/x.json", false],
  ])("%s -> %s", (rel, want) => {
    expect(inRestoreSet(rel)).toBe(want);
  });
});

describe("captureSession", () => {
  it("takes the baileys store (creds and keys, chats, messages and contacts, no temp files) in two passes and names the engine", async () => {
    await put("meta.json", "{}");
    await put("auth/baileys/creds.json", '{"me":{}}');
    await put("auth/baileys/keys-pre-key.json", "{}");
    await put("auth/baileys/keys-session.json.99.ab12cd34.tmp", "{}");
    await put("auth/store/chats.json", '{"seq":0,"chats":[]}');
    await put("auth/store/messages/0123456789abcdef01234567.json", "{}");
    await put("auth/store/messages/0123456789abcdef01234567.json.corrupt", "{");
    const c = await captureSession(dir, "s1");
    expect(c).toMatchObject({ engine: "baileys", consistency: "stable", rounds: 2 });
    expect(c.files.map((f) => f.rel)).toEqual(["auth/baileys/creds.json", "auth/baileys/keys-pre-key.json", "auth/store/chats.json", "auth/store/messages/0123456789abcdef01234567.json", "meta.json"]);
    await releaseCapture(c);
  });

  it("copies a quiet profile in two passes and calls it stable; large files are staged on disk", async () => {
    await put("meta.json", "{}");
    await put(`${IDB}/000005.ldb`, Buffer.alloc(3 * 1024 * 1024, 1));
    await put(`${IDB}/CURRENT`, "MANIFEST-1\n");
    await put("auth/session-s1/Default/Cache/Cache_Data/data_0", "cache");
    const c = await captureSession(dir, "s1", { inMemoryMax: 1024 * 1024 });
    expect(c).toMatchObject({ engine: "wwebjs", consistency: "stable", rounds: 2 });
    expect(c.files.map((f) => f.rel)).toEqual(["auth/session-s1/Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000005.ldb", `${IDB}/CURRENT`, "meta.json"]);
    const big = c.files[0]!;
    expect(big.data).toBeUndefined();
    expect((await fs.stat(big.staged!)).size).toBe(3 * 1024 * 1024);
    await releaseCapture(c);
    await expect(fs.access(big.staged!)).rejects.toThrow();
  });

  it("re-copies what changed during the copy, and the copy is the set as it ended", async () => {
    await put("meta.json", "{}");
    await put(`${IDB}/000007.log`, "first");
    await put(`${IDB}/CURRENT`, "MANIFEST-1\n");
    let changed = false;
    const c = await captureSession(dir, "s1", {
      afterCopy: async (rel) => {
        // LevelDB compacts while the copy runs: the log grows and a new table appears
        if (changed || !rel.endsWith("000007.log")) return;
        changed = true;
        await put(`${IDB}/000007.log`, "first+second");
        await put(`${IDB}/000008.ldb`, "table");
      },
    });
    expect(c.consistency).toBe("stable");
    expect(c.rounds).toBe(3);
    const files = Object.fromEntries(c.files.map((f) => [f.rel, f.data!.toString()]));
    expect(files[`${IDB}/000007.log`]).toBe("first+second");
    expect(files[`${IDB}/000008.ldb`]).toBe("table");
  });

  it("keeps a profile that never settles as crash-consistent, and says so", async () => {
    await put("meta.json", "{}");
    await put(`${IDB}/000007.log`, "0");
    let n = 0;
    const c = await captureSession(dir, "s1", {
      maxRounds: 3,
      afterCopy: async (rel) => {
        if (rel.endsWith("000007.log")) await put(`${IDB}/000007.log`, String(++n).repeat(n));
      },
    });
    expect(c).toMatchObject({ consistency: "crash", rounds: 3 });
  });

  it("takes a simulator session's credentials and nothing else of auth/", async () => {
    await put("meta.json", "{}");
    await put("auth/creds.json", '{"deviceId":"d"}');
    await put("auth/creds.json.1.abcd.tmp", "partial");
    const c = await captureSession(dir, "s1");
    expect(c.engine).toBe("simulator");
    expect(c.files.map((f) => f.rel)).toEqual(["auth/creds.json", "meta.json"]);
    // no browser profile to settle: one pass is enough
    expect(c).toMatchObject({ consistency: "stable", rounds: 1 });
  });
});

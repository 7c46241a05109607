// Snapshots against a real S3 API server (s3rver on loopback): what an archive holds, the manifest
// written last with hashes that match, multipart uploads, interrupted runs, corruption caught by
// verify and refused by restore before anything is touched, and batched retention.
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { readArchive } from "../../lib/backup/archive";
import type { BlobInfo, BlobStore } from "../../lib/backup/blob-store";
import { SnapshotCatalog } from "../../lib/backup/catalog";
import { BackupManager } from "../../lib/backup/manager";
import { archiveKey, manifestKey } from "../../lib/backup/manifest";
import { restoreSnapshot, type SessionControl } from "../../lib/backup/restore";
import { S3BlobStore } from "../../lib/backup/s3-store";
import { takeSnapshot } from "../../lib/backup/snapshot";
import { verifySnapshot } from "../../lib/backup/verify";
import { startTestS3, type TestS3 } from "../helpers/s3";
import { tempDir } from "../helpers/processes";

const MiB = 1024 * 1024;
const quiet = { info() {}, warn() {}, error() {} };

let s3: TestS3;
let root: string;
let sessionsDir: string;
let parts: Array<{ key: string; part: number }>;
let store: S3BlobStore;

/** The files a restore needs, with their bytes, by archive path. */
let expected: Map<string, Map<string, Buffer>>;

async function put(rel: string, data: Buffer | string): Promise<void> {
  const file = path.join(sessionsDir, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, data);
}

const meta = (w: string, s: string, desired = "running") => JSON.stringify({ workspaceId: w, sessionId: s, accountId: null, desired, metadata: {}, createdAt: "2026-11-01T00:00:00.000Z", updatedAt: "2026-11-01T00:00:00.000Z", fencingToken: 7 });

async function buildSessionsFolder(): Promise<void> {
  expected = new Map();
  const want = async (w: string, rel: string, data: Buffer | string) => {
    await put(`workspace_${w}/${rel}`, data);
    if (!expected.has(w)) expected.set(w, new Map());
    expected.get(w)!.set(rel, Buffer.from(data));
  };
  const junk = (w: string, rel: string, bytes = 2048) => put(`workspace_${w}/${rel}`, randomBytes(bytes));
  // simulator session: meta + credentials; a leftover temp file of an atomic write is not taken
  await want("acme", "session_sim1/meta.json", meta("acme", "sim1"));
  await want("acme", "session_sim1/auth/creds.json", JSON.stringify({ deviceId: "d1", secret: "s1", phone: "15550000001" }));
  await junk("acme", "session_sim1/auth/creds.json.123.abcd.tmp");
  // wwebjs session (LocalAuth layout): IndexedDB + Local Storage only, 6 MiB of incompressible
  // IndexedDB so the archive needs several 5 MiB parts; caches and locks stay behind
  const profile = "session_web1/auth/session-web1";
  await want("acme", "session_web1/meta.json", meta("acme", "web1"));
  const idb = `${profile}/Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb`;
  await want("acme", `${idb}/000005.ldb`, randomBytes(6 * MiB));
  await want("acme", `${idb}/000007.log`, randomBytes(30_000));
  await want("acme", `${idb}/CURRENT`, "MANIFEST-000001\n");
  await want("acme", `${idb}/MANIFEST-000001`, randomBytes(200));
  await want("acme", `${profile}/Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/3`, randomBytes(5000));
  await want("acme", `${profile}/Default/Local Storage/leveldb/000003.log`, randomBytes(4000));
  await want("acme", `${profile}/Default/Local Storage/leveldb/CURRENT`, "MANIFEST-000001\n");
  await junk("acme", `${profile}/Default/Cache/Cache_Data/data_1`, 300_000);
  await junk("acme", `${profile}/Default/Code Cache/js/index`);
  await junk("acme", `${profile}/Default/Service Worker/CacheStorage/abc/index`);
  await junk("acme", `${profile}/Default/Preferences`);
  await junk("acme", `${profile}/GPUCache/data_0`);
  await fs.symlink("host-1234", path.join(sessionsDir, `workspace_acme/${profile}/SingletonLock`));
  // a second workspace, and a half-created session (no meta.json) that is not a session
  await want("beta", "session_sim2/meta.json", meta("beta", "sim2", "stopped"));
  await want("beta", "session_sim2/auth/creds.json", JSON.stringify({ deviceId: "d2", secret: "s2", phone: "15550000002" }));
  await junk("gamma", "session_half/auth/creds.json");
}

async function readObject(key: string): Promise<Buffer> {
  const res = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: `backups/${key}` }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

async function archiveContents(body: Readable): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  await readArchive(body, async (e) => {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c as Buffer);
    out.set(`session_${e.sessionId}/${e.rel}`, Buffer.concat(chunks));
  });
  return out;
}

/** Every file under a folder with its SHA-256, to prove a refused restore changed nothing. */
async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out[path.relative(dir, p)] = createHash("sha256").update(await fs.readFile(p)).digest("hex");
      else out[path.relative(dir, p)] = "link";
    }
  };
  await walk(dir);
  return out;
}

/** A store that forwards to another and records deletes, or fails puts on demand. */
class RecordingStore implements BlobStore {
  deletes: string[][] = [];
  failPut: ((key: string) => boolean) | undefined;
  constructor(private readonly inner: BlobStore) {}
  get description() {
    return this.inner.description;
  }
  get maxDeleteBatch() {
    return this.inner.maxDeleteBatch;
  }
  put(key: string, body: Readable) {
    if (this.failPut?.(key)) {
      body.destroy();
      return Promise.reject(new Error(`injected failure writing ${key}`));
    }
    return this.inner.put(key, body);
  }
  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<BlobInfo[]> {
    return this.inner.list(prefix);
  }
  delete(keys: string[]) {
    this.deletes.push([...keys]);
    return this.inner.delete(keys);
  }
}

const snapshotOpts = () => ({ store, sessionsDir, node: "backup-test", engine: "simulator", wafleetVersion: "0.1.0-test" });

beforeAll(async () => {
  s3 = await startTestS3();
  root = await tempDir("backup-s3");
  sessionsDir = path.join(root, "sessions");
  await buildSessionsFolder();
  parts = [];
  store = new S3BlobStore({ bucket: s3.bucket, prefix: "backups", endpoint: s3.endpoint, partSize: 5 * MiB, client: { credentials: s3.credentials, region: "us-east-1" }, onPart: (key, part) => parts.push({ key, part }) });
}, 30000);

afterAll(async () => {
  await store?.close();
  await s3?.destroy();
  await fs.rm(root, { recursive: true, force: true });
});

describe("a snapshot on S3", () => {
  let id: string;

  it("holds one archive per workspace with meta.json and only the auth data a restore needs", async () => {
    s3.events.length = 0;
    const m = await takeSnapshot(snapshotOpts());
    id = m.id;
    expect(m.archives.map((a) => a.workspaceId)).toEqual(["acme", "beta"]);
    for (const a of m.archives) {
      const got = await archiveContents(await store.get(archiveKey(id, a.workspaceId)));
      const want = expected.get(a.workspaceId)!;
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [rel, data] of want) expect(got.get(rel)!.equals(data)).toBe(true);
      expect(a.files).toBe(want.size);
    }
    const acme = m.archives.find((a) => a.workspaceId === "acme")!;
    expect(acme.sessions).toEqual([
      { sessionId: "sim1", engine: "simulator", desired: "running", files: 2, bytes: expect.any(Number), consistency: "stable" },
      { sessionId: "web1", engine: "wwebjs", desired: "running", files: 8, bytes: expect.any(Number), consistency: "stable" },
    ]);
    expect(m).toMatchObject({ node: "backup-test", engine: "simulator", wafleetVersion: "0.1.0-test", totals: { workspaces: 2, sessions: 3, files: 12 } });
  });

  it("uploads a large archive in several multipart parts", () => {
    const acmeKey = archiveKey(id, "acme");
    expect(Math.max(...parts.filter((p) => p.key === acmeKey).map((p) => p.part))).toBeGreaterThanOrEqual(2);
    // the server completed a multipart upload (POST ?uploadId) for it, a plain PUT for the small ones
    expect(s3.events.find((e) => e.key.endsWith(acmeKey))?.eventName).toBe("ObjectCreated:Post");
    expect(s3.events.find((e) => e.key.endsWith(manifestKey(id)))?.eventName).toBe("ObjectCreated:Put");
  });

  it("writes the manifest last, with each archive's size and SHA-256", async () => {
    const created = s3.events.filter((e) => e.eventName.startsWith("ObjectCreated") && e.key.includes(id));
    expect(created.at(-1)!.key).toBe(`backups/${manifestKey(id)}`);
    expect(created).toHaveLength(3);
    const manifest = JSON.parse((await readObject(manifestKey(id))).toString("utf8"));
    for (const a of manifest.archives) {
      const bytes = await readObject(archiveKey(id, a.workspaceId));
      expect(bytes.length).toBe(a.size);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(a.sha256);
    }
  });

  it("passes verify", async () => {
    const r = await verifySnapshot(store, new SnapshotCatalog(store), id, "backup-test");
    expect(r.ok).toBe(true);
    expect(r.archives.map((a) => a.ok)).toEqual([true, true]);
    expect((await new SnapshotCatalog(store).list()).find((s) => s.id === id)?.verified).toBe(true);
  });
});

describe("an interrupted snapshot", () => {
  it("leaves no manifest, is listed as incomplete, ignored by latest and restore, and swept by retention", async () => {
    const recording = new RecordingStore(store);
    const catalog = new SnapshotCatalog(recording);
    const good = await catalog.latest();
    recording.failPut = (key) => key.endsWith("workspace_beta.tar.gz");
    let t = Date.now() + 60_000;
    const now = () => new Date(t);
    await expect(takeSnapshot({ ...snapshotOpts(), store: recording, now })).rejects.toThrow(/injected failure/);
    const broken = (await catalog.list()).at(-1)!;
    expect(broken).toMatchObject({ complete: false, objects: 1 });
    expect(broken.keys[0]).toMatch(/workspace_acme\.tar\.gz$/);
    expect(await catalog.latest()).toBe(good);
    const control: SessionControl = { list: jest.fn(async () => []), stop: jest.fn(), start: jest.fn() };
    await expect(restoreSnapshot({ store: recording, catalog, sessionsDir, control, logger: quiet }, broken.id, "acme")).rejects.toMatchObject({ type: "SNAPSHOT_NOT_FOUND" });
    expect(control.list).not.toHaveBeenCalled();

    // the next run completes; retention then deletes the dead run's orphan archive
    recording.failPut = undefined;
    t += 3_600_000;
    const manager = new BackupManager({ store: recording, sessionsDir, node: "backup-test", engine: "simulator", retention: { keepHourly: 24, keepDaily: 7 }, control, logger: quiet, now });
    const run = await manager.run();
    expect(run.verify.ok).toBe(true);
    expect(run.prune.deleted).toEqual([broken.id]);
    expect((await catalog.list()).map((s) => s.id)).not.toContain(broken.id);
  });
});

describe("a corrupted archive", () => {
  it("is reported by verify and refused by restore before anything is touched", async () => {
    const catalog = new SnapshotCatalog(store);
    const id = (await catalog.latest())!;
    const key = `backups/${archiveKey(id, "acme")}`;
    const bytes = await readObject(archiveKey(id, "acme"));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));

    const r = await verifySnapshot(store, catalog, id, "backup-test");
    expect(r.ok).toBe(false);
    expect(r.archives).toEqual([
      { workspaceId: "acme", ok: false, error: expect.stringMatching(/SHA-256/) },
      { workspaceId: "beta", ok: true },
    ]);

    // the disaster the restore should repair: acme's web1 lost its profile
    await fs.rm(path.join(sessionsDir, "workspace_acme/session_web1/auth"), { recursive: true });
    const before = await treeDigest(sessionsDir);
    const control: SessionControl = { list: jest.fn(async () => []), stop: jest.fn(), start: jest.fn() };
    await expect(restoreSnapshot({ store, catalog, sessionsDir, control, logger: quiet }, id, "acme")).rejects.toMatchObject({ type: "SNAPSHOT_INVALID" });
    await expect(restoreSnapshot({ store, catalog, sessionsDir, control, logger: quiet }, id)).rejects.toMatchObject({ type: "SNAPSHOT_INVALID" });
    expect(await treeDigest(sessionsDir)).toEqual(before);
    expect(control.list).not.toHaveBeenCalled();
    expect(control.stop).not.toHaveBeenCalled();

    // the intact workspace of the same snapshot still restores
    const ok = await restoreSnapshot({ store, catalog, sessionsDir, control, logger: quiet }, id, "beta");
    expect(ok.workspaces).toEqual([{ workspaceId: "beta", sessions: [{ sessionId: "sim2", outcome: "awaiting-owner" }] }]);
  });
});

describe("retention on S3", () => {
  it("keeps the newest per hour and per day, deletes the rest in batches, manifests first", async () => {
    const recording = new RecordingStore(new S3BlobStore({ bucket: s3.bucket, prefix: "retention", endpoint: s3.endpoint, client: { credentials: s3.credentials, region: "us-east-1" } }));
    // a small source folder: retention is about snapshots, not their size
    const small = path.join(root, "small");
    await fs.mkdir(path.join(small, "workspace_w1/session_s1"), { recursive: true });
    await fs.writeFile(path.join(small, "workspace_w1/session_s1/meta.json"), meta("w1", "s1"));
    let t = Date.UTC(2026, 10, 1, 0, 30);
    const manager = new BackupManager({
      store: recording,
      sessionsDir: small,
      node: "backup-test",
      engine: "simulator",
      retention: { keepHourly: 3, keepDaily: 2 },
      deleteBatch: 4,
      control: { list: async () => [], stop: async () => undefined, start: async () => undefined },
      logger: quiet,
      now: () => new Date(t),
    });
    const taken: string[] = [];
    // every 6 hours for 3 days
    for (let i = 0; i < 12; i++, t += 6 * 3_600_000) taken.push((await manager.run()).snapshot.id);
    const left = (await manager.catalog.list()).map((s) => s.id);
    // 3 newest (each its own hour), then the newest of each of 2 days among the older ones
    expect(left).toEqual([taken[7], taken[8], taken[9], taken[10], taken[11]].sort());
    expect(recording.deletes.length).toBeGreaterThan(0);
    for (const batch of recording.deletes) expect(batch.length).toBeLessThanOrEqual(4);
    // within a prune, markers (manifest, verified) go before archives
    const first = recording.deletes.find((b) => b.length)!;
    expect(first.every((k) => k.endsWith("manifest.json") || k.endsWith("verified.json"))).toBe(true);
    await (recording as any).inner.close();
  });
});

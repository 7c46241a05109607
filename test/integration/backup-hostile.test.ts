// A backup bucket someone else wrote to (issue 16, finding 3): a restore trusts nothing of a
// snapshot but its shape. Ids in the manifest are checked with the id pattern, every derived path
// must stay under its root, the download is written exclusively and no larger than the manifest
// says, and the bytes an archive unpacks to are capped (a gzip bomb is refused), all before any
// session folder is touched. Against a real S3 API (s3rver), where any key is possible.
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import tar from "tar-stream";
import { SnapshotCatalog } from "../../lib/backup/catalog";
import { archiveKey, checkManifest, manifestKey, newSnapshotId } from "../../lib/backup/manifest";
import { restoreSnapshot, type SessionControl } from "../../lib/backup/restore";
import { S3BlobStore } from "../../lib/backup/s3-store";
import { startTestS3, type TestS3 } from "../helpers/s3";
import { tempDir } from "../helpers/processes";

const quiet = { info() {}, warn() {}, error() {} };
let s3: TestS3;
let store: S3BlobStore;
let root: string;
let sessionsDir: string;

beforeAll(async () => {
  s3 = await startTestS3();
  store = new S3BlobStore({ bucket: s3.bucket, prefix: "hostile", endpoint: s3.endpoint, client: { credentials: s3.credentials, region: "us-east-1" } });
  root = await tempDir("backup-hostile");
  sessionsDir = path.join(root, "deep", "sessions");
  await fs.mkdir(sessionsDir, { recursive: true });
});

afterAll(async () => {
  await store.close?.();
  await s3.destroy();
  await fs.rm(root, { recursive: true, force: true });
});

const meta = (w: string, s: string) => JSON.stringify({ workspaceId: w, sessionId: s, accountId: null, desired: "stopped", metadata: {}, createdAt: "x", updatedAt: "x", fencingToken: 1 });

async function gzipTar(entries: Array<[string, string | Buffer]>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of entries) pack.entry({ name }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack.pipe(zlib.createGzip({ level: 9 }))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Uploads one archive and a manifest naming it (hashes right), as a tampered bucket would hold them. */
async function plant(workspaceId: string, gz: Buffer, archiveFields: Record<string, unknown> = {}, size = gz.length): Promise<string> {
  const id = newSnapshotId(new Date());
  await store.put(archiveKey(id, workspaceId), Readable.from([gz]));
  const archive = { workspaceId, name: `workspace_${workspaceId}.tar.gz`, size, sha256: createHash("sha256").update(gz).digest("hex"), files: 2, sessions: [{ sessionId: "s1", engine: "simulator", desired: "stopped", files: 2, bytes: 1, consistency: "stable" }], ...archiveFields };
  const manifest = { format: 1, id, createdAt: "x", finishedAt: "x", durationMs: 0, node: "n", engine: "simulator", wafleetVersion: "x", source: "x", archives: [archive], totals: { workspaces: 1, sessions: 1, files: 2, bytes: 1 } };
  await store.put(manifestKey(id), Readable.from([Buffer.from(JSON.stringify(manifest))]));
  return id;
}

function control(): SessionControl & { calls: number } {
  const c = { calls: 0, list: async () => (c.calls++, []), stop: async () => (c.calls++, undefined), start: async () => (c.calls++, undefined) };
  return c;
}

/** Every file under root except the sessions folder's own. */
async function filesOutsideSessions(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (p === sessionsDir) continue;
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(root, p));
    }
  };
  await walk(root);
  return out;
}

it("checkManifest refuses workspace and session ids that are not ids", () => {
  const m = (a: Record<string, unknown>) => ({ format: 1, id: "x", archives: [{ workspaceId: "w1", name: "workspace_w1.tar.gz", size: 1, sha256: "a".repeat(64), files: 1, sessions: [], ...a }] });
  expect(() => checkManifest(m({}), "x")).not.toThrow();
  for (const w of ["../../planted", "..", "a/b", "", "w".repeat(65), "w\u0000"]) expect(() => checkManifest(m({ workspaceId: w, name: `workspace_${w}.tar.gz` }), "x")).toThrow(/workspace/);
  for (const s of ["../s", "s/1", ""]) expect(() => checkManifest(m({ sessions: [{ sessionId: s, files: 1, bytes: 1 }] }), "x")).toThrow(/session/);
  expect(() => checkManifest(m({ size: -1 }), "x")).toThrow();
  expect(() => checkManifest({ format: 1, id: "x", archives: [m({}).archives[0], m({}).archives[0]] }, "x")).toThrow(/twice/);
});

it("refuses a manifest whose workspace id climbs out of SESSIONS_DIR, and writes nothing anywhere", async () => {
  const w = "../../planted";
  const gz = await gzipTar([
    ["session_s1/meta.json", meta(w, "s1")],
    ["session_s1/auth/creds.json", "{}"],
  ]);
  const id = await plant(w, gz);
  const c = control();
  await expect(restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir, control: c, logger: quiet }, id)).rejects.toMatchObject({ type: "SNAPSHOT_INVALID" });
  expect(c.calls).toBe(0);
  expect(await filesOutsideSessions()).toEqual([]);
  expect(await fs.readdir(sessionsDir)).toEqual([]);
});

it("refuses a gzip bomb: the bytes an archive unpacks to are capped, and the staging folder goes", async () => {
  const gz = await gzipTar([
    ["session_s1/meta.json", meta("w1", "s1")],
    ["session_s1/auth/creds.json", Buffer.alloc(8 * 1024 * 1024)],
  ]);
  expect(gz.length).toBeLessThan(64 * 1024);
  const id = await plant("w1", gz);
  const c = control();
  const err = await restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir, control: c, logger: quiet, maxExtractBytes: 1024 * 1024 }, id).catch((e) => e);
  expect(err).toMatchObject({ type: "SNAPSHOT_INVALID" });
  expect(err.message).toMatch(/unpacks to more than 1048576 bytes/);
  expect(c.calls).toBe(0);
  expect(await fs.readdir(sessionsDir)).toEqual([]);
  // the same archive within a larger cap restores
  const ok = await restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir, control: c, logger: quiet, maxExtractBytes: 64 * 1024 * 1024 }, id);
  expect(ok.workspaces[0]!.sessions).toEqual([{ sessionId: "s1", outcome: "awaiting-owner" }]);
  expect((await fs.stat(path.join(sessionsDir, "workspace_w1/session_s1/auth/creds.json"))).size).toBe(8 * 1024 * 1024);
});

it("stops a download at the size the manifest gives, whatever the bucket serves", async () => {
  const gz = await gzipTar([
    ["session_s1/meta.json", meta("w2", "s1")],
    ["session_s1/auth/creds.json", "{}"],
  ]);
  // the manifest claims fewer bytes than the object holds
  const id = await plant("w2", gz, {}, 10);
  const err = await restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir, control: control(), logger: quiet }, id).catch((e) => e);
  expect(err).toMatchObject({ type: "SNAPSHOT_INVALID" });
  expect(err.message).toMatch(/more than the 10 bytes/);
  expect(await fs.readdir(sessionsDir).then((n) => n.filter((x) => x.startsWith("workspace_w2")))).toEqual([]);
});

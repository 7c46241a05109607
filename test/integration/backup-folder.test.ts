// The folder target (BACKUP_TARGET=file:///path) and restore's choreography: verify everything,
// then for each session of the archive only: stop (with its old files still in place), swap the
// folder, start if the snapshot says running. The owner's fencing token survives; sessions that
// the snapshot does not hold, and other workspaces, are not touched.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import zlib from "node:zlib";
import tar from "tar-stream";
import { parseEntryName } from "../../lib/backup/archive";
import { SnapshotCatalog } from "../../lib/backup/catalog";
import { archiveKey, manifestKey, newSnapshotId } from "../../lib/backup/manifest";
import { restoreSnapshot, type SessionControl } from "../../lib/backup/restore";
import { takeSnapshot } from "../../lib/backup/snapshot";
import { openBackupTarget } from "../../lib/backup/target";
import { verifySnapshot } from "../../lib/backup/verify";

const quiet = { info() {}, warn() {}, error() {} };
let root: string;
let sessionsDir: string;

async function put(rel: string, data: string) {
  const f = path.join(sessionsDir, rel);
  await fs.mkdir(path.dirname(f), { recursive: true });
  await fs.writeFile(f, data);
}
const read = (rel: string) => fs.readFile(path.join(sessionsDir, rel), "utf8");
const meta = (w: string, s: string, desired: string, fencingToken: number) => JSON.stringify({ workspaceId: w, sessionId: s, accountId: null, desired, metadata: {}, createdAt: "x", updatedAt: "x", fencingToken });

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-backup-folder-"));
  sessionsDir = path.join(root, "sessions");
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

it("snapshots to a folder, verifies, and restores one workspace touching only its snapshot's sessions", async () => {
  await put("workspace_w1/session_s1/meta.json", meta("w1", "s1", "running", 3));
  await put("workspace_w1/session_s1/auth/creds.json", "creds-v1");
  await put("workspace_w1/session_s2/meta.json", meta("w1", "s2", "stopped", 3));
  await put("workspace_w2/session_t1/meta.json", meta("w2", "t1", "running", 4));
  await put("workspace_w2/session_t1/auth/creds.json", "t1-creds");

  const store = openBackupTarget(`file://${path.join(root, "backups")}`);
  expect(store.description).toBe(`file://${path.join(root, "backups")}`);
  const m = await takeSnapshot({ store, sessionsDir, node: "n1", engine: "simulator", wafleetVersion: "test" });
  const catalog = new SnapshotCatalog(store);
  expect((await verifySnapshot(store, catalog, m.id, "n1")).ok).toBe(true);
  // nothing half-written is left beside the objects
  expect((await fs.readdir(path.join(root, "backups/snapshots", m.id))).sort()).toEqual(["manifest.json", "verified.json", "workspace_w1.tar.gz", "workspace_w2.tar.gz"]);

  // after the snapshot: s1's credentials were lost/overwritten and a newer owner wrote its meta;
  // s3 was created; w2 moved on
  await put("workspace_w1/session_s1/auth/creds.json", "creds-broken");
  await put("workspace_w1/session_s1/meta.json", meta("w1", "s1", "running", 9));
  await put("workspace_w1/session_s3/meta.json", meta("w1", "s3", "running", 9));
  await put("workspace_w1/session_s3/auth/creds.json", "s3-creds");
  await put("workspace_w2/session_t1/auth/creds.json", "t1-creds-later");

  const calls: string[] = [];
  const control: SessionControl = {
    list: async (w) => {
      calls.push(`list ${w}`);
      return [
        { sessionId: "s1", status: "WORKING", desired: "running" },
        { sessionId: "s2", status: "STOPPED", desired: "stopped" },
        { sessionId: "s3", status: "WORKING", desired: "running" },
      ];
    },
    stop: async (w, s) => {
      calls.push(`stop ${w}/${s} with ${await read(`workspace_${w}/session_${s}/auth/creds.json`)}`);
    },
    start: async (w, s) => {
      calls.push(`start ${w}/${s} with ${await read(`workspace_${w}/session_${s}/auth/creds.json`)}`);
    },
  };
  const report = await restoreSnapshot({ store, catalog, sessionsDir, control, logger: quiet }, m.id, "w1");
  expect(report.workspaces).toEqual([
    {
      workspaceId: "w1",
      sessions: [
        { sessionId: "s1", outcome: "restarted" },
        { sessionId: "s2", outcome: "restored-stopped" },
      ],
    },
  ]);
  // stopped on the old files, started on the restored ones; s3 and w2 never asked anything
  expect(calls).toEqual(["list w1", "stop w1/s1 with creds-broken", "start w1/s1 with creds-v1"]);
  expect(JSON.parse(await read("workspace_w1/session_s1/meta.json"))).toMatchObject({ desired: "running", fencingToken: 9 });
  expect(await read("workspace_w1/session_s3/auth/creds.json")).toBe("s3-creds");
  expect(await read("workspace_w2/session_t1/auth/creds.json")).toBe("t1-creds-later");
  // no staging or set-aside folders remain
  expect((await fs.readdir(sessionsDir)).sort()).toEqual(["workspace_w1", "workspace_w2"]);
  expect((await fs.readdir(path.join(sessionsDir, "workspace_w1"))).sort()).toEqual(["session_s1", "session_s2", "session_s3"]);

  // a flipped byte in the folder is caught by verify
  const file = path.join(root, "backups", archiveKey(m.id, "w2"));
  const bytes = await fs.readFile(file);
  bytes[20] ^= 1;
  await fs.writeFile(file, bytes);
  const v = await verifySnapshot(store, catalog, m.id, "n1");
  expect(v.archives).toEqual([{ workspaceId: "w1", ok: true }, expect.objectContaining({ workspaceId: "w2", ok: false })]);
});

it("refuses archive entries that would escape the session folder", async () => {
  expect(parseEntryName("session_s1/meta.json")).toEqual({ sessionId: "s1", rel: "meta.json" });
  for (const bad of ["../x", "session_s1/../../etc/passwd", "session_../meta.json", "/abs/meta.json", "session_s1/auth/session-s1/Default/Cache/x", "session_s1/auth/creds.json/../../meta.json"]) {
    expect(parseEntryName(bad)).toBeUndefined();
  }
});

it("refuses a well-hashed archive holding a path outside the session folder, before touching anything", async () => {
  const pack = tar.pack();
  pack.entry({ name: "session_s1/meta.json" }, meta("w9", "s1", "running", 1));
  pack.entry({ name: "session_s1/../../../escaped" }, "evil");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack.pipe(zlib.createGzip())) chunks.push(c as Buffer);
  const gz = Buffer.concat(chunks);
  const id = newSnapshotId(new Date());
  const backups = path.join(root, "hostile");
  await fs.mkdir(path.join(backups, "snapshots", id), { recursive: true });
  await fs.writeFile(path.join(backups, archiveKey(id, "w9")), gz);
  const archive = { workspaceId: "w9", name: "workspace_w9.tar.gz", size: gz.length, sha256: createHash("sha256").update(gz).digest("hex"), files: 2, sessions: [] };
  await fs.writeFile(path.join(backups, manifestKey(id)), JSON.stringify({ format: 1, id, createdAt: "x", finishedAt: "x", durationMs: 0, node: "n", engine: "simulator", wafleetVersion: "x", source: "x", archives: [archive], totals: {} }));
  const store = openBackupTarget(`file://${backups}`);
  const control: SessionControl = { list: jest.fn(async () => []), stop: jest.fn(), start: jest.fn() };
  await expect(restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir, control, logger: quiet }, id, "w9")).rejects.toMatchObject({ type: "SNAPSHOT_INVALID" });
  expect(control.list).not.toHaveBeenCalled();
  await expect(fs.access(path.join(root, "escaped"))).rejects.toThrow();
  await expect(fs.access(path.join(sessionsDir, "workspace_w9"))).rejects.toThrow();
  expect((await fs.readdir(sessionsDir)).filter((n) => n.startsWith(".restore-"))).toEqual([]);
});

it("reports a session whose owner cannot be reached as failed, leaves its folder alone, and goes on", async () => {
  const dir = path.join(root, "unreachable");
  const local = path.join(dir, "sessions");
  const write = async (rel: string, data: string) => {
    await fs.mkdir(path.dirname(path.join(local, rel)), { recursive: true });
    await fs.writeFile(path.join(local, rel), data);
  };
  await write("workspace_u/session_a/meta.json", meta("u", "a", "running", 1));
  await write("workspace_u/session_a/auth/creds.json", "a-v1");
  await write("workspace_u/session_b/meta.json", meta("u", "b", "running", 1));
  await write("workspace_u/session_b/auth/creds.json", "b-v1");
  const store = openBackupTarget(`file://${path.join(dir, "backups")}`);
  const m = await takeSnapshot({ store, sessionsDir: local, node: "n1", engine: "simulator", wafleetVersion: "test" });
  await write("workspace_u/session_a/auth/creds.json", "a-v2");
  await write("workspace_u/session_b/auth/creds.json", "b-v2");
  const control: SessionControl = {
    list: async () => [
      { sessionId: "a", status: "WORKING", desired: "running" },
      { sessionId: "b", status: "WORKING", desired: "running" },
    ],
    stop: async (_w, s) => {
      if (s === "a") throw new Error("REQUEST_TIMEOUT: owner did not answer");
    },
    start: async () => undefined,
  };
  const report = await restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir: local, control, logger: quiet }, m.id, "u");
  expect(report.workspaces[0]!.sessions).toEqual([
    { sessionId: "a", outcome: "failed", error: "REQUEST_TIMEOUT: owner did not answer" },
    { sessionId: "b", outcome: "restarted" },
  ]);
  expect(await fs.readFile(path.join(local, "workspace_u/session_a/auth/creds.json"), "utf8")).toBe("a-v2");
  expect(await fs.readFile(path.join(local, "workspace_u/session_b/auth/creds.json"), "utf8")).toBe("b-v1");
});

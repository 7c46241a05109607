// A failover's read-ahead: while a dead node's takeover margin runs, the node the coordinator plans
// to give a workspace reads its folder (sessions, outbox journals) and nothing else: no engine, no
// event, no write, nothing for a workspace it holds already. After the reassignment the adoption
// starts the sessions from that read instead of reading the folder again, once and only within the
// read's time to live. The classes of a session node against a real folder and the memory directory.
import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LaunchQueue } from "../../lib/engines/launch-queue";
import { OutboxHost } from "../../lib/outbox/host";
import { MemoryDirectory } from "../../lib/placement/memory-directory";
import { Ownership } from "../../lib/placement/ownership";
import { DirectoryView } from "../../lib/placement/view";
import { SessionManager } from "../../lib/sessions/manager";
import { PreparedWorkspaces } from "../../lib/sessions/prepared";
import { SessionStorage, type SessionMeta } from "../../lib/sessions/storage";
import { FakeEngine } from "../helpers/fake-engine";
import { waitFor } from "../helpers/processes";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
let root: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-read-ahead-"));
  FakeEngine.created = [];
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

const meta = (workspaceId: string, sessionId: string): SessionMeta => ({
  workspaceId,
  sessionId,
  accountId: null,
  desired: "running",
  metadata: {},
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, Number(sessionId.slice(1)))).toISOString(),
  updatedAt: new Date().toISOString(),
  fencingToken: 1,
});

/** A session node's pieces wired as services/sessions.service.ts wires them. */
async function node(directory: MemoryDirectory, name: string, opts: { ttlMs?: number; leaseValid?: () => boolean } = {}) {
  const storage = new SessionStorage(path.join(root, "sessions"));
  const published: string[] = [];
  const manager = new SessionManager({
    storage,
    engineFactory: (ctx) => new FakeEngine(ctx),
    launchQueue: new LaunchQueue({ concurrency: 4, staggerMs: 0 }),
    node: name,
    publish: (event, scope) => published.push(`${event} ${scope.workspaceId}/${scope.sessionId}`),
    logger: quiet,
    startTimeoutMs: 1000,
    fencingToken: () => 1,
    maxSessions: 100,
  });
  const opened: string[] = [];
  const outboxes = new OutboxHost({ fileOf: (w, s) => storage.outboxFile(w, s), sessionsOf: (w) => manager.list(w).map((v) => v.sessionId), depsOf: () => ({}) as any });
  jest.spyOn(outboxes, "get").mockImplementation(async (w, s) => {
    opened.push(`${w}/${s}`);
    return {} as any;
  });
  const prepared = new PreparedWorkspaces({ ttlMs: opts.ttlMs ?? 10_000 });
  const view = new DirectoryView(directory, 600_000);
  await view.start();
  const ownership = new Ownership({
    directory,
    view,
    node: name,
    lease: { valid: opts.leaseValid ?? (() => true) },
    host: {
      adopt: async (w) => {
        const ready = prepared.take(w, (from) => view.node(from)?.alive === true);
        await manager.restore([w], ready && (() => ready));
        await outboxes.adopt(w, ready?.outboxes);
      },
      prepare: async (w, from) => {
        const read = await storage.peekWorkspace(w);
        prepared.put(w, { ...read, outboxes: outboxes.journaled(w, read.metas.map((m) => m.sessionId)) }, from);
      },
      drop: (w) => manager.dropWorkspace(w),
      dropAll: () => manager.dropAll(),
    },
    logger: quiet,
    reconcileEveryMs: 600_000,
  });
  return { storage, manager, ownership, view, prepared, published, opened };
}

/** Workspace `wp` of a dead node: three sessions wanting to run, s2 with an outbox journal, a delete left half done. */
async function deadNodesWorkspace(storage: SessionStorage) {
  for (const s of ["s1", "s2", "s3"]) await storage.create(meta("wp", s));
  await fs.writeFile(storage.outboxFile("wp", "s2"), "");
  const leftover = path.join(root, "sessions", "workspace_wp", ".deleted-s9-abcd");
  await fs.mkdir(leftover, { recursive: true });
  return { leftover };
}

it("reads a planned workspace during the margin without starting, publishing or writing anything, then adopts it from that read", async () => {
  const directory = new MemoryDirectory();
  await directory.register({ node: "n1", capacity: 100, weight: 100, draining: false, epoch: "e1", sessions: 0 }, 600_000);
  const n1 = await node(directory, "n1");
  const { leftover } = await deadNodesWorkspace(n1.storage);
  const dead = await directory.assign("wp", "dead", null);
  n1.ownership.start();
  try {
    expect(await n1.ownership.prepare(["wp"], "dead")).toBe(1);
    // read, and nothing else: no actor, no engine, no event, the leftover still there
    expect(n1.prepared.has("wp")).toBe(true);
    expect(n1.manager.list("wp")).toEqual([]);
    expect(FakeEngine.created).toHaveLength(0);
    expect(n1.published).toEqual([]);
    expect(n1.opened).toEqual([]);
    expect(existsSync(leftover)).toBe(true);
    // the folder is not read again at the adoption: what changes on disk after the read (here the
    // sessions' files moved away) does not change what is adopted
    await fs.rename(path.join(root, "sessions", "workspace_wp"), path.join(root, "elsewhere"));
    await fs.mkdir(path.join(root, "sessions", "workspace_wp"));
    await fs.rename(path.join(root, "elsewhere", ".deleted-s9-abcd"), leftover);
    await directory.assign("wp", "n1", dead!.token);
    await waitFor("the workspace adopted", () => n1.manager.list("wp").length === 3, 5000, 10);
    expect(n1.manager.list("wp").map((v) => v.sessionId)).toEqual(["s1", "s2", "s3"]);
    await waitFor("its engines started", () => FakeEngine.created.length === 3 && FakeEngine.created.every((e) => e.started === 1), 5000, 10);
    // the outbox found by the read is opened; the leftover is swept once the node owns the workspace
    expect(n1.opened).toEqual(["wp/s2"]);
    expect(existsSync(leftover)).toBe(false);
    expect(n1.prepared.has("wp")).toBe(false);
  } finally {
    n1.ownership.stop();
    n1.view.stop();
    await n1.manager.dropAll();
  }
});

it("reads ahead nothing it holds already, and nothing once its lease is gone", async () => {
  const directory = new MemoryDirectory();
  await directory.register({ node: "n1", capacity: 100, weight: 100, draining: false, epoch: "e1", sessions: 0 }, 600_000);
  let valid = true;
  const n1 = await node(directory, "n1", { leaseValid: () => valid });
  await deadNodesWorkspace(n1.storage);
  await n1.storage.create(meta("mine", "s1"));
  await directory.assign("mine", "n1", null);
  n1.ownership.start();
  try {
    await waitFor("its own workspace adopted", () => n1.manager.list("mine").length === 1, 5000, 10);
    expect(await n1.ownership.prepare(["mine", "wp"], "dead")).toBe(1);
    expect(n1.prepared.has("mine")).toBe(false);
    expect(n1.prepared.has("wp")).toBe(true);
    n1.prepared.take("wp", () => false);
    valid = false;
    expect(await n1.ownership.prepare(["wp"], "dead")).toBe(0);
    expect(n1.prepared.has("wp")).toBe(false);
  } finally {
    n1.ownership.stop();
    n1.view.stop();
    await n1.manager.dropAll();
  }
});

it("uses a read once and only within its time to live; an older one is read again from the folder", async () => {
  let now = 1_000_000;
  const prepared = new PreparedWorkspaces({ ttlMs: 10_000, now: () => now });
  const read = { metas: [meta("wp", "s1")], leftovers: [], outboxes: [] };
  prepared.put("wp", read, "dead");
  expect(prepared.take("wp", () => false)).toEqual(read);
  expect(prepared.take("wp", () => false)).toBeUndefined();
  prepared.put("wp", read, "dead");
  now += 10_001;
  expect(prepared.has("wp")).toBe(false);
  expect(prepared.take("wp", () => false)).toBeUndefined();
  // reads never taken go when newer ones come
  prepared.put("a", read, "dead");
  now += 10_001;
  prepared.put("b", read, "dead");
  expect(prepared.size).toBe(1);

  // the manager without a usable read loads the folder as before
  const storage = new SessionStorage(path.join(root, "sessions"));
  await storage.create(meta("wq", "s1"));
  const loads = jest.spyOn(storage, "loadWorkspace");
  const m = new SessionManager({
    storage,
    engineFactory: (ctx) => new FakeEngine(ctx),
    launchQueue: new LaunchQueue({ concurrency: 4, staggerMs: 0 }),
    node: "n1",
    publish: () => undefined,
    logger: quiet,
    startTimeoutMs: 1000,
    fencingToken: () => 1,
    maxSessions: 100,
  });
  await m.restore(["wq"], (w) => prepared.take(w, () => false));
  expect(loads).toHaveBeenCalledWith("wq");
  expect(m.list("wq").map((v) => v.sessionId)).toEqual(["s1"]);
  await m.dropAll();
});

it("does not use a read made for a dead node that is alive again when the workspace comes here: its new tenure may have written", async () => {
  const directory = new MemoryDirectory();
  await directory.register({ node: "n1", capacity: 100, weight: 100, draining: false, epoch: "e1", sessions: 0 }, 600_000);
  const n1 = await node(directory, "n1");
  await deadNodesWorkspace(n1.storage);
  const held = await directory.assign("wp", "n0", null);
  n1.ownership.start();
  try {
    // read while n0's lease was gone
    expect(await n1.ownership.prepare(["wp"], "n0")).toBe(1);
    // n0 comes back before the margin ends (the takeover is dropped), and creates a session
    await directory.register({ node: "n0", capacity: 100, weight: 100, draining: false, epoch: "e2", sessions: 3 }, 600_000);
    await waitFor("n0 seen alive again", () => n1.view.node("n0")?.alive === true, 5000, 10);
    await n1.storage.create(meta("wp", "s4"));
    // then the workspace moves here, within the read's time to live: the folder is read again
    await directory.assign("wp", "n1", held!.token);
    await waitFor("the workspace adopted", () => n1.manager.list("wp").length > 0, 5000, 10);
    await waitFor("every session of the folder", () => n1.manager.list("wp").length === 4, 5000, 10);
    expect(n1.manager.list("wp").map((v) => v.sessionId)).toEqual(["s1", "s2", "s3", "s4"]);
    expect(n1.prepared.has("wp")).toBe(false);
  } finally {
    n1.ownership.stop();
    n1.view.stop();
    await n1.manager.dropAll();
  }
});

// The session manager keeps its actors by workspace too: listing a workspace and dropping one
// read only that workspace's actors. What they answer must match the registry through creates,
// deletes, restores, reloads and drops.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LaunchQueue } from "../../lib/engines/launch-queue";
import { SessionManager } from "../../lib/sessions/manager";
import { SessionStorage } from "../../lib/sessions/storage";
import { FakeEngine } from "../helpers/fake-engine";

let root: string;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function manager(): SessionManager {
  return new SessionManager({
    storage: new SessionStorage(path.join(root, "sessions")),
    engineFactory: (ctx) => new FakeEngine(ctx),
    launchQueue: new LaunchQueue({ concurrency: 4, staggerMs: 0 }),
    node: "node-a",
    publish: () => undefined,
    logger: quiet,
    startTimeoutMs: 1000,
    fencingToken: () => 1,
    maxSessions: 100,
    retry: { baseMs: 10, maxMs: 20 },
  });
}

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-index-"));
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

const ids = (m: SessionManager, w: string) => m.list(w).map((v) => v.sessionId);

it("lists and drops a workspace's sessions only, through creates, deletes, reloads and restores", async () => {
  const m = manager();
  for (const w of ["wa", "wb"]) for (const s of ["s1", "s2", "s3"]) await m.create({ workspaceId: w, sessionId: s, start: false });
  expect(ids(m, "wa")).toEqual(["s1", "s2", "s3"]);
  expect(ids(m, "none")).toEqual([]);

  await m.remove("wa", "s2");
  expect(ids(m, "wa")).toEqual(["s1", "s3"]);
  expect(ids(m, "wb")).toEqual(["s1", "s2", "s3"]);

  await m.reload("wb", "s1");
  expect(ids(m, "wb").sort()).toEqual(["s1", "s2", "s3"]);

  await m.dropWorkspace("wb");
  expect(ids(m, "wb")).toEqual([]);
  expect(ids(m, "wa")).toEqual(["s1", "s3"]);
  expect(m.all()).toHaveLength(2);

  // a restore brings the dropped workspace back from storage
  await m.restore(["wb"]);
  expect(ids(m, "wb").sort()).toEqual(["s1", "s2", "s3"]);

  await m.dropAll();
  expect(ids(m, "wa")).toEqual([]);
  expect(ids(m, "wb")).toEqual([]);
  expect(m.all()).toHaveLength(0);
});

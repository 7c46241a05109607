import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readdirOrEmpty, SessionStorage, type SessionMeta } from "../../lib/sessions/storage";

let root: string;
let storage: SessionStorage;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-storage-"));
  storage = new SessionStorage(path.join(root, "sessions"));
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

const meta = (over: Partial<SessionMeta> = {}): SessionMeta => ({
  workspaceId: "42",
  sessionId: "main",
  accountId: null,
  desired: "running",
  metadata: {},
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  fencingToken: 5,
  ...over,
});

describe("session storage", () => {
  it("lays sessions out as workspace_<w>/session_<s>/meta.json", async () => {
    await storage.create(meta());
    const raw = JSON.parse(await fs.readFile(path.join(root, "sessions", "workspace_42", "session_main", "meta.json"), "utf8"));
    expect(raw.desired).toBe("running");
    expect(storage.authDir("42", "main")).toBe(path.join(root, "sessions", "workspace_42", "session_main", "auth"));
    expect(await storage.listWorkspaces()).toEqual(["42"]);
    expect((await storage.listSessions("42")).map((m) => m.sessionId)).toEqual(["main"]);
  });

  it("refuses a second create of the same session", async () => {
    await storage.create(meta());
    await expect(storage.create(meta())).rejects.toMatchObject({ type: "SESSION_EXISTS" });
  });

  it("hands the folder over (onFolder) once it is this create's and before meta.json exists; never for an existing session", async () => {
    const seen: Array<{ folder: boolean; meta: boolean }> = [];
    const look = () => {
      const dir = path.join(root, "sessions", "workspace_42", "session_main");
      seen.push({ folder: existsSync(dir), meta: existsSync(path.join(dir, "meta.json")) });
    };
    await storage.create(meta(), look);
    expect(seen).toEqual([{ folder: true, meta: false }]);
    await expect(storage.create(meta(), look)).rejects.toMatchObject({ type: "SESSION_EXISTS" });
    expect(seen).toHaveLength(1);
    // a leftover folder without meta.json (a create that died half-way) is taken over, then handed
    await fs.mkdir(path.join(root, "sessions", "workspace_42", "session_left"));
    seen.length = 0;
    await storage.create(meta({ sessionId: "left" }), () => seen.push({ folder: true, meta: existsSync(path.join(root, "sessions", "workspace_42", "session_left", "meta.json")) }));
    expect(seen).toEqual([{ folder: true, meta: false }]);
    expect((await storage.readMeta("42", "left"))?.sessionId).toBe("left");
  });

  it("refuses meta.json writes that carry an older fencing token", async () => {
    await storage.create(meta({ fencingToken: 7 }));
    await expect(storage.writeMeta(meta({ fencingToken: 6, desired: "stopped" }))).rejects.toMatchObject({ type: "STALE_FENCING_TOKEN" });
    expect((await storage.readMeta("42", "main"))?.desired).toBe("running");
    await storage.writeMeta(meta({ fencingToken: 8, desired: "stopped" }));
    expect((await storage.readMeta("42", "main"))?.desired).toBe("stopped");
  });

  it("writes meta.json atomically, leaving no temp files", async () => {
    await storage.create(meta());
    await Promise.all(Array.from({ length: 20 }, (_, i) => storage.writeMeta(meta({ fencingToken: 5, metadata: { i } }))));
    const files = await fs.readdir(path.join(root, "sessions", "workspace_42", "session_main"));
    expect(files).toEqual(["meta.json"]);
    expect(JSON.parse(await fs.readFile(path.join(root, "sessions", "workspace_42", "session_main", "meta.json"), "utf8")).workspaceId).toBe("42");
  });

  it.each(["..", "../x", "a/b", "", "x".repeat(65), "é", "a b", "%2e%2e", ".", "a\u0000b"])("rejects the id %j before touching any file", async (bad) => {
    expect(() => storage.sessionDir("42", bad)).toThrow(/Invalid sessionId/);
    expect(() => storage.workspaceDir(bad)).toThrow(/Invalid workspaceId/);
    await expect(storage.create(meta({ workspaceId: bad }))).rejects.toMatchObject({ type: "VALIDATION_ERROR" });
    await expect(fs.readdir(root)).resolves.toEqual([]);
  });

  it("removes a session folder and the empty workspace folder, and sweeps interrupted deletes", async () => {
    await storage.create(meta());
    await storage.create(meta({ sessionId: "second" }));
    await storage.remove("42", "main");
    expect((await storage.listSessions("42")).map((m) => m.sessionId)).toEqual(["second"]);
    await fs.mkdir(path.join(root, "sessions", "workspace_42", ".deleted-x-1234"));
    await storage.sweepDeleted();
    expect(await fs.readdir(path.join(root, "sessions", "workspace_42"))).toEqual(["session_second"]);
    await storage.remove("42", "second");
    expect(await storage.listWorkspaces()).toEqual([]);
    await expect(storage.remove("42", "second")).resolves.toBeUndefined();
  });

  it("reads a missing folder, or a file where a folder would be, as empty (backups walk such paths)", async () => {
    expect(await readdirOrEmpty(path.join(root, "nowhere"))).toEqual([]);
    await fs.writeFile(path.join(root, "a-file"), "x");
    expect(await readdirOrEmpty(path.join(root, "a-file"))).toEqual([]);
    expect(await readdirOrEmpty(path.join(root, "a-file", "below"))).toEqual([]);
    await expect(readdirOrEmpty("\u0000")).rejects.toThrow();
  });

  it("loads a workspace as a node takes it: its sessions in creation order, interrupted deletes swept, a corrupt meta.json skipped", async () => {
    await storage.create(meta({ sessionId: "b", createdAt: "2026-01-02T00:00:00.000Z" }));
    await storage.create(meta({ sessionId: "a", createdAt: "2026-01-03T00:00:00.000Z", desired: "stopped" }));
    await storage.create(meta({ sessionId: "c", createdAt: "2026-01-01T00:00:00.000Z" }));
    await fs.mkdir(path.join(root, "sessions", "workspace_42", "session_bad"));
    await fs.writeFile(path.join(root, "sessions", "workspace_42", "session_bad", "meta.json"), "{ not json");
    await fs.mkdir(path.join(root, "sessions", "workspace_42", ".deleted-x-1234", "auth"), { recursive: true });
    const loaded = await storage.loadWorkspace("42");
    expect(loaded.map((m) => [m.sessionId, m.desired])).toEqual([["c", "running"], ["b", "running"], ["a", "stopped"]]);
    expect((await fs.readdir(path.join(root, "sessions", "workspace_42"))).sort()).toEqual(["session_a", "session_b", "session_bad", "session_c"]);
    // listing alone sweeps nothing (the coordinator weighs workspaces other nodes own)
    await fs.mkdir(path.join(root, "sessions", "workspace_42", ".deleted-y-5678"));
    expect((await storage.listSessions("42")).map((m) => m.sessionId)).toEqual(["c", "b", "a"]);
    expect(await fs.readdir(path.join(root, "sessions", "workspace_42"))).toContain(".deleted-y-5678");
    expect(await storage.loadWorkspace("nowhere")).toEqual([]);
  });

  it("ignores a half-created folder without meta.json", async () => {
    await fs.mkdir(path.join(root, "sessions", "workspace_42", "session_main"), { recursive: true });
    expect(await storage.listSessions("42")).toEqual([]);
    await storage.create(meta());
    expect((await storage.listSessions("42")).length).toBe(1);
  });

  it("creates a session in its workspace with one mkdir and no read of a meta.json that cannot exist yet", async () => {
    await storage.create(meta({ sessionId: "first" }));
    const mkdir = jest.spyOn(fs, "mkdir");
    const readFile = jest.spyOn(fs, "readFile");
    try {
      await storage.create(meta({ sessionId: "second", fencingToken: 9 }));
      expect(mkdir.mock.calls.map(([dir]) => dir)).toEqual([storage.sessionDir("42", "second")]);
      expect(readFile).not.toHaveBeenCalled();
    } finally {
      mkdir.mockRestore();
      readFile.mockRestore();
    }
    // durable as before: written through a temp file, nothing else left beside it
    expect(await fs.readdir(storage.sessionDir("42", "second"))).toEqual(["meta.json"]);
    expect((await storage.readMeta("42", "second"))?.fencingToken).toBe(9);
    await expect(storage.create(meta({ sessionId: "second" }))).rejects.toMatchObject({ type: "SESSION_EXISTS" });
  });
});

describe("a session folder removed behind the node's back", () => {
  it("still takes a desired-state write (so the session can be stopped)", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-gone-"));
    try {
      const st = new SessionStorage(path.join(root, "sessions"));
      const meta: SessionMeta = { workspaceId: "w", sessionId: "s", accountId: null, desired: "running", metadata: {}, createdAt: "x", updatedAt: "x", fencingToken: 1 };
      await st.create(meta);
      await fs.rm(path.join(root, "sessions", "workspace_w"), { recursive: true });
      await st.writeMeta({ ...meta, desired: "stopped" });
      expect((await st.readMeta("w", "s"))?.desired).toBe("stopped");
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

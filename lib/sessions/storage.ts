// Session storage layout (DESIGN section 3): `${SESSIONS_DIR}/workspace_${w}/session_${s}/` with
// an atomically written `meta.json` and the engine's `auth/` folder. Ids are checked here again,
// whatever the caller validated, because they become folder names.
import { randomBytes } from "node:crypto";
import { promises as fs, readFileSync, type Dirent } from "node:fs";
import path from "node:path";
import { WafleetError } from "../errors";
import type { OutboxPolicy } from "../outbox/types";
import type { CallPolicy } from "./call-policy";
import type { DesiredState } from "./status";

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === "string" && ID_PATTERN.test(id);
}

export function assertId(kind: "workspaceId" | "sessionId", id: unknown): asserts id is string {
  if (!isValidId(id)) {
    throw new WafleetError("VALIDATION_ERROR", `Invalid ${kind}: expected 1-64 characters of A-Z a-z 0-9 _ -`, [
      { field: kind, message: "expected 1-64 characters of A-Z a-z 0-9 _ -", type: "stringPattern" },
    ]);
  }
}

/** A workspace's folder as read, before any write (peekWorkspace()). */
export interface WorkspaceRead {
  /** Its sessions' meta.json, oldest first. */
  metas: SessionMeta[];
  /** Entries left by interrupted deletes (`.deleted-*`), for sweepLeftovers(). */
  leftovers: string[];
}

export interface SessionMeta {
  workspaceId: string;
  sessionId: string;
  accountId: string | null;
  desired: DesiredState;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** The fencing token of the owner that last wrote this file; writes never go backwards. */
  fencingToken: number;
  /**
   * The engine the session runs on (simulator, wwebjs, baileys), chosen at create; its auth is that
   * engine's, so it follows the session everywhere. Absent (sessions created before engines were
   * per session): the default engine (WA_ENGINE) of the node that runs it.
   */
  engine?: string;
  /** The outbox's pacing policy (PUT .../outbox/policy); absent = the defaults. */
  outboxPolicy?: OutboxPolicy;
  /** Incoming calls: rejected automatically, with an optional reply (PUT .../calls/policy); absent = the default (ring) */
  callPolicy?: CallPolicy;
}

export class SessionStorage {
  constructor(readonly root: string) {}

  workspaceDir(workspaceId: string): string {
    assertId("workspaceId", workspaceId);
    return path.join(this.root, `workspace_${workspaceId}`);
  }

  sessionDir(workspaceId: string, sessionId: string): string {
    assertId("sessionId", sessionId);
    return path.join(this.workspaceDir(workspaceId), `session_${sessionId}`);
  }

  authDir(workspaceId: string, sessionId: string): string {
    return path.join(this.sessionDir(workspaceId, sessionId), "auth");
  }

  /** The session's outbox journal (lib/outbox/journal.ts): it lives and moves with the session. */
  outboxFile(workspaceId: string, sessionId: string): string {
    return path.join(this.sessionDir(workspaceId, sessionId), "outbox.jsonl");
  }

  private metaPath(workspaceId: string, sessionId: string): string {
    return path.join(this.sessionDir(workspaceId, sessionId), "meta.json");
  }

  async readMeta(workspaceId: string, sessionId: string): Promise<SessionMeta | undefined> {
    try {
      const raw = await fs.readFile(this.metaPath(workspaceId, sessionId), "utf8");
      return JSON.parse(raw) as SessionMeta;
    } catch (err: any) {
      if (err?.code === "ENOENT") return undefined;
      throw err;
    }
  }

  /**
   * Creates the session folder and its first meta.json; SESSION_EXISTS if it is already there.
   * A link's one write on the session node's loop: the folder is made with one mkdir (the
   * workspace's folder only when it is missing), and a folder this call made holds no meta.json to
   * read and compare fencing tokens with, so the file is written at once (temp file, fsync, rename,
   * as writeMeta). About six file-system calls where writeMeta's path made eleven; on this machine
   * each is a trip through io_uring or libuv's threads, and they showed in a session node's profile.
   * `onFolder` is called once the session's folder is this create's (made now, or a leftover with
   * no meta.json) and before meta.json is written: the caller may start work that needs the folder
   * but must not be seen before the create is durable.
   */
  async create(meta: SessionMeta, onFolder?: () => void): Promise<void> {
    const dir = this.sessionDir(meta.workspaceId, meta.sessionId);
    const made = await mkdirOnce(dir).catch(async (err: NodeJS.ErrnoException) => {
      if (err?.code !== "ENOENT") throw err;
      // the workspace's first session on this volume
      await fs.mkdir(path.dirname(dir), { recursive: true });
      return mkdirOnce(dir);
    });
    if (made) {
      onFolder?.();
      return this.writeMetaFile(meta);
    }
    // a folder without meta.json is the leftover of a create that died half-way
    if (await this.readMeta(meta.workspaceId, meta.sessionId)) throw new WafleetError("SESSION_EXISTS", undefined, { workspaceId: meta.workspaceId, sessionId: meta.sessionId });
    onFolder?.();
    await this.writeMeta(meta);
  }

  /**
   * Writes meta.json atomically (temp file, fsync, rename). Refuses with STALE_FENCING_TOKEN when
   * the file on disk was written by a newer owner: a node that lost a workspace cannot clobber it.
   */
  async writeMeta(meta: SessionMeta): Promise<void> {
    const file = this.metaPath(meta.workspaceId, meta.sessionId);
    const current = await this.readMeta(meta.workspaceId, meta.sessionId);
    if (current && current.fencingToken > meta.fencingToken) {
      throw new WafleetError("STALE_FENCING_TOKEN", `meta.json was written with fencing token ${current.fencingToken}; this write carries ${meta.fencingToken}`);
    }
    // a session folder removed behind our back (an operator, a restore in progress) must not make
    // the session unstoppable: its desired state is written to a fresh folder
    if (!current) await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await this.writeMetaFile(meta);
  }

  /** meta.json through a temp file: written, fsynced, renamed over the old one. */
  private async writeMetaFile(meta: SessionMeta): Promise<void> {
    const file = this.metaPath(meta.workspaceId, meta.sessionId);
    const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
    const fh = await fs.open(tmp, "w", 0o600);
    try {
      await fh.writeFile(JSON.stringify(meta, null, 2));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  }

  async listWorkspaces(): Promise<string[]> {
    const entries = await readdirOrEmpty(this.root);
    return entries
      .filter((e) => e.isDirectory() && e.name.startsWith("workspace_"))
      .map((e) => e.name.slice("workspace_".length))
      .filter(isValidId)
      .sort();
  }

  /** How many sessions of a workspace want to run (for placement; reads every meta.json). */
  async runningCount(workspaceId: string): Promise<number> {
    return (await this.listSessions(workspaceId)).filter((m) => m.desired === "running").length;
  }

  /** What a workspace's running sessions weigh, each by its engine's cost (for placement). */
  async runningLoad(workspaceId: string, cost: (engine: string | undefined) => number): Promise<number> {
    let sum = 0;
    for (const m of await this.listSessions(workspaceId)) if (m.desired === "running") sum += cost(m.engine);
    return Math.round(sum * 10000) / 10000;
  }

  /** Sessions of a workspace that have a meta.json. */
  async listSessions(workspaceId: string): Promise<SessionMeta[]> {
    return this.readMetas(workspaceId, await readdirOrEmpty(this.workspaceDir(workspaceId)));
  }

  /**
   * A workspace's sessions as a node takes it (a failover, a move, a start): listSessions() and
   * sweepDeleted() from one listing of its folder.
   */
  async loadWorkspace(workspaceId: string): Promise<SessionMeta[]> {
    const read = await this.peekWorkspace(workspaceId);
    await this.sweepLeftovers(workspaceId, read.leftovers);
    return read.metas;
  }

  /**
   * loadWorkspace() without its writes: the sessions, and the leftovers of interrupted deletes for
   * sweepLeftovers() to remove once this node owns the workspace. What a node planned to take a dead
   * node's workspace reads while the takeover margin runs.
   */
  async peekWorkspace(workspaceId: string): Promise<WorkspaceRead> {
    const entries = await readdirOrEmpty(this.workspaceDir(workspaceId));
    return { metas: this.readMetas(workspaceId, entries), leftovers: entries.filter((e) => e.name.startsWith(".deleted-")).map((e) => e.name) };
  }

  /** Removes leftovers of interrupted deletes that peekWorkspace() listed. */
  async sweepLeftovers(workspaceId: string, leftovers: readonly string[]): Promise<void> {
    const dir = this.workspaceDir(workspaceId);
    for (const name of leftovers) if (name.startsWith(".deleted-")) await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }

  private readMetas(workspaceId: string, entries: Dirent[]): SessionMeta[] {
    const ids = entries.filter((e) => e.isDirectory() && e.name.startsWith("session_")).map((e) => e.name.slice("session_".length)).filter(isValidId);
    // A meta.json is a few hundred bytes: the workspace's are read synchronously, a handful between
    // two awaits. fs.promises.readFile is an open, a stat, a read and a close, each a trip through
    // libuv's file threads and back to the event loop: about five times the CPU of a synchronous
    // read (150-170 against 30-34 ms per 1,300 files here) and, on a busy machine, a wait for the
    // loop at every trip; a failover's new owners read hundreds of workspaces while their first
    // engines start on the same loop. (An unreadable or corrupt meta.json is skipped, as before.)
    const metas: SessionMeta[] = [];
    for (const id of ids) {
      const meta = this.readMetaNow(workspaceId, id);
      if (meta) metas.push(meta);
    }
    return metas.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.sessionId.localeCompare(b.sessionId));
  }

  private readMetaNow(workspaceId: string, sessionId: string): SessionMeta | undefined {
    try {
      return JSON.parse(readFileSync(this.metaPath(workspaceId, sessionId), "utf8")) as SessionMeta;
    } catch {
      return undefined;
    }
  }

  /** Removes a session's folder: renamed aside first, so a crash never leaves half a session. */
  async remove(workspaceId: string, sessionId: string): Promise<void> {
    const dir = this.sessionDir(workspaceId, sessionId);
    const trash = path.join(path.dirname(dir), `.deleted-${sessionId}-${randomBytes(4).toString("hex")}`);
    try {
      await fs.rename(dir, trash);
    } catch (err: any) {
      if (err?.code === "ENOENT") return;
      throw err;
    }
    await fs.rm(trash, { recursive: true, force: true });
    // drop the workspace folder once its last session is gone
    await fs.rmdir(path.dirname(dir)).catch(() => undefined);
  }

  /** Whether the session has credentials (anything in its auth folder). */
  async hasAuth(workspaceId: string, sessionId: string): Promise<boolean> {
    return (await readdirOrEmpty(this.authDir(workspaceId, sessionId))).length > 0;
  }

  async removeAuth(workspaceId: string, sessionId: string): Promise<void> {
    await fs.rm(this.authDir(workspaceId, sessionId), { recursive: true, force: true });
  }

  /** Leftovers of deletes interrupted by a crash. */
  async sweepDeleted(workspaceIds?: string[]): Promise<void> {
    for (const w of workspaceIds ?? (await this.listWorkspaces())) {
      const dir = this.workspaceDir(w);
      for (const e of await readdirOrEmpty(dir)) {
        if (e.name.startsWith(".deleted-")) await fs.rm(path.join(dir, e.name), { recursive: true, force: true });
      }
    }
  }
}

/** mkdir of one folder: true when this call made it, false when it was there already. */
async function mkdirOnce(dir: string): Promise<boolean> {
  try {
    await fs.mkdir(dir);
    return true;
  } catch (err: any) {
    if (err?.code === "EEXIST") return false;
    throw err;
  }
}

/** A folder's entries, or none when it does not exist (or a file stands where it would be). */
export async function readdirOrEmpty(dir: string) {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err: any) {
    if (err?.code === "ENOENT" || err?.code === "ENOTDIR") return [];
    throw err;
  }
}

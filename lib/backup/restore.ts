// Restore: nothing is touched before every selected archive has been downloaded, matched against
// the manifest (size + SHA-256) and unpacked into a staging folder beside the live ones. Then, per
// session in the archive and only those: its owner stops it (through the sessions actions), its
// folder is swapped for the restored one (rename aside, rename in), and it is started again if
// the snapshot says it should run. Sessions the snapshot does not hold are never touched.
import { randomBytes } from "node:crypto";
import { createWriteStream, createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { WafleetError } from "../errors";
import type { SessionMeta } from "../sessions/storage";
import { DigestMeter, readArchive } from "./archive";
import type { BlobStore } from "./blob-store";
import type { SnapshotCatalog } from "./catalog";
import { archiveAad, checkManifestMac, openArchive, type BackupKeyring } from "./encryption";
import { snapshotDir, type ManifestArchive } from "./manifest";

/** What restore needs from the owners of the sessions (the sessions.* actions behind it). */
export interface SessionControl {
  /** The owner's sessions of a workspace ([] when nobody owns it now). */
  list(workspaceId: string): Promise<Array<{ sessionId: string; status: string; desired: string }>>;
  stop(workspaceId: string, sessionId: string): Promise<unknown>;
  start(workspaceId: string, sessionId: string): Promise<unknown>;
  /** The owner reads the session from its (restored) folder and resumes it. */
  reload?(workspaceId: string, sessionId: string): Promise<unknown>;
}

export interface RestoreOptions {
  store: BlobStore;
  catalog: SnapshotCatalog;
  sessionsDir: string;
  control: SessionControl;
  logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
  /** The most bytes the archives of one restore may unpack to (a gzip bomb is refused). Default 16 GiB. */
  maxExtractBytes?: number;
  /** BACKUP_ENCRYPTION_KEY: set, only snapshots sealed and signed with one of its keys are restored. */
  keyring?: BackupKeyring;
}

export const DEFAULT_MAX_EXTRACT_BYTES = 16 * 1024 ** 3;

/** `root` joined with `parts`, refused unless it stays strictly inside root (ids are checked; this is the backstop). */
export function within(root: string, ...parts: string[]): string {
  const base = path.resolve(root);
  const p = path.resolve(base, ...parts);
  if (!p.startsWith(base + path.sep)) throw new WafleetError("SNAPSHOT_INVALID", `A restore path leaves ${base}`, {});
  return p;
}

/** Passes bytes on until more than `limit` have come, then fails with `why`. */
class ByteLimit extends Transform {
  private seen = 0;

  constructor(
    private readonly limit: number,
    private readonly why: () => string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) cb(new Error(this.why()));
    else cb(null, chunk);
  }
}

export type SessionRestoreOutcome =
  /** Owner stopped it, folder swapped, owner started it again. */
  | "restarted"
  /** Folder swapped; the snapshot says stopped, so it stays stopped. */
  | "restored-stopped"
  /** Folder placed; no owner has the session loaded: it comes back when its workspace is adopted. */
  | "awaiting-owner"
  /** The owner could not be asked (stop or start failed); `error` says why. Rerun the restore. */
  | "failed";

export interface RestoreReport {
  snapshot: string;
  workspaces: Array<{ workspaceId: string; sessions: Array<{ sessionId: string; outcome: SessionRestoreOutcome; error?: string }> }>;
  durationMs: number;
}

export async function restoreSnapshot(opts: RestoreOptions, snapshotId: string, workspaceId?: string): Promise<RestoreReport> {
  const t0 = performance.now();
  const manifest = await opts.catalog.manifest(snapshotId);
  checkSealed(manifest, opts.keyring, snapshotId);
  const archives = workspaceId ? manifest.archives.filter((a) => a.workspaceId === workspaceId) : manifest.archives;
  if (workspaceId && !archives.length) throw new WafleetError("SNAPSHOT_NOT_FOUND", `Snapshot ${snapshotId} holds no workspace ${workspaceId}`, { snapshot: snapshotId, workspaceId });

  // staged inside SESSIONS_DIR so the final renames stay on one filesystem (atomic)
  await fs.mkdir(opts.sessionsDir, { recursive: true });
  await sweepStaleStaging(opts.sessionsDir);
  const staging = within(opts.sessionsDir, `.restore-${randomBytes(6).toString("hex")}`);
  await fs.mkdir(staging, { mode: 0o700 });
  try {
    const staged: Array<{ archive: ManifestArchive; dir: string; sessions: string[] }> = [];
    // one budget for the whole restore: every archive's unpacked bytes count against it
    const budget = { left: opts.maxExtractBytes ?? DEFAULT_MAX_EXTRACT_BYTES, cap: opts.maxExtractBytes ?? DEFAULT_MAX_EXTRACT_BYTES };
    for (const a of archives) staged.push(await stageArchive(opts, snapshotId, a, staging, budget));

    const report: RestoreReport = { snapshot: snapshotId, workspaces: [], durationMs: 0 };
    for (const s of staged) report.workspaces.push(await swapWorkspace(opts, s.archive, s.dir, s.sessions));
    report.durationMs = Math.round(performance.now() - t0);
    return report;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Downloads, checks and unpacks one archive under `staging`; SNAPSHOT_INVALID if anything is off. */
async function stageArchive(opts: RestoreOptions, snapshotId: string, a: ManifestArchive, staging: string, budget: { left: number; cap: number }) {
  const invalid = (why: string) => new WafleetError("SNAPSHOT_INVALID", `Archive of workspace ${a.workspaceId} in snapshot ${snapshotId}: ${why}`, { snapshot: snapshotId, workspaceId: a.workspaceId });
  // the id was checked with the manifest; the path is checked again, and the file must be new
  const download = within(staging, `${a.workspaceId}.tar.gz`);
  const meter = new DigestMeter();
  try {
    // no more than the manifest's size is written, whatever the bucket serves
    await pipeline(await opts.store.get(`${snapshotDir(snapshotId)}/${a.name}`), new ByteLimit(a.size, () => `the object holds more than the ${a.size} bytes the manifest says`), meter, createWriteStream(download, { mode: 0o600, flags: "wx" }));
  } catch (err) {
    if (err instanceof WafleetError) throw err;
    throw invalid((err as Error).message);
  }
  if (meter.bytes !== a.size || meter.sha256 !== a.sha256) throw invalid(`got ${meter.bytes} bytes with SHA-256 ${meter.sha256}; the manifest says ${a.size} bytes, ${a.sha256}`);

  const dir = within(staging, `workspace_${a.workspaceId}`);
  const sessions = new Set<string>();
  try {
    const raw = createReadStream(download);
    // a sealed archive is opened on the way: its tag is checked at the end, before anything is swapped in
    const plain = a.encryption ? raw.pipe(openArchive(opts.keyring!, a.encryption, archiveAad(snapshotId, a.workspaceId))) : raw;
    if (plain !== raw) raw.on("error", (err) => plain.destroy(err));
    const { files } = await readArchive(plain, async (e) => {
      const target = within(dir, `session_${e.sessionId}`, ...e.rel.split("/"));
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      const limit = new ByteLimit(budget.left, () => `it unpacks to more than ${budget.cap} bytes (the restore's cap)`);
      await pipeline(e.body, limit, createWriteStream(target, { mode: e.mode || 0o600, flags: "wx" }));
      budget.left -= (await fs.stat(target)).size;
      sessions.add(e.sessionId);
    });
    if (files !== a.files) throw new Error(`${files} files, the manifest says ${a.files}`);
  } catch (err) {
    if (err instanceof WafleetError) throw err;
    throw invalid((err as Error).message);
  }
  for (const s of sessions) {
    const meta = await readMeta(path.join(dir, `session_${s}`, "meta.json"));
    if (!meta || meta.workspaceId !== a.workspaceId || meta.sessionId !== s) throw invalid(`session ${s} has no valid meta.json`);
  }
  await fs.rm(download, { force: true });
  return { archive: a, dir, sessions: [...sessions].sort() };
}

async function swapWorkspace(opts: RestoreOptions, a: ManifestArchive, stagedDir: string, sessionIds: string[]) {
  const w = a.workspaceId;
  const live = new Map((await opts.control.list(w)).map((v) => [v.sessionId, v]));
  const wsDir = within(opts.sessionsDir, `workspace_${w}`);
  await fs.mkdir(wsDir, { recursive: true });
  const out: RestoreReport["workspaces"][number] = { workspaceId: w, sessions: [] };
  for (const s of sessionIds) {
    const staged = within(stagedDir, `session_${s}`);
    const target = within(wsDir, `session_${s}`);
    const restored = (await readMeta(path.join(staged, "meta.json")))!;
    const view = live.get(s);
    try {
      if (view) {
        if (await readMeta(path.join(target, "meta.json"))) {
          // the owner's engine holds the device: it stops before its folder changes
          if (view.status !== "STOPPED" || view.desired === "running") await opts.control.stop(w, s);
          await swapIn(staged, target, restored);
        } else {
          // the folder is gone, so the owner could not record a stop (meta.json has nowhere to go):
          // place the folder first, then stop the engine still running on the lost credentials
          await swapIn(staged, target, restored);
          if (view.status !== "STOPPED" || view.desired === "running") await opts.control.stop(w, s);
        }
        if (restored.desired === "running") {
          await opts.control.start(w, s);
          out.sessions.push({ sessionId: s, outcome: "restarted" });
        } else out.sessions.push({ sessionId: s, outcome: "restored-stopped" });
      } else {
        await swapIn(staged, target, restored);
        // the owner does not hold it (deleted after the snapshot): have it read the folder now
        const reloaded = opts.control.reload ? await opts.control.reload(w, s).then(() => true, () => false) : false;
        out.sessions.push({ sessionId: s, outcome: reloaded ? (restored.desired === "running" ? "restarted" : "restored-stopped") : "awaiting-owner" });
      }
    } catch (err) {
      opts.logger.warn(`restore of ${w}/${s} failed: ${(err as Error).message}`);
      out.sessions.push({ sessionId: s, outcome: "failed", error: (err as Error).message });
    }
  }
  return out;
}

/**
 * Replaces `target` with `staged`: the old folder is renamed aside (under the `.deleted-` name the
 * sessions storage sweeps), the staged one renamed in, the old one removed. meta.json keeps the
 * fencing token already on disk, so the current owner's writes are neither refused nor outranked.
 */
async function swapIn(staged: string, target: string, restored: SessionMeta): Promise<void> {
  const current = await readMeta(path.join(target, "meta.json"));
  const meta: SessionMeta = { ...restored, fencingToken: current?.fencingToken ?? 0 };
  await fs.writeFile(path.join(staged, "meta.json"), JSON.stringify(meta, null, 2), { mode: 0o600 });
  const aside = path.join(path.dirname(target), `.deleted-${path.basename(target).slice(8)}-${randomBytes(4).toString("hex")}`);
  const had = await fs.rename(target, aside).then(
    () => true,
    (err: any) => {
      if (err?.code === "ENOENT") return false;
      throw err;
    },
  );
  await fs.rename(staged, target);
  if (had) await fs.rm(aside, { recursive: true, force: true });
}

/**
 * With BACKUP_ENCRYPTION_KEY set, a snapshot must be signed by one of its keys (so nothing in the
 * manifest was altered) and every archive sealed; without it, a sealed snapshot cannot be opened.
 */
export function checkSealed(manifest: { archives: ManifestArchive[] } & Record<string, any>, keyring: BackupKeyring | undefined, snapshotId: string): void {
  const invalid = (why: string) => new WafleetError("SNAPSHOT_INVALID", `Snapshot ${snapshotId}: ${why}`, { snapshot: snapshotId });
  if (!keyring) {
    if (manifest.archives.some((a) => a.encryption)) throw invalid("its archives are encrypted; set BACKUP_ENCRYPTION_KEY with the key that sealed them");
    return;
  }
  try {
    checkManifestMac(keyring, manifest);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  const open = manifest.archives.find((a) => !a.encryption);
  if (open) throw invalid(`the archive of workspace ${open.workspaceId} is not encrypted, and BACKUP_ENCRYPTION_KEY is set`);
  const unknown = manifest.archives.find((a) => !keyring.byId(a.encryption!.keyId));
  if (unknown) throw invalid(`sealed with key ${unknown.encryption!.keyId}, which BACKUP_ENCRYPTION_KEY does not hold`);
}

/** Staging folders of restores that died (crash, kill) more than an hour ago. */
async function sweepStaleStaging(sessionsDir: string): Promise<void> {
  const cutoff = Date.now() - 3_600_000;
  for (const e of await fs.readdir(sessionsDir, { withFileTypes: true })) {
    if (!e.isDirectory() || !e.name.startsWith(".restore-")) continue;
    const p = path.join(sessionsDir, e.name);
    const st = await fs.stat(p).catch(() => undefined);
    if (st && st.mtimeMs < cutoff) await fs.rm(p, { recursive: true, force: true });
  }
}

async function readMeta(file: string): Promise<SessionMeta | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as SessionMeta;
  } catch {
    return undefined;
  }
}

// A session's restore set: the files it needs to come back without a QR (DESIGN section 3) and
// nothing else. meta.json always; for the simulator engine its credentials (`auth/creds.json`);
// for wwebjs the profile's `Default/IndexedDB` and `Default/Local Storage` under
// `auth/session-<id>/` (LocalAuth layout); for baileys wafleet's own store in `auth/baileys/`
// (`creds.json` and one `keys-<type>.json` per Signal key type). Caches, GPU data, Singleton* locks
// and temp files are never taken.
//
// Live profiles are captured with copy-and-recheck: every file is read, then the whole set is
// listed and stat'ed again; files that changed (size, mtime or inode) or appeared are re-read,
// until one pass finds no change. The copy is then the set as it stood at that last pass. A
// profile that keeps changing for `maxRounds` passes is kept as crash-consistent (LevelDB recovers
// from that, like after a power cut) and flagged so in the manifest.
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, promises as fs, type Stats } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { readdirOrEmpty } from "../sessions/storage";

export type SessionEngineKind = "simulator" | "wwebjs" | "baileys" | "none";

/** Where one captured file's bytes are: in memory (small) or in a staging file (large). */
export interface CapturedFile {
  /** Path inside the session folder, `/`-separated (e.g. `auth/creds.json`). */
  rel: string;
  size: number;
  mtimeMs: number;
  mode: number;
  data?: Buffer;
  staged?: string;
}

export interface CapturedSession {
  sessionId: string;
  engine: SessionEngineKind;
  files: CapturedFile[];
  bytes: number;
  /** "stable": a pass saw no change after the copy; "crash": the profile kept changing. */
  consistency: "stable" | "crash";
  rounds: number;
}

export interface CaptureOptions {
  /** Files up to this size are held in memory while the archive is written. Default 1 MiB. */
  inMemoryMax?: number;
  /** Where larger files are staged. Default os.tmpdir(). */
  stagingDir?: string;
  /** Copy passes before settling for crash-consistency. Default 4. */
  maxRounds?: number;
  /** Called after each file is copied (tests use it to change a profile in the middle of a copy). */
  afterCopy?: (rel: string) => Promise<void> | void;
}

const SIM_CREDS = "auth/creds.json";
const PROFILE_PARTS = ["IndexedDB", "Local Storage"];
const BAILEYS_DIR = "auth/baileys";
const BAILEYS_FILE = /^auth\/baileys\/(creds|keys-[a-z0-9-]{1,64})\.json$/;
/** The baileys engine's store of chats, messages and contacts (lib/engines/baileys/store.ts) */
const BAILEYS_STORE_DIR = "auth/store";
const BAILEYS_STORE_FILE = /^auth\/store\/((chats|contacts|labels)\.json|messages\/[0-9a-f]{24}\.json)$/;

/** Whether a path inside a session folder belongs to the restore set. */
export function inRestoreSet(rel: string): boolean {
  if (rel === "meta.json" || rel === SIM_CREDS || BAILEYS_FILE.test(rel) || BAILEYS_STORE_FILE.test(rel)) return true;
  const m = /^auth\/session-[A-Za-z0-9_-]{1,64}\/Default\/(IndexedDB|Local Storage)\/(.+)$/.exec(rel);
  if (!m) return false;
  const name = path.posix.basename(rel);
  return !name.startsWith("Singleton") && !name.endsWith(".tmp") && !m[2]!.split("/").includes("..");
}

interface Listed {
  rel: string;
  abs: string;
  st: Stats;
}

const same = (a: Stats, b: Stats) => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

/** The restore set's files as they are now (regular files only; symlinks are never followed). */
async function listRestoreSet(sessionDir: string): Promise<{ engine: SessionEngineKind; files: Listed[] }> {
  const files: Listed[] = [];
  const add = async (rel: string) => {
    const abs = path.join(sessionDir, ...rel.split("/"));
    const st = await fs.lstat(abs).catch(() => undefined);
    if (st?.isFile()) files.push({ rel, abs, st });
  };
  await add("meta.json");
  await add(SIM_CREDS);
  let engine: SessionEngineKind = files.some((f) => f.rel === SIM_CREDS) ? "simulator" : "none";
  // the baileys engine's store: its creds and keys (each file replaced whole; together they may
  // change between two reads, so they are checked again like a profile)
  for (const e of await readdirOrEmpty(path.join(sessionDir, ...BAILEYS_DIR.split("/")))) {
    if (e.isFile() && BAILEYS_FILE.test(`${BAILEYS_DIR}/${e.name}`)) await add(`${BAILEYS_DIR}/${e.name}`);
  }
  if (files.some((f) => f.rel === `${BAILEYS_DIR}/creds.json`)) engine = "baileys";
  // and its chats, messages and contacts (files replaced whole, like the keys)
  for (const sub of [BAILEYS_STORE_DIR, `${BAILEYS_STORE_DIR}/messages`]) {
    for (const e of await readdirOrEmpty(path.join(sessionDir, ...sub.split("/")))) {
      if (e.isFile() && BAILEYS_STORE_FILE.test(`${sub}/${e.name}`)) await add(`${sub}/${e.name}`);
    }
  }
  const auth = path.join(sessionDir, "auth");
  for (const e of await readdirOrEmpty(auth)) {
    if (!e.isDirectory() || !/^session-[A-Za-z0-9_-]{1,64}$/.test(e.name)) continue;
    // a LocalAuth profile: whatsapp-web.js's engine, whatever the simulator check said
    if (await exists(path.join(auth, e.name, "Default"))) engine = "wwebjs";
    for (const part of PROFILE_PARTS) await walk(path.join(auth, e.name, "Default", part), `auth/${e.name}/Default/${part}`, files);
  }
  return { engine, files: files.filter((f) => inRestoreSet(f.rel)) };
}

async function walk(dir: string, rel: string, out: Listed[]): Promise<void> {
  for (const e of await readdirOrEmpty(dir)) {
    const abs = path.join(dir, e.name);
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) await walk(abs, r, out);
    else if (e.isFile()) {
      const st = await fs.lstat(abs).catch(() => undefined);
      if (st?.isFile()) out.push({ rel: r, abs, st });
    }
  }
}

/**
 * Copies a session's restore set consistently (see the module comment). Large files go to a
 * staging folder; call release() on the result once it is archived.
 */
export async function captureSession(sessionDir: string, sessionId: string, opts: CaptureOptions = {}): Promise<CapturedSession> {
  const inMemoryMax = opts.inMemoryMax ?? 1024 * 1024;
  const maxRounds = opts.maxRounds ?? 4;
  const stagingRoot = opts.stagingDir ?? os.tmpdir();
  const copies = new Map<string, CapturedFile & { st: Stats }>();
  let engine: SessionEngineKind = "none";
  let rounds = 0;
  let stable = false;
  try {
    while (rounds < maxRounds && !stable) {
      rounds++;
      const listed = await listRestoreSet(sessionDir);
      engine = listed.engine;
      // meta.json and the simulator's credentials are each replaced whole (temp file + rename), so
      // one read of each is a consistent copy; a LevelDB profile needs a second look
      stable = rounds > 1 || !listed.files.some((f) => f.rel.startsWith("auth/session-") || f.rel.startsWith(`${BAILEYS_DIR}/`));
      const present = new Set(listed.files.map((f) => f.rel));
      for (const rel of [...copies.keys()]) {
        if (!present.has(rel)) {
          // deleted since the last pass
          await dropStaged(copies.get(rel)!);
          copies.delete(rel);
          stable = false;
        }
      }
      const firstPass = rounds === 1;
      for (const f of listed.files) {
        const prev = copies.get(f.rel);
        if (prev && same(prev.st, f.st)) continue;
        if (!firstPass) stable = false;
        if (prev) await dropStaged(prev);
        const copy = await copyFile(f, inMemoryMax, stagingRoot);
        if (copy) copies.set(f.rel, copy);
        else copies.delete(f.rel);
        await opts.afterCopy?.(f.rel);
      }
    }
  } catch (err) {
    for (const c of copies.values()) await dropStaged(c);
    throw err;
  }
  const files = [...copies.values()].map(({ st: _st, ...c }) => c).sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { sessionId, engine, files, bytes: files.reduce((n, f) => n + f.size, 0), consistency: stable ? "stable" : "crash", rounds };
}

/** Deletes the staging files of a captured session. */
export async function releaseCapture(c: CapturedSession): Promise<void> {
  for (const f of c.files) await dropStaged(f);
}

/** One file's bytes with the stat they belong to; re-read while the file changes under the read. */
async function copyFile(f: Listed, inMemoryMax: number, stagingRoot: string): Promise<(CapturedFile & { st: Stats }) | undefined> {
  let before = f.st;
  for (let attempt = 0; attempt < 3; attempt++) {
    let data: Buffer | undefined;
    let staged: string | undefined;
    try {
      if (before.size <= inMemoryMax) data = await fs.readFile(f.abs);
      else {
        staged = path.join(stagingRoot, `wafleet-backup-${randomBytes(8).toString("hex")}`);
        await pipeline(createReadStream(f.abs), createWriteStream(staged, { mode: 0o600 }));
      }
    } catch (err: any) {
      if (staged) await fs.rm(staged, { force: true });
      if (err?.code === "ENOENT") return undefined;
      throw err;
    }
    const after = await fs.lstat(f.abs).catch(() => undefined);
    const size = data ? data.length : staged ? (await fs.stat(staged)).size : 0;
    if (after && same(before, after) && size === after.size) return { rel: f.rel, size, mtimeMs: after.mtimeMs, mode: after.mode & 0o777, data, staged, st: after };
    if (staged) await fs.rm(staged, { force: true });
    if (!after?.isFile()) return undefined;
    before = after;
  }
  // still changing after three reads: keep the last read as is; the set pass decides consistency
  const st = await fs.lstat(f.abs);
  const data = st.size <= inMemoryMax ? await fs.readFile(f.abs) : undefined;
  if (data) return { rel: f.rel, size: data.length, mtimeMs: st.mtimeMs, mode: st.mode & 0o777, data, st: { ...st, mtimeMs: -1 } as Stats };
  const staged = path.join(stagingRoot, `wafleet-backup-${randomBytes(8).toString("hex")}`);
  await pipeline(createReadStream(f.abs), createWriteStream(staged, { mode: 0o600 }));
  return { rel: f.rel, size: (await fs.stat(staged)).size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777, staged, st: { ...st, mtimeMs: -1 } as Stats };
}

async function dropStaged(f: CapturedFile): Promise<void> {
  if (f.staged) await fs.rm(f.staged, { force: true });
  f.staged = undefined;
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

// One embedded process per DATA_DIR. In a cluster the directory's leases keep a session on one node;
// embedded mode has no directory to ask, so two `npm start` on the same DATA_DIR would each run every
// session (a conflict at WhatsApp, two writers of meta.json, auth/ and the journals). The lock is a
// proper-lockfile lock (a directory made atomically, its mtime refreshed while held, stale when not
// refreshed: works on local and network file systems), plus an owner file naming the holder's pid and
// host: a holder that died on this host (kill -9, a crash, a container restarted with the same
// hostname and pid) is taken over at once, a live one on this host is refused at once, and one on
// another host is waited for until its lock goes stale.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";

export const DATA_DIR_LOCKED = "DATA_DIR_LOCKED";

export class DataDirLockedError extends Error {
  readonly code = DATA_DIR_LOCKED;
  constructor(
    message: string,
    readonly holder?: LockOwner,
  ) {
    super(message);
    this.name = "DataDirLockedError";
  }
}

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

export interface DataDirLockOptions {
  /** A lock not refreshed for this long is taken over (ms, at least 2000). Default 10000. */
  staleMs?: number;
  /** How long to wait for a holder on another host to go stale before giving up (ms). Default staleMs + 2000. */
  waitMs?: number;
  /** Called when the lock was lost while held (its refresh failed past staleMs, or another process took it). */
  onCompromised: (err: Error) => void;
}

export interface DataDirLock {
  readonly lockPath: string;
  release(): Promise<void>;
}

const LOCK_NAME = "wafleet.lock";
const OWNER_NAME = "wafleet.owner.json";

/** Takes DATA_DIR for this process or throws DataDirLockedError naming the holder. */
export async function lockDataDir(dataDir: string, opts: DataDirLockOptions): Promise<DataDirLock> {
  await fs.mkdir(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, LOCK_NAME);
  const ownerPath = path.join(dataDir, OWNER_NAME);
  const staleMs = Math.max(2000, opts.staleMs ?? 10000);
  const waitMs = opts.waitMs ?? staleMs + 2000;
  const me: LockOwner = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  const attempt = () => lockfile.lock(dataDir, { lockfilePath: lockPath, stale: staleMs, realpath: false, onCompromised: opts.onCompromised });

  let release: () => Promise<void>;
  try {
    release = await attempt();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw err;
    const holder = await readOwner(ownerPath);
    if (holder && holder.host === me.host && (holder.pid === me.pid || !alive(holder.pid))) {
      // the holder died on this host: its lock can never be refreshed again, take it now
      await fs.rm(lockPath, { recursive: true, force: true });
      release = await attempt().catch((e: unknown) => {
        throw lockedError(dataDir, e, holder);
      });
    } else if (holder && holder.host === me.host) {
      // a live holder on this host refreshes its lock: refuse now rather than wait for nothing
      throw lockedError(dataDir, err, holder);
    } else {
      // a holder on another host (a volume moved between machines), or one that has not named itself
      // yet: wait for it to go stale, which proper-lockfile's retries notice
      const retries = Math.max(1, Math.ceil(waitMs / 500));
      release = await lockfile
        .lock(dataDir, { lockfilePath: lockPath, stale: staleMs, realpath: false, onCompromised: opts.onCompromised, retries: { retries, minTimeout: 500, maxTimeout: 500, factor: 1 } })
        .catch((e) => {
          throw lockedError(dataDir, e, holder);
        });
    }
  }
  await writeOwner(ownerPath, me);
  return {
    lockPath,
    async release() {
      await fs.rm(ownerPath, { force: true }).catch(() => undefined);
      await release().catch(() => undefined);
    },
  };
}

function lockedError(dataDir: string, err: unknown, holder: LockOwner | undefined): Error {
  if ((err as NodeJS.ErrnoException)?.code !== "ELOCKED") return err as Error;
  const who = holder ? `process ${holder.pid} on ${holder.host} (since ${holder.startedAt})` : "another process";
  return new DataDirLockedError(`${DATA_DIR_LOCKED}: DATA_DIR ${dataDir} is in use by ${who}; one embedded wafleet per DATA_DIR (stop it, or give this one its own DATA_DIR)`, holder);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const v = JSON.parse(await fs.readFile(file, "utf8"));
    if (Number.isInteger(v?.pid) && v.pid > 0 && typeof v.host === "string") return { pid: v.pid, host: v.host, startedAt: String(v.startedAt ?? "") };
  } catch {
    // absent or torn: the holder is unknown, so it is waited for like one on another host
  }
  return undefined;
}

async function writeOwner(file: string, owner: LockOwner): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const h = await fs.open(tmp, "w");
  try {
    await h.writeFile(JSON.stringify(owner));
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, file);
}

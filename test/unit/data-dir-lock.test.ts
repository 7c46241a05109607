// The DATA_DIR lock of embedded mode: the holder is named, a holder that died on this host is taken
// over at once, a live one is refused, and one on another host is taken over only once stale.
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DATA_DIR_LOCKED, DataDirLockedError, lockDataDir } from "../../lib/sessions/data-dir-lock";

let dir: string;
const compromised: Error[] = [];
const opts = { onCompromised: (err: Error) => compromised.push(err) };

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-lock-"));
  compromised.length = 0;
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A lock as another process left it: the lock directory (fresh unless aged) and its owner file. */
async function foreignLock(owner: { pid: number; host: string }, ageMs = 0): Promise<void> {
  const lock = path.join(dir, "wafleet.lock");
  await fs.mkdir(lock);
  const t = new Date(Date.now() - ageMs);
  await fs.utimes(lock, t, t);
  await fs.writeFile(path.join(dir, "wafleet.owner.json"), JSON.stringify({ ...owner, startedAt: "2026-11-30T00:00:00.000Z" }));
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((r) => child.once("exit", r));
  return child.pid!;
}

describe("lockDataDir", () => {
  it("takes a free DATA_DIR, names its holder and releases it", async () => {
    const lock = await lockDataDir(dir, opts);
    const owner = JSON.parse(await fs.readFile(path.join(dir, "wafleet.owner.json"), "utf8"));
    expect(owner).toMatchObject({ pid: process.pid, host: os.hostname() });
    expect((await fs.stat(lock.lockPath)).isDirectory()).toBe(true);
    await lock.release();
    await expect(fs.stat(lock.lockPath)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(fs.stat(path.join(dir, "wafleet.owner.json"))).rejects.toMatchObject({ code: "ENOENT" });
    // and it can be taken again
    await (await lockDataDir(dir, opts)).release();
  });

  it("refuses a DATA_DIR held by a live process on this host, naming it", async () => {
    const holder = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await foreignLock({ pid: holder.pid!, host: os.hostname() });
      // at once: a live holder on this host is not waited for
      const err = await lockDataDir(dir, { ...opts, waitMs: 60_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect(err.code).toBe(DATA_DIR_LOCKED);
      expect(err.message).toContain(`process ${holder.pid} on ${os.hostname()}`);
      // the holder's lock is untouched
      expect(JSON.parse(await fs.readFile(path.join(dir, "wafleet.owner.json"), "utf8")).pid).toBe(holder.pid);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("takes over at once from a holder that died on this host (kill -9), though its lock is fresh", async () => {
    await foreignLock({ pid: await deadPid(), host: os.hostname() });
    // waitMs 0: no waiting for staleness, the dead pid alone allows the takeover
    const lock = await lockDataDir(dir, { ...opts, waitMs: 0 });
    expect(JSON.parse(await fs.readFile(path.join(dir, "wafleet.owner.json"), "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("waits for a holder on another host and refuses while its lock is fresh", async () => {
    await foreignLock({ pid: 1, host: "some-other-host" });
    const err = await lockDataDir(dir, { ...opts, waitMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect(err.message).toContain("on some-other-host");
  });

  it("takes over from a holder on another host whose lock went stale", async () => {
    await foreignLock({ pid: 1, host: "some-other-host" }, 60_000);
    const lock = await lockDataDir(dir, { ...opts, waitMs: 1000 });
    expect(JSON.parse(await fs.readFile(path.join(dir, "wafleet.owner.json"), "utf8")).host).toBe(os.hostname());
    await lock.release();
    expect(compromised).toEqual([]);
  });

  it("reports the lock as compromised when another process removes it", async () => {
    const lock = await lockDataDir(dir, { ...opts, staleMs: 2000 });
    await fs.rm(lock.lockPath, { recursive: true });
    // proper-lockfile notices at its next refresh (every staleMs/2)
    const deadline = Date.now() + 10_000;
    while (!compromised.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(compromised[0]).toMatchObject({ code: "ECOMPROMISED" });
    await lock.release();
  });
});

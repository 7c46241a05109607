// Backups: snapshot time and archive size for N simulated sessions (default 1,000, in the
// simulator engine's layout), against the original design's naive `tar -czf` of the whole
// sessions folder in the same run, to a folder and to an S3 API server (s3rver on loopback; the
// baseline uploads its tarball as one object there too). Then, for real wwebjs profiles
// (whatsapp-web.js + Chromium + LocalAuth, linked through the fake WhatsApp Web page), the archive
// bytes per session beside a naive tar.gz of the whole profile. Peak RSS growth during each
// snapshot is reported with it (memory should not grow with the folder).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import path from "node:path";
import { Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArchiveWriter } from "../lib/backup/archive";
import type { BlobStore } from "../lib/backup/blob-store";
import { FolderBlobStore } from "../lib/backup/folder-store";
import { captureSession, releaseCapture } from "../lib/backup/restore-set";
import { S3BlobStore } from "../lib/backup/s3-store";
import { takeSnapshot } from "../lib/backup/snapshot";
import type { EngineEvents } from "../lib/engines/types";
import type { WwebjsEngine } from "../lib/engines/wwebjs";
import { SessionStorage } from "../lib/sessions/storage";
import { fakePageOptions, recordedEngine } from "../test/helpers/chromium";
import { tempDir } from "../test/helpers/processes";
import { startTestS3 } from "../test/helpers/s3";
import { startTestSim } from "../test/helpers/sim";
import { figure, intArg, type BenchContext } from "./harness";

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const sessions = intArg(args, "sessions", 1000);
  const profiles = intArg(args, "profiles", 3);
  const root = await tempDir("bench-backup");
  try {
    await simulatedSessions(emit, root, sessions);
    if (profiles > 0) await wwebjsProfiles(emit, root, profiles);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

async function simulatedSessions(emit: BenchContext["emit"], root: string, total: number): Promise<void> {
  const sessionsDir = path.join(root, "sim-sessions");
  const storage = new SessionStorage(sessionsDir);
  const perWorkspace = 5;
  const now = new Date().toISOString();
  for (let k = 0; k < total; k++) {
    const workspaceId = `w${Math.floor(k / perWorkspace)}`;
    const sessionId = `s${k % perWorkspace}`;
    await storage.create({ workspaceId, sessionId, accountId: null, desired: "running", metadata: { plan: "bench" }, createdAt: now, updatedAt: now, fencingToken: 1 });
    const auth = storage.authDir(workspaceId, sessionId);
    await fs.mkdir(auth, { recursive: true });
    await fs.writeFile(path.join(auth, "creds.json"), JSON.stringify({ deviceId: `dev-${k}-${Math.random().toString(36).slice(2)}`, secret: Math.random().toString(36).repeat(3), phone: `1888${String(k).padStart(7, "0")}` }));
  }
  const s3 = await startTestS3();
  const s3store = new S3BlobStore({ bucket: s3.bucket, prefix: "bench", endpoint: s3.endpoint, client: { credentials: s3.credentials, region: "us-east-1" } });
  const targets: Array<[string, BlobStore]> = [
    ["folder", new FolderBlobStore(path.join(root, "backups"))],
    ["s3", s3store],
  ];
  try {
    for (const [name, store] of targets) {
      // baseline first, then wafleet, so neither profits from a cache the other warmed alone
      const naive = await timed(() => naiveTarball(sessionsDir, store, `naive/${name}.tar.gz`));
      const mem = rssSampler();
      const ours = await timed(() => takeSnapshot({ store, sessionsDir, node: "bench", engine: "simulator", wafleetVersion: "bench" }));
      const peak = mem.stop();
      emit(
        figure(`backup.snapshot.seconds.${total}.${name}`, "s", ours.ms / 1000, { name: "tar -czf of the whole sessions folder + one upload (original design)", value: naive.ms / 1000 }, {
          sessions: total,
          workspaces: ours.value.totals.workspaces,
          peakRssGrowthMB: Math.round(peak / 1e5) / 10,
        }),
      );
      if (name === "folder") {
        emit(figure(`backup.archive.bytes.${total}`, "bytes", ours.value.totals.bytes, { name: "tar -czf of the whole sessions folder", value: naive.value }, { archives: ours.value.totals.workspaces }));
      }
    }
  } finally {
    await s3store.close();
    await s3.destroy();
  }
}

async function wwebjsProfiles(emit: BenchContext["emit"], root: string, n: number): Promise<void> {
  const sim = await startTestSim();
  const base = await fakePageOptions(path.join(root, "fake-wa-web"), sim.url);
  const ours: number[] = [];
  const naive: number[] = [];
  const profileBytes: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const sessionId = `p${i}`;
      const sessionDir = path.join(root, "wwebjs", `session_${sessionId}`);
      const authDir = path.join(sessionDir, "auth");
      await fs.mkdir(authDir, { recursive: true });
      await fs.writeFile(path.join(sessionDir, "meta.json"), JSON.stringify({ workspaceId: "bench", sessionId, desired: "running", fencingToken: 1 }));
      const { engine } = recordedEngine(authDir, base, { workspaceId: "bench", sessionId });
      const qr = next(engine, "qr");
      await engine.start();
      const [code] = await qr;
      const ready = next(engine, "ready");
      const res = await sim.post("/sim/link", { qr: code, phone: `1777${String(i).padStart(7, "0")}` });
      if (res.status !== 200) throw new Error(`link failed: ${res.status}`);
      await ready;
      // a message each way, so the profile holds more than a fresh link
      await engine.sendMessage("15550000000@c.us", { text: `bench ${i}` });
      await engine.stop();

      const captured = await captureSession(sessionDir, sessionId);
      try {
        const writer = new ArchiveWriter();
        const drained = pipeline(writer.output, new Writable({ write: (_c, _e, cb) => cb() }));
        await writer.add(captured);
        await writer.finish();
        await drained;
        ours.push(writer.meter.bytes);
      } finally {
        await releaseCapture(captured);
      }
      naive.push(await countBytes(tarStream(sessionDir)));
      profileBytes.push(await du(authDir));
    }
  } finally {
    await sim.close();
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  emit(
    figure("backup.wwebjs.archive.bytes.per.session", "bytes", mean(ours), { name: "tar -czf of the whole session folder (profile with caches)", value: mean(naive) }, {
      profiles: n,
      profileBytesOnDisk: Math.round(mean(profileBytes)),
      note: "real Chromium profile of whatsapp-web.js 1.34.7 linked through the fake WhatsApp Web page; real WhatsApp keeps more in IndexedDB",
    }),
  );
}

const next = <K extends keyof EngineEvents>(engine: WwebjsEngine, event: K, timeoutMs = 60000) => once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;

function tarStream(dir: string): Readable {
  const child = spawn("tar", ["-czf", "-", "-C", dir, "."], { stdio: ["ignore", "pipe", "inherit"] });
  return child.stdout;
}

/** The original design's backup: one tarball of the whole folder, then one upload. */
async function naiveTarball(dir: string, store: BlobStore, key: string): Promise<number> {
  const file = path.join(path.dirname(dir), `naive-${process.pid}.tar.gz`);
  await pipeline(tarStream(dir), createWriteStream(file));
  const size = (await fs.stat(file)).size;
  await store.put(key, createReadStream(file));
  await fs.rm(file, { force: true });
  return size;
}

async function countBytes(stream: Readable): Promise<number> {
  let n = 0;
  for await (const c of stream) n += (c as Buffer).length;
  return n;
}

async function du(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return n;
}

async function timed<T>(op: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await op();
  return { ms: performance.now() - t0, value };
}

/** Samples RSS every 10 ms; stop() returns the peak growth over the starting value, in bytes. */
function rssSampler(): { stop(): number } {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return peak - start;
    },
  };
}

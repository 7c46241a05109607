// Retention as a specification: 24 hourly + 7 daily across a simulated month of hourly snapshots
// (clock injected, real snapshots on a folder target), the newest verified snapshot kept whatever
// its age, dead incomplete runs swept, runs in progress left alone, deletes batched.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SnapshotListing } from "../../lib/backup/catalog";
import { FolderBlobStore } from "../../lib/backup/folder-store";
import { BackupManager } from "../../lib/backup/manager";
import { planRetention } from "../../lib/backup/retention";

const HOUR = 3_600_000;
const quiet = { info() {}, warn() {}, error() {} };

const listing = (time: number, over: Partial<SnapshotListing> = {}): SnapshotListing => {
  const id = `${new Date(time).toISOString().replace(/[-:.]/g, "")}-0000`;
  return { id, time, complete: true, verified: true, objects: 2, bytes: 100, keys: [`snapshots/${id}/manifest.json`], ...over };
};

describe("planRetention", () => {
  const start = Date.UTC(2026, 10, 1, 0, 0);
  const month = Array.from({ length: 30 * 24 }, (_, i) => listing(start + i * HOUR));

  it("keeps exactly the last 24 hourly and, before them, the last 7 daily of an hourly month", () => {
    const plan = planRetention(month, { keepHourly: 24, keepDaily: 7 });
    expect(plan.keep).toHaveLength(31);
    const kept = plan.keep.map((k) => k.id);
    // the hourly tier: the 24 newest
    expect(kept.slice(-24)).toEqual(month.slice(-24).map((s) => s.id));
    // the daily tier: the newest (23:00) of each of the 7 days before, the partial day first
    const daily = plan.keep.filter((k) => k.why.includes("daily")).map((k) => k.id);
    expect(daily).toHaveLength(7);
    expect(daily.map((id) => id.slice(9, 11))).toEqual(["23", "23", "23", "23", "23", "23", "23"]);
    expect(plan.remove).toHaveLength(month.length - 31);
  });

  it("never deletes the newest verified snapshot, however old", () => {
    const unverifiedSince = month.map((s, i) => (i >= 100 ? { ...s, verified: false } : s));
    const plan = planRetention(unverifiedSince, { keepHourly: 24, keepDaily: 7 });
    expect(plan.keep.find((k) => k.id === month[99]!.id)?.why).toEqual(["newest-verified"]);
    expect(plan.keep).toHaveLength(32);
  });

  it("sweeps incomplete runs older than the newest complete snapshot and leaves newer ones (in progress)", () => {
    const dead = listing(start + 5.5 * HOUR, { complete: false, verified: false });
    const running = listing(start + 10.5 * HOUR, { complete: false, verified: false });
    const plan = planRetention([...month.slice(0, 10), dead, running], { keepHourly: 24, keepDaily: 7 });
    expect(plan.remove.map((s) => s.id)).toEqual([dead.id]);
    expect(plan.keep.find((k) => k.id === running.id)?.why).toEqual(["in-progress"]);
  });

  it("keeps one snapshot per hour in the hourly tier: the newest", () => {
    const a = listing(start + 10 * 60_000);
    const b = listing(start + 50 * 60_000);
    const c = listing(start + 70 * 60_000);
    expect(planRetention([a, b, c], { keepHourly: 24, keepDaily: 0 }).remove.map((s) => s.id)).toEqual([a.id]);
  });
});

describe("retention over a simulated month of scheduled runs", () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-retention-"));
    const s = path.join(root, "sessions/workspace_w1/session_s1");
    await fs.mkdir(path.join(s, "auth"), { recursive: true });
    await fs.writeFile(path.join(s, "meta.json"), JSON.stringify({ workspaceId: "w1", sessionId: "s1", desired: "running", fencingToken: 1 }));
    await fs.writeFile(path.join(s, "auth/creds.json"), JSON.stringify({ deviceId: "d", secret: "x", phone: "1555" }));
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  it("ends with exactly 24 + 7 snapshots on the target, deleting in batches", async () => {
    const store = new FolderBlobStore(path.join(root, "backups"));
    const deletes: number[] = [];
    const inner = store.delete.bind(store);
    store.delete = async (keys: string[]) => {
      deletes.push(keys.length);
      return inner(keys);
    };
    let t = Date.UTC(2026, 10, 1, 0, 0, 7);
    const manager = new BackupManager({
      store,
      sessionsDir: path.join(root, "sessions"),
      node: "n1",
      engine: "simulator",
      retention: { keepHourly: 24, keepDaily: 7 },
      deleteBatch: 50,
      control: { list: async () => [], stop: async () => undefined, start: async () => undefined },
      logger: quiet,
      now: () => new Date(t),
    });
    // 30 days of runs every 2 hours (snapshot, verify, retention, as the schedule does them): the
    // hourly tier then spans 48 hours, the daily tier the 7 days before
    for (let i = 0; i < 30 * 12; i++, t += 2 * HOUR) await manager.run();
    const left = await manager.catalog.list();
    expect(left).toHaveLength(31);
    // last run Nov 30 22:00; hourly tier back to Nov 29 00:00; daily tier Nov 28 ... Nov 22, 22:00 each
    expect(left.at(-1)!.id.slice(0, 11)).toBe("20261130T22");
    expect(left.at(-24)!.id.slice(0, 11)).toBe("20261129T00");
    expect(left.slice(0, 7).map((s) => s.id.slice(0, 11))).toEqual(["22", "23", "24", "25", "26", "27", "28"].map((d) => `202611${d}T22`));
    expect(left.every((s) => s.complete && s.verified)).toBe(true);
    expect(Math.max(...deletes)).toBeLessThanOrEqual(50);
    // the files on disk agree: 31 snapshot folders, each with archive, manifest and marker
    expect(await fs.readdir(path.join(root, "backups/snapshots"))).toHaveLength(31);
  }, 120_000);
});

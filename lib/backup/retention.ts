// Retention: the newest snapshot of each of the last `keepHourly` hours that have one, then, older
// than those, the newest of each of the last `keepDaily` days (UTC) that have one: 24 + 7 by
// default, as in the original design's hourly/ and daily/ folders. The newest verified snapshot is
// never deleted, whatever its age. Incomplete snapshots older than the newest complete one are dead
// runs and go too. Deletes go in batches, manifests first, so a half-done delete never leaves a
// snapshot that looks complete but has lost archives.
import type { BlobStore } from "./blob-store";
import type { SnapshotListing } from "./catalog";

export interface RetentionPolicy {
  keepHourly: number;
  keepDaily: number;
}

export interface RetentionPlan {
  keep: Array<{ id: string; why: Array<"hourly" | "daily" | "newest-verified" | "in-progress"> }>;
  remove: SnapshotListing[];
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

export function planRetention(snapshots: SnapshotListing[], policy: RetentionPolicy): RetentionPlan {
  const why = new Map<string, Array<"hourly" | "daily" | "newest-verified" | "in-progress">>();
  const mark = (id: string, reason: "hourly" | "daily" | "newest-verified" | "in-progress") => {
    const list = why.get(id) ?? [];
    list.push(reason);
    why.set(id, list);
  };
  const complete = snapshots.filter((s) => s.complete).sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : -1));

  const hours = new Set<number>();
  let oldestHourly = Number.POSITIVE_INFINITY;
  for (const s of complete) {
    if (hours.size >= policy.keepHourly) break;
    const h = Math.floor(s.time / HOUR);
    if (hours.has(h)) continue;
    hours.add(h);
    oldestHourly = s.time;
    mark(s.id, "hourly");
  }
  const days = new Set<number>();
  for (const s of complete) {
    if (days.size >= policy.keepDaily) break;
    if (s.time >= oldestHourly) continue;
    const d = Math.floor(s.time / DAY);
    if (days.has(d)) continue;
    days.add(d);
    mark(s.id, "daily");
  }
  const newestVerified = complete.find((s) => s.verified);
  if (newestVerified) mark(newestVerified.id, "newest-verified");

  const newestComplete = complete[0];
  for (const s of snapshots) {
    // a run newer than the newest complete snapshot may still be writing
    if (!s.complete && (!newestComplete || s.id > newestComplete.id)) mark(s.id, "in-progress");
  }
  return {
    keep: [...why.entries()].map(([id, w]) => ({ id, why: w })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    remove: snapshots.filter((s) => !why.has(s.id)),
  };
}

/** Deletes the snapshots of a plan in batches of at most `batchSize` keys; returns the batch count. */
export async function applyRetention(store: BlobStore, remove: SnapshotListing[], batchSize = store.maxDeleteBatch): Promise<{ snapshots: number; objects: number; batches: number }> {
  const size = Math.max(1, Math.min(batchSize, store.maxDeleteBatch));
  const markers: string[] = [];
  const rest: string[] = [];
  for (const s of remove) {
    for (const k of s.keys) (k.endsWith("/manifest.json") || k.endsWith("/verified.json") ? markers : rest).push(k);
  }
  let batches = 0;
  for (const keys of [markers, rest]) {
    for (let i = 0; i < keys.length; i += size) {
      await store.delete(keys.slice(i, i + size));
      batches++;
    }
  }
  return { snapshots: remove.length, objects: markers.length + rest.length, batches };
}

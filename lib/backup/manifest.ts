// The snapshot manifest and the key layout. A snapshot is a folder of objects:
//   snapshots/<id>/workspace_<w>.tar.gz   one per workspace
//   snapshots/<id>/manifest.json          written last: without it the snapshot is incomplete
//   snapshots/<id>/verified.json          written by a verify that found every archive intact
// Snapshot ids sort by time: `20261129T020000123Z-<4 hex>`.
import { randomBytes } from "node:crypto";
import { isValidId } from "../sessions/storage";
import { ARCHIVE_CIPHER, MANIFEST_MAC, type ArchiveSeal, type ManifestMac } from "./encryption";
import type { SessionEngineKind } from "./restore-set";

export const MANIFEST_FORMAT = 1;
export const SNAPSHOTS = "snapshots";

export interface ManifestSession {
  sessionId: string;
  engine: SessionEngineKind;
  /** The desired state recorded in the session's meta.json at capture time. */
  desired: "running" | "stopped" | null;
  files: number;
  bytes: number;
  consistency: "stable" | "crash";
}

export interface ManifestArchive {
  workspaceId: string;
  /** Object name inside the snapshot folder. */
  name: string;
  size: number;
  sha256: string;
  files: number;
  sessions: ManifestSession[];
  /** Set when the archive is sealed (BACKUP_ENCRYPTION_KEY): size and sha256 are the ciphertext's. */
  encryption?: ArchiveSeal;
}

export interface SnapshotManifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  createdAt: string;
  finishedAt: string;
  durationMs: number;
  node: string;
  /** The engine configured on the node that took the snapshot (per session: archives[].sessions[].engine). */
  engine: string;
  wafleetVersion: string;
  source: string;
  archives: ManifestArchive[];
  totals: { workspaces: number; sessions: number; files: number; bytes: number };
  /** An HMAC over the rest of the manifest, when snapshots are sealed. */
  mac?: ManifestMac;
}

export interface VerifiedMarker {
  snapshot: string;
  verifiedAt: string;
  node: string;
  archives: number;
}

export function newSnapshotId(at: Date): string {
  return `${at.toISOString().replace(/[-:.]/g, "")}-${randomBytes(2).toString("hex")}`;
}

/** The time encoded in a snapshot id (for incomplete snapshots, which have no manifest). */
export function timeOfSnapshotId(id: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{4}$/.exec(id);
  if (!m) return undefined;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
}

export const isSnapshotId = (id: string) => timeOfSnapshotId(id) !== undefined;
export const snapshotDir = (id: string) => `${SNAPSHOTS}/${id}`;
export const manifestKey = (id: string) => `${snapshotDir(id)}/manifest.json`;
export const verifiedKey = (id: string) => `${snapshotDir(id)}/verified.json`;
export const archiveName = (workspaceId: string) => `workspace_${workspaceId}.tar.gz`;
export const archiveKey = (id: string, workspaceId: string) => `${snapshotDir(id)}/${archiveName(workspaceId)}`;

const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * Checks a parsed manifest's shape; throws with what is wrong. A manifest comes from a bucket that
 * others may write to: its ids become paths on restore, so each must be an id (lib/sessions).
 */
export function checkManifest(m: any, id: string): SnapshotManifest {
  const bad = (why: string) => new Error(`manifest of ${id} is invalid: ${why}`);
  if (!m || typeof m !== "object") throw bad("not an object");
  if (m.format !== MANIFEST_FORMAT) throw bad(`format ${m.format}, expected ${MANIFEST_FORMAT}`);
  if (m.id !== id) throw bad(`names snapshot ${m.id}`);
  if (!Array.isArray(m.archives)) throw bad("no archives list");
  const seen = new Set<string>();
  for (const a of m.archives) {
    if (!isValidId(a?.workspaceId)) throw bad(`archive entry with workspace id ${JSON.stringify(a?.workspaceId)}, which is not an id`);
    if (seen.has(a.workspaceId)) throw bad(`workspace ${a.workspaceId} appears twice`);
    seen.add(a.workspaceId);
    if (a.name !== archiveName(a.workspaceId) || !/^[0-9a-f]{64}$/.test(a.sha256) || !count(a.size) || !count(a.files)) throw bad(`archive entry ${JSON.stringify(a?.name)}`);
    if (!Array.isArray(a.sessions)) throw bad(`archive of workspace ${a.workspaceId} has no sessions list`);
    const e = a.encryption;
    if (e !== undefined && (e?.alg !== ARCHIVE_CIPHER || typeof e.keyId !== "string" || typeof e.iv !== "string" || typeof e.tag !== "string")) throw bad(`archive of workspace ${a.workspaceId} has a bad encryption entry`);
    for (const s of a.sessions) {
      if (!isValidId(s?.sessionId)) throw bad(`workspace ${a.workspaceId} lists session id ${JSON.stringify(s?.sessionId)}, which is not an id`);
      if (!count(s.files) || !count(s.bytes)) throw bad(`session ${a.workspaceId}/${s.sessionId} has bad counts`);
    }
  }
  if (m.mac !== undefined && (m.mac?.alg !== MANIFEST_MAC || typeof m.mac.keyId !== "string" || !/^[0-9a-f]{64}$/.test(m.mac.value))) throw bad("bad mac entry");
  return m as SnapshotManifest;
}

// Taking a snapshot: one archive per workspace streamed to the blob store (a few workspaces at a
// time, each capturing its sessions one by one, so memory holds a few sessions' small files and
// the uploads' part buffers),
// then the manifest, last. A run that fails or dies midway leaves no manifest: the snapshot does
// not exist for list, verify or restore, and retention sweeps its objects.
import { promises as fs } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { isValidId, readdirOrEmpty } from "../sessions/storage";
import { ArchiveWriter } from "./archive";
import { archiveAad, sealArchive, signManifest, type BackupKeyring } from "./encryption";
import type { BlobStore } from "./blob-store";
import { archiveKey, archiveName, manifestKey, MANIFEST_FORMAT, newSnapshotId, type ManifestArchive, type ManifestSession, type SnapshotManifest } from "./manifest";
import { captureSession, releaseCapture, type CaptureOptions } from "./restore-set";

export interface SnapshotOptions {
  store: BlobStore;
  sessionsDir: string;
  node: string;
  engine: string;
  wafleetVersion: string;
  now?: () => Date;
  capture?: CaptureOptions;
  /** Workspaces archived at once. Default 4. */
  concurrency?: number;
  /** Seals every archive and signs the manifest with the keyring's current key (BACKUP_ENCRYPTION_KEY). */
  keyring?: BackupKeyring;
}

export async function takeSnapshot(opts: SnapshotOptions): Promise<SnapshotManifest> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const t0 = performance.now();
  const id = newSnapshotId(started);
  const archives: ManifestArchive[] = [];
  // a few workspaces at once: uploads and fsyncs overlap; memory is per workspace in flight
  const queue = await listWorkspaces(opts.sessionsDir);
  let failure: unknown;
  const worker = async () => {
    while (queue.length && failure === undefined) {
      const workspaceId = queue.shift()!;
      try {
        const a = await archiveWorkspace(opts, id, workspaceId);
        if (a) archives.push(a);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  if (failure !== undefined) throw failure;
  archives.sort((a, b) => (a.workspaceId < b.workspaceId ? -1 : 1));
  const finished = now();
  const manifest: SnapshotManifest = {
    format: MANIFEST_FORMAT,
    id,
    createdAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    node: opts.node,
    engine: opts.engine,
    wafleetVersion: opts.wafleetVersion,
    source: opts.sessionsDir,
    archives,
    totals: {
      workspaces: archives.length,
      sessions: archives.reduce((n, a) => n + a.sessions.length, 0),
      files: archives.reduce((n, a) => n + a.files, 0),
      bytes: archives.reduce((n, a) => n + a.size, 0),
    },
  };
  if (opts.keyring) manifest.mac = signManifest(opts.keyring.current, manifest as unknown as Record<string, unknown>);
  await opts.store.put(manifestKey(id), bufferStream(JSON.stringify(manifest, null, 2)));
  return manifest;
}

async function archiveWorkspace(opts: SnapshotOptions, id: string, workspaceId: string): Promise<ManifestArchive | undefined> {
  const wsDir = path.join(opts.sessionsDir, `workspace_${workspaceId}`);
  const sessionIds = (await readdirOrEmpty(wsDir))
    .filter((e) => e.isDirectory() && e.name.startsWith("session_") && isValidId(e.name.slice(8)))
    .map((e) => e.name.slice(8))
    .sort();
  // a folder without meta.json is a create that died half-way: not a session
  const withMeta: string[] = [];
  for (const s of sessionIds) if (await fileExists(path.join(wsDir, `session_${s}`, "meta.json"))) withMeta.push(s);
  if (!withMeta.length) return undefined;
  const sealing = opts.keyring ? sealArchive(opts.keyring.current, archiveAad(id, workspaceId)) : undefined;
  const writer = new ArchiveWriter(sealing?.stream);
  const uploaded = opts.store.put(archiveKey(id, workspaceId), writer.output);
  uploaded.catch((err: Error) => writer.abort(err));
  const sessions: ManifestSession[] = [];
  try {
    for (const sessionId of withMeta) {
      const captured = await captureSession(path.join(wsDir, `session_${sessionId}`), sessionId, opts.capture);
      try {
        // deleted since the listing
        const meta = captured.files.find((f) => f.rel === "meta.json");
        if (!meta) continue;
        await writer.add(captured);
        sessions.push({ sessionId, engine: captured.engine, desired: desiredOf(meta.data), files: captured.files.length, bytes: captured.bytes, consistency: captured.consistency });
      } finally {
        await releaseCapture(captured);
      }
    }
    await writer.finish();
  } catch (err) {
    writer.abort(err as Error);
    await uploaded.catch(() => undefined);
    throw err;
  }
  await uploaded;
  return { workspaceId, name: archiveName(workspaceId), size: writer.meter.bytes, sha256: writer.meter.sha256, files: writer.files, sessions, ...(sealing ? { encryption: sealing.seal() } : {}) };
}

function desiredOf(data: Buffer | undefined): ManifestSession["desired"] {
  try {
    const d = JSON.parse(data?.toString("utf8") ?? "null")?.desired;
    return d === "running" || d === "stopped" ? d : null;
  } catch {
    return null;
  }
}

async function listWorkspaces(root: string): Promise<string[]> {
  return (await readdirOrEmpty(root))
    .filter((e) => e.isDirectory() && e.name.startsWith("workspace_") && isValidId(e.name.slice(10)))
    .map((e) => e.name.slice(10))
    .sort();
}

async function fileExists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (st) => st.isFile(),
    () => false,
  );
}

export function bufferStream(text: string): Readable {
  return Readable.from([Buffer.from(text, "utf8")]);
}

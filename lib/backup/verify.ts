// Verify: download every archive of a snapshot and check it against the manifest (size, SHA-256,
// a gzip and tar stream that parses, file count). A snapshot that passes gets a verified.json
// marker; retention never deletes the newest one that has it.
import { once } from "node:events";
import { PassThrough, Writable, type Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DigestMeter, readArchive } from "./archive";
import type { BlobStore } from "./blob-store";
import type { SnapshotCatalog } from "./catalog";
import { archiveAad, openArchive, type BackupKeyring } from "./encryption";
import { snapshotDir, verifiedKey, type ManifestArchive } from "./manifest";
import { checkSealed } from "./restore";
import { bufferStream } from "./snapshot";

export interface ArchiveCheck {
  workspaceId: string;
  ok: boolean;
  error?: string;
}

export interface VerifyResult {
  snapshot: string;
  ok: boolean;
  archives: ArchiveCheck[];
  checkedAt: string;
  durationMs: number;
}

/**
 * Checks one archive stream against its manifest entry; throws with what does not match. The
 * whole stream is always hashed, even when the tar or gzip layer breaks early.
 */
export async function checkArchive(source: Readable, a: ManifestArchive, open?: () => Transform): Promise<void> {
  const meter = new DigestMeter();
  const feed = new PassThrough();
  // a sealed archive is opened before it is parsed: a wrong tag fails the parse
  const parsed$ = open ? feed.pipe(open()) : feed;
  if (parsed$ !== feed) feed.on("error", (err) => parsed$.destroy(err));
  let parseError: Error | undefined;
  const parsing = readArchive(parsed$, async (e) => {
    e.body.resume();
    await once(e.body, "end");
  }).catch((err: Error) => {
    parseError = err;
    return undefined;
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (parseError || feed.destroyed || feed.write(chunk)) return cb();
      const go = () => {
        feed.off("drain", go);
        feed.off("close", go);
        cb();
      };
      feed.on("drain", go);
      feed.on("close", go);
    },
    final(cb) {
      if (!feed.destroyed) feed.end();
      cb();
    },
  });
  await pipeline(source, meter, sink);
  const parsed = await parsing;
  if (meter.bytes !== a.size) throw new Error(`size ${meter.bytes} bytes, manifest says ${a.size}`);
  if (meter.sha256 !== a.sha256) throw new Error(`SHA-256 ${meter.sha256}, manifest says ${a.sha256}`);
  if (parseError || !parsed) throw new Error(`archive does not parse: ${parseError?.message ?? "unknown error"}`);
  if (parsed.files !== a.files) throw new Error(`${parsed.files} files, manifest says ${a.files}`);
}

export async function verifySnapshot(store: BlobStore, catalog: SnapshotCatalog, id: string, node: string, now: () => Date = () => new Date(), keyring?: BackupKeyring): Promise<VerifyResult> {
  const t0 = performance.now();
  const manifest = await catalog.manifest(id);
  // what restore would refuse (unsigned, altered, sealed with an unknown key) fails verify too
  checkSealed(manifest, keyring, id);
  const archives: ArchiveCheck[] = [];
  for (const a of manifest.archives) {
    try {
      await checkArchive(await store.get(`${snapshotDir(id)}/${a.name}`), a, a.encryption ? () => openArchive(keyring!, a.encryption!, archiveAad(id, a.workspaceId)) : undefined);
      archives.push({ workspaceId: a.workspaceId, ok: true });
    } catch (err) {
      archives.push({ workspaceId: a.workspaceId, ok: false, error: (err as Error).message });
    }
  }
  const ok = archives.every((a) => a.ok);
  const checkedAt = now().toISOString();
  if (ok) await store.put(verifiedKey(id), bufferStream(JSON.stringify({ snapshot: id, verifiedAt: checkedAt, node, archives: archives.length })));
  return { snapshot: id, ok, archives, checkedAt, durationMs: Math.round(performance.now() - t0) };
}

// What a blob store holds: snapshots grouped from their objects, complete (manifest present) or
// not, verified or not; manifests read and checked.
import { BlobNotFoundError, type BlobStore } from "./blob-store";
import { checkManifest, isSnapshotId, manifestKey, SNAPSHOTS, timeOfSnapshotId, verifiedKey, type SnapshotManifest, type VerifiedMarker } from "./manifest";
import { WafleetError } from "../errors";

export interface SnapshotListing {
  id: string;
  /** Start time of the snapshot (from its id). */
  time: number;
  complete: boolean;
  verified: boolean;
  objects: number;
  bytes: number;
  keys: string[];
}

export class SnapshotCatalog {
  constructor(private readonly store: BlobStore) {}

  /** Every snapshot in the store, oldest first; incomplete ones included (complete: false). */
  async list(): Promise<SnapshotListing[]> {
    const byId = new Map<string, SnapshotListing>();
    for (const o of await this.store.list(`${SNAPSHOTS}/`)) {
      const [, id, name] = o.key.split("/");
      if (!id || !name || !isSnapshotId(id)) continue;
      let s = byId.get(id);
      if (!s) byId.set(id, (s = { id, time: timeOfSnapshotId(id)!, complete: false, verified: false, objects: 0, bytes: 0, keys: [] }));
      s.objects++;
      s.bytes += o.size;
      s.keys.push(o.key);
      if (name === "manifest.json") s.complete = true;
      if (name === "verified.json") s.verified = true;
    }
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async complete(): Promise<SnapshotListing[]> {
    return (await this.list()).filter((s) => s.complete);
  }

  /** The manifest of a complete snapshot; SNAPSHOT_NOT_FOUND for an unknown or incomplete one. */
  async manifest(id: string): Promise<SnapshotManifest> {
    if (!isSnapshotId(id)) throw new WafleetError("SNAPSHOT_NOT_FOUND", `No snapshot ${id}`, { snapshot: id });
    let text: string;
    try {
      text = await readAll(await this.store.get(manifestKey(id)));
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new WafleetError("SNAPSHOT_NOT_FOUND", `No complete snapshot ${id} (no manifest: missing or interrupted)`, { snapshot: id });
      throw err;
    }
    try {
      return checkManifest(JSON.parse(text), id);
    } catch (err) {
      throw new WafleetError("SNAPSHOT_INVALID", (err as Error).message, { snapshot: id });
    }
  }

  async verifiedMarker(id: string): Promise<VerifiedMarker | undefined> {
    try {
      return JSON.parse(await readAll(await this.store.get(verifiedKey(id)))) as VerifiedMarker;
    } catch (err) {
      if (err instanceof BlobNotFoundError) return undefined;
      throw err;
    }
  }

  /** The newest complete snapshot's id, or undefined. */
  async latest(): Promise<string | undefined> {
    return (await this.complete()).at(-1)?.id;
  }
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString("utf8");
}

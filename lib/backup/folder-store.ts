// BACKUP_TARGET=file:///path: snapshots as plain files. Writes go to a temp file that is fsynced
// and renamed into place, so a reader never sees half an object (the same promise S3 makes).
import { randomBytes } from "node:crypto";
import { createWriteStream, promises as fs } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BlobNotFoundError, type BlobInfo, type BlobStore, type ByteRange } from "./blob-store";

const TMP_MARK = ".partial-";

export class FolderBlobStore implements BlobStore {
  readonly maxDeleteBatch = 1000;

  constructor(readonly root: string) {}

  get description(): string {
    return `file://${this.root}`;
  }

  private file(key: string): string {
    const parts = key.split("/");
    if (!key || parts.some((p) => p === "" || p === "." || p === ".." || p.startsWith(TMP_MARK))) throw new Error(`Invalid blob key ${JSON.stringify(key)}`);
    return path.join(this.root, ...parts);
  }

  async put(key: string, body: Readable): Promise<void> {
    const file = this.file(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = path.join(path.dirname(file), `${TMP_MARK}${path.basename(file)}-${randomBytes(4).toString("hex")}`);
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      const fh = await fs.open(tmp, "r");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, file);
    } catch (err) {
      body.destroy();
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.file(key);
    // opened here so a missing file is this promise's rejection, not a stream error later
    let fh;
    try {
      fh = await fs.open(file, "r");
    } catch {
      throw new BlobNotFoundError(key);
    }
    return fh.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err: any) {
        if (err?.code === "ENOENT") return;
        throw err;
      }
      await Promise.all(
        entries.map(async (e) => {
          if (e.name.startsWith(TMP_MARK)) return;
          const key = rel ? `${rel}/${e.name}` : e.name;
          // prune folders that cannot hold a key with this prefix
          if (!(key.startsWith(prefix) || prefix.startsWith(`${key}/`))) return;
          if (e.isDirectory()) await walk(path.join(dir, e.name), key);
          else if (e.isFile() && key.startsWith(prefix)) {
            const st = await fs.stat(path.join(dir, e.name)).catch(() => undefined);
            if (st) out.push({ key, size: st.size });
          }
        }),
      );
    };
    await walk(this.root, "");
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length > this.maxDeleteBatch) throw new Error(`delete() takes at most ${this.maxDeleteBatch} keys`);
    const dirs = new Set<string>();
    for (const key of keys) {
      const file = this.file(key);
      await fs.rm(file, { force: true });
      dirs.add(path.dirname(file));
    }
    // drop folders left empty (a snapshot's folder once its last object is gone)
    for (const dir of dirs) {
      if (dir !== this.root) await fs.rmdir(dir).catch(() => undefined);
    }
  }
}

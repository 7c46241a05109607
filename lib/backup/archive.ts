// One workspace archive: tar + gzip of `session_<id>/<restore-set path>` entries, streamed from
// the captured sessions to the blob store while its SHA-256 and size are computed on the way.
// Reading is the mirror image, with every entry name checked before it may become a path.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import tar from "tar-stream";
import { isValidId } from "../sessions/storage";
import type { CapturedSession } from "./restore-set";
import { inRestoreSet } from "./restore-set";

/** Counts bytes and hashes them as they pass. */
export class DigestMeter extends Transform {
  private readonly hash = createHash("sha256");
  // not `size`: lib-storage takes a body's `size` property for its length
  bytes = 0;
  private hex: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.hex = this.hash.digest("hex");
    cb();
  }

  /** The SHA-256 of everything that passed (once the stream has flushed). */
  get sha256(): string {
    if (!this.hex) throw new Error("digest read before the stream ended");
    return this.hex;
  }
}

/**
 * A tar+gzip stream being written: add sessions one by one, then finish(). `output` must be
 * consumed (by a blob store put) for writes to make progress; if it fails, add() rejects.
 */
export class ArchiveWriter {
  private readonly pack = tar.pack();
  private readonly gzip = zlib.createGzip({ level: 6 });
  readonly meter = new DigestMeter();
  readonly output: Readable;
  private readonly piped: Promise<void>;
  private failure: Error | undefined;
  files = 0;

  /** @param cipher seals the gzip stream before it is measured and stored (BACKUP_ENCRYPTION_KEY) */
  constructor(cipher?: Transform) {
    this.output = this.meter;
    this.piped = (cipher ? pipeline(this.pack, this.gzip, cipher, this.meter) : pipeline(this.pack, this.gzip, this.meter)).catch((err: Error) => {
      this.failure = err;
      throw err;
    });
    this.piped.catch(() => undefined);
  }

  /** Fails the archive (the consumer gave up): pending and later writes reject. */
  abort(err: Error): void {
    this.failure ??= err;
    this.pack.destroy(err);
  }

  async add(session: CapturedSession): Promise<void> {
    for (const f of session.files) {
      if (this.failure) throw this.failure;
      const header = { name: `session_${session.sessionId}/${f.rel}`, size: f.size, mode: f.mode || 0o600, mtime: new Date(f.mtimeMs > 0 ? f.mtimeMs : Date.now()), type: "file" as const };
      await new Promise<void>((resolve, reject) => {
        const onClose = () => reject(this.failure ?? new Error("archive stream closed"));
        this.pack.once("close", onClose);
        const done = (err?: Error | null) => {
          this.pack.off("close", onClose);
          if (err) reject(err);
          else resolve();
        };
        if (f.data) this.pack.entry(header, f.data, done);
        else {
          const entry = this.pack.entry(header, done);
          createReadStream(f.staged!).on("error", (err) => entry.destroy(err)).pipe(entry);
        }
      });
      this.files++;
    }
  }

  /** Ends the archive; resolves when every byte has passed the meter. */
  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    this.pack.finalize();
    await this.piped;
  }
}

export interface ArchiveEntry {
  sessionId: string;
  /** Path inside the session folder (`meta.json`, `auth/...`). */
  rel: string;
  size: number;
  mode: number;
  body: Readable;
}

/** Splits and checks an entry name; undefined for anything that is not `session_<id>/<restore-set path>`. */
export function parseEntryName(name: string): { sessionId: string; rel: string } | undefined {
  const m = /^session_([^/]+)\/(.+)$/.exec(name);
  if (!m || !isValidId(m[1])) return undefined;
  const rel = m[2]!;
  if (rel.split("/").some((p) => p === "" || p === "." || p === "..")) return undefined;
  if (!inRestoreSet(rel)) return undefined;
  return { sessionId: m[1]!, rel };
}

/**
 * Reads a tar+gzip archive, calling `onEntry` for each regular file entry in order (its body must
 * be consumed). Entries that are not regular files or have an unexpected name fail the read.
 */
export async function readArchive(source: Readable, onEntry: (e: ArchiveEntry) => Promise<void>): Promise<{ files: number }> {
  const extract = tar.extract();
  let files = 0;
  const consumed = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      if (h.type === "directory") {
        entry.resume();
        continue;
      }
      const parsed = h.type === "file" ? parseEntryName(h.name) : undefined;
      if (!parsed) {
        entry.resume();
        throw new Error(`unexpected archive entry ${JSON.stringify(h.name)} (${h.type})`);
      }
      await onEntry({ ...parsed, size: h.size ?? 0, mode: (h.mode ?? 0o600) & 0o777, body: entry as unknown as Readable });
      files++;
    }
  })();
  const piping = pipeline(source, zlib.createGunzip(), extract);
  try {
    await Promise.all([piping, consumed]);
  } catch (err) {
    extract.destroy();
    source.destroy();
    await Promise.allSettled([piping, consumed]);
    throw err;
  }
  return { files };
}

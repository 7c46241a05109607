// The media store (DESIGN section 4, Media): received and uploaded media as objects
// `workspace_<w>/<mediaId>` with their descriptor beside them (`<mediaId>.json`, written last, so a
// descriptor means complete bytes), on one of the backup blob stores (S3 or a folder). Bytes stream
// in and out; a write is hashed and counted on the way and refused past its size limit. A received
// media also leaves an empty marker `workspace_<w>/session_<s>/<mediaId>`, so a session's media is
// found (and deleted with it) by listing, without reading every descriptor.
import { createHash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { BlobNotFoundError, type BlobStore, type ByteRange } from "../backup/blob-store";
import { WafleetError } from "../errors";
import { assertId } from "../sessions/storage";
import { descriptorOf, mediaUrl, type MediaDescriptor, type StoredMedia } from "./descriptor";
import { isMediaId, mediaIdTime, newMediaId } from "./ids";

export interface MediaWrite {
  mimetype: string;
  filename?: string;
  /** The receiving session (inbound media); absent for uploads. */
  sessionId?: string;
  /** A given id (inbound media: derived from the message); a fresh ULID otherwise. */
  mediaId?: string;
  /** Refused with MEDIA_TOO_LARGE past this many bytes (default: the store's maxBytes). */
  maxBytes?: number;
}

export interface OpenedMedia {
  media: StoredMedia;
  stream: Readable;
  /** The range served (inclusive), when one was asked for. */
  range?: ByteRange;
}

export interface MediaStoreOptions {
  /** The largest object accepted (default 64 MiB). */
  maxBytes?: number;
  logger?: { info(msg: string): void; warn(msg: string): void };
}

const workspacePrefix = (w: string) => `workspace_${w}/`;

export class MediaStore {
  readonly maxBytes: number;

  constructor(
    readonly blobs: BlobStore,
    private readonly opts: MediaStoreOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  get description(): string {
    return this.blobs.description;
  }

  /** Streams `body` into the store and returns its descriptor once bytes and descriptor are stored. */
  async put(workspaceId: string, body: Readable, info: MediaWrite): Promise<MediaDescriptor> {
    assertId("workspaceId", workspaceId);
    if (info.sessionId !== undefined) assertId("sessionId", info.sessionId);
    const mediaId = info.mediaId ?? newMediaId();
    if (!isMediaId(mediaId)) throw new WafleetError("VALIDATION_ERROR", `Invalid mediaId ${JSON.stringify(mediaId)}`);
    const limit = Math.min(info.maxBytes ?? this.maxBytes, this.maxBytes);
    const meter = new MediaMeter(limit);
    // an error of the source (a client that hung up, a body over the gateway's limit) ends the
    // write with it; the blob store may not listen yet, so the error is kept here too
    let sourceError: Error | undefined;
    meter.on("error", () => undefined);
    body.once("error", (err) => {
      sourceError = err;
      meter.destroy(err);
    });
    try {
      await this.blobs.put(this.key(workspaceId, mediaId), body.pipe(meter));
    } catch (err) {
      if (meter.tooLarge) throw new WafleetError("MEDIA_TOO_LARGE", `The media is larger than ${limit} bytes`, { limit });
      throw storeError(sourceError ?? err);
    }
    if (sourceError) throw storeError(sourceError);
    if (meter.tooLarge) throw new WafleetError("MEDIA_TOO_LARGE", `The media is larger than ${limit} bytes`, { limit });
    const stored: StoredMedia = {
      mediaId,
      mimetype: info.mimetype,
      size: meter.counted,
      sha256: meter.sha256(),
      ...(info.filename ? { filename: info.filename } : {}),
      url: mediaUrl(workspaceId, mediaId),
      workspaceId,
      ...(info.sessionId ? { sessionId: info.sessionId } : {}),
      createdAt: new Date().toISOString(),
    };
    try {
      if (info.sessionId) await this.blobs.put(`${workspacePrefix(workspaceId)}session_${info.sessionId}/${mediaId}`, Readable.from([]));
      await this.blobs.put(this.metaKey(workspaceId, mediaId), Readable.from([Buffer.from(JSON.stringify(stored))]));
    } catch (err) {
      throw storeError(err);
    }
    return descriptorOf(stored);
  }

  /** A base64 string (what engines hand over) stored without a second whole copy. */
  putBase64(workspaceId: string, data: string, info: MediaWrite): Promise<MediaDescriptor> {
    return this.put(workspaceId, base64Chunks(data), info);
  }

  /** The stored descriptor; MEDIA_NOT_FOUND for an unknown, expired, deleted or invalid id. */
  async stat(workspaceId: string, mediaId: string): Promise<StoredMedia> {
    if (!isMediaId(mediaId)) throw new WafleetError("MEDIA_NOT_FOUND", undefined, { mediaId: String(mediaId).slice(0, 64) });
    assertId("workspaceId", workspaceId);
    let text: string;
    try {
      text = await streamText(await this.blobs.get(this.metaKey(workspaceId, mediaId)), 64 * 1024);
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new WafleetError("MEDIA_NOT_FOUND", undefined, { mediaId });
      throw storeError(err);
    }
    return JSON.parse(text) as StoredMedia;
  }

  /** The bytes (or a range of them); 416 RANGE_NOT_SATISFIABLE for a range outside the media. */
  async open(workspaceId: string, mediaId: string, range?: { start?: number; end?: number }): Promise<OpenedMedia> {
    const media = await this.stat(workspaceId, mediaId);
    let served: ByteRange | undefined;
    if (range) {
      served = resolveRange(range, media.size);
      if (!served) throw new WafleetError("RANGE_NOT_SATISFIABLE", `The media has ${media.size} bytes`, { size: media.size });
    }
    try {
      const stream = media.size === 0 ? Readable.from([]) : await this.blobs.get(this.key(workspaceId, mediaId), served);
      return { media, stream, ...(served ? { range: served } : {}) };
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new WafleetError("MEDIA_NOT_FOUND", undefined, { mediaId });
      throw storeError(err);
    }
  }

  /** The whole media as base64 (for an engine that takes nothing else), capped at maxBytes. */
  async readBase64(workspaceId: string, mediaId: string): Promise<{ media: StoredMedia; data: string }> {
    const { media, stream } = await this.open(workspaceId, mediaId);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return { media, data: Buffer.concat(chunks).toString("base64") };
  }

  /**
   * The descriptor with a presigned URL that reads the bytes without a key for `seconds`, when the
   * store can make one (S3); unchanged otherwise.
   */
  async withPresignedUrl(workspaceId: string, d: MediaDescriptor, seconds: number): Promise<MediaDescriptor> {
    if (!this.blobs.presign || seconds <= 0) return d;
    const presignedUrl = await this.blobs.presign(this.key(workspaceId, d.mediaId), seconds);
    return { ...d, presignedUrl, presignedUntil: new Date(Date.now() + seconds * 1000).toISOString() };
  }

  /** Deletes one media (bytes, descriptor, session marker). */
  async delete(workspaceId: string, mediaId: string): Promise<void> {
    const media = await this.stat(workspaceId, mediaId).catch(() => undefined);
    const keys = [this.metaKey(workspaceId, mediaId), this.key(workspaceId, mediaId)];
    if (media?.sessionId) keys.push(`${workspacePrefix(workspaceId)}session_${media.sessionId}/${mediaId}`);
    await this.blobs.delete(keys);
  }

  /** Every media a session received (it goes with the session). */
  async deleteSession(workspaceId: string, sessionId: string): Promise<number> {
    assertId("workspaceId", workspaceId);
    assertId("sessionId", sessionId);
    const markers = await this.blobs.list(`${workspacePrefix(workspaceId)}session_${sessionId}/`);
    const keys: string[] = [];
    for (const m of markers) {
      const id = m.key.slice(m.key.lastIndexOf("/") + 1);
      // descriptor first: a half-deleted media is then simply not found
      if (isMediaId(id)) keys.push(this.metaKey(workspaceId, id), this.key(workspaceId, id));
      keys.push(m.key);
    }
    await this.deleteKeys(keys);
    return markers.length;
  }

  /** Every media of a workspace. */
  async deleteWorkspace(workspaceId: string): Promise<number> {
    assertId("workspaceId", workspaceId);
    const all = await this.blobs.list(workspacePrefix(workspaceId));
    await this.deleteKeys(sortDescriptorsFirst(all.map((b) => b.key)));
    return all.filter((b) => b.key.endsWith(".json")).length;
  }

  /** Deletes every media stored before `cutoffMs` (by the time its id carries); returns how many. */
  async sweep(cutoffMs: number): Promise<number> {
    const all = await this.blobs.list("workspace_");
    const keys: string[] = [];
    let count = 0;
    for (const b of all) {
      const name = b.key.slice(b.key.lastIndexOf("/") + 1);
      const id = name.endsWith(".json") ? name.slice(0, -5) : name;
      if (!isMediaId(id) || mediaIdTime(id) >= cutoffMs) continue;
      keys.push(b.key);
      if (name.endsWith(".json")) count++;
    }
    await this.deleteKeys(sortDescriptorsFirst(keys));
    return count;
  }

  async close(): Promise<void> {
    await this.blobs.close?.();
  }

  private key(w: string, mediaId: string): string {
    return `${workspacePrefix(w)}${mediaId}`;
  }

  private metaKey(w: string, mediaId: string): string {
    return `${workspacePrefix(w)}${mediaId}.json`;
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += this.blobs.maxDeleteBatch) await this.blobs.delete(keys.slice(i, i + this.blobs.maxDeleteBatch));
  }
}

/**
 * Counts and hashes the bytes passing through; fails the stream past `limit`. (The count is not
 * called `size` or `length`: S3's multipart Upload takes such a property for the body's total.)
 */
class MediaMeter extends Transform {
  counted = 0;
  tooLarge = false;
  private readonly hash = createHash("sha256");
  private digest?: string;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.counted += chunk.length;
    if (this.counted > this.limit) {
      this.tooLarge = true;
      done(new WafleetError("MEDIA_TOO_LARGE", `The media is larger than ${this.limit} bytes`, { limit: this.limit }));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  sha256(): string {
    this.digest ??= this.hash.digest("hex");
    return this.digest;
  }
}

/** An HTTP-style range against a size: start-end, start- (to the end), -n (the last n bytes). */
export function resolveRange(range: { start?: number; end?: number }, size: number): ByteRange | undefined {
  const { start } = range;
  let { end } = range;
  if (start === undefined) {
    // suffix range: the last `end` bytes
    if (end === undefined || end <= 0 || size === 0) return undefined;
    return { start: Math.max(0, size - end), end: size - 1 };
  }
  if (start >= size) return undefined;
  end = end === undefined || end >= size ? size - 1 : end;
  if (end < start) return undefined;
  return { start, end };
}

function sortDescriptorsFirst(keys: string[]): string[] {
  return [...keys.filter((k) => k.endsWith(".json")), ...keys.filter((k) => !k.endsWith(".json"))];
}

/** Base64 decoded in 3 MiB slices, as a stream (no whole decoded copy next to the string). */
function base64Chunks(data: string): Readable {
  const SLICE = 4 * 1024 * 1024; // a multiple of 4 characters
  let at = 0;
  return new Readable({
    read() {
      if (at >= data.length) {
        this.push(null);
        return;
      }
      this.push(Buffer.from(data.slice(at, at + SLICE), "base64"));
      at += SLICE;
    },
  });
}

async function streamText(stream: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > max) {
      stream.destroy();
      throw new Error("media descriptor too large");
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function storeError(err: unknown): Error {
  if (err instanceof WafleetError) return err;
  return new WafleetError("MEDIA_STORE_FAILED", `The media store failed: ${(err as Error)?.message ?? err}`);
}

// Where snapshots live: a small key/blob interface with two adapters, S3 (or any S3 API) and a
// local folder, chosen from BACKUP_TARGET. Keys are `/`-separated; bodies always stream.
import type { Readable } from "node:stream";

export interface BlobInfo {
  key: string;
  size: number;
}

/** Inclusive byte offsets, as HTTP ranges count them. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobStore {
  /** Where it writes, for logs and the manifest (`s3://bucket/prefix`, `file:///path`). */
  readonly description: string;
  /** The most keys one delete() accepts (S3 DeleteObjects: 1000). */
  readonly maxDeleteBatch: number;
  /** Streams `body` to `key`; the object becomes visible only once complete. */
  put(key: string, body: Readable): Promise<void>;
  /**
   * The object's bytes (only `range`, inclusive offsets, when given); rejects with
   * BlobNotFoundError if there is none.
   */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Deletes up to maxDeleteBatch keys in one request; missing keys are not an error. */
  delete(keys: string[]): Promise<void>;
  /** A URL that reads `key` without credentials for `seconds` (S3 only: presigned GET). */
  presign?(key: string, seconds: number): Promise<string>;
  close?(): Promise<void>;
}

export class BlobNotFoundError extends Error {
  readonly code = "BLOB_NOT_FOUND";

  constructor(readonly key: string) {
    super(`No object at ${key}`);
    this.name = "BlobNotFoundError";
  }
}

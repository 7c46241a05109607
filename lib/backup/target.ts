// BACKUP_TARGET -> a BlobStore: `s3://bucket/prefix` or `file:///absolute/path`.
import { FolderBlobStore } from "./folder-store";
import type { BlobStore } from "./blob-store";
import { S3BlobStore, type S3BlobStoreOptions } from "./s3-store";

export interface TargetOptions {
  s3Endpoint?: string;
  partSize?: number;
  s3Client?: S3BlobStoreOptions["client"];
  s3Sse?: S3BlobStoreOptions["sse"];
  s3KmsKeyId?: string;
}

export function openBackupTarget(target: string, opts: TargetOptions = {}): BlobStore {
  const s3 = /^s3:\/\/([a-z0-9.-]{3,63})(?:\/(.*))?$/.exec(target);
  if (s3) return new S3BlobStore({ bucket: s3[1]!, prefix: s3[2] ?? "", endpoint: opts.s3Endpoint || undefined, partSize: opts.partSize, client: opts.s3Client, sse: opts.s3Sse, kmsKeyId: opts.s3KmsKeyId });
  if (target.startsWith("file:///")) return new FolderBlobStore(decodeURIComponent(new URL(target).pathname));
  throw new Error(`BACKUP_TARGET must be s3://bucket/prefix or file:///absolute/path (got ${JSON.stringify(target)})`);
}

// MEDIA_TARGET -> the media store, on the backup blob stores: `s3://bucket/prefix` (S3_ENDPOINT
// for any S3 API) or `file:///path` (in a cluster: the shared folder every node mounts).
import { mkdirSync } from "node:fs";
import { FolderBlobStore } from "../backup/folder-store";
import { openBackupTarget, type TargetOptions } from "../backup/target";
import { MediaStore, type MediaStoreOptions } from "./store";

export function openMediaStore(target: string, opts: TargetOptions & MediaStoreOptions = {}): MediaStore {
  const blobs = openBackupTarget(target, opts);
  // a folder that cannot be created fails the start, not the first received photo
  if (blobs instanceof FolderBlobStore) mkdirSync(blobs.root, { recursive: true, mode: 0o700 });
  return new MediaStore(blobs, opts);
}

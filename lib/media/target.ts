// MEDIA_TARGET -> the media store, on the backup blob stores: `s3://bucket/prefix` (S3_ENDPOINT
// for any S3 API) or `file:///path` (in a cluster: the shared folder every node mounts).
import { openBackupTarget, type TargetOptions } from "../backup/target";
import { MediaStore, type MediaStoreOptions } from "./store";

export function openMediaStore(target: string, opts: TargetOptions & MediaStoreOptions = {}): MediaStore {
  return new MediaStore(openBackupTarget(target, opts), opts);
}

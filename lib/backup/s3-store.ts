// BACKUP_TARGET=s3://bucket/prefix: snapshots in S3 or any S3 API (S3_ENDPOINT, path-style).
// Uploads stream through lib-storage's multipart Upload, so memory stays at partSize x queueSize
// whatever an archive weighs; credentials come from the standard AWS chain.
import { AbortMultipartUploadCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Readable } from "node:stream";
import { BlobNotFoundError, type BlobInfo, type BlobStore, type ByteRange } from "./blob-store";

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix without leading or trailing slash ("" = bucket root). */
  prefix: string;
  /** An S3-compatible endpoint (MinIO, Ceph, s3rver...); path-style addressing is used with it. */
  endpoint?: string;
  /** Multipart part size in bytes (S3's minimum is 5 MiB). Default 8 MiB. */
  partSize?: number;
  /** Parts uploaded at once. Default 2. */
  queueSize?: number;
  /** Extra client settings (region, credentials...); the standard AWS chain fills what is absent. */
  client?: S3ClientConfig;
  /** Called as each part of a multipart upload is sent (progress, tests). */
  onPart?: (key: string, part: number) => void;
  /** Server-side encryption of every object written: "AES256" (default), "aws:kms", or "none" (an S3 API without it). */
  sse?: "AES256" | "aws:kms" | "none";
  /** The KMS key of "aws:kms" (default: the bucket's AWS-managed key). */
  kmsKeyId?: string;
}

export const MIN_PART_SIZE = 5 * 1024 * 1024;

export class S3BlobStore implements BlobStore {
  readonly maxDeleteBatch = 1000;
  private readonly s3: S3Client;
  private readonly prefix: string;

  constructor(private readonly opts: S3BlobStoreOptions) {
    this.prefix = opts.prefix.replace(/^\/+|\/+$/g, "");
    this.s3 = new S3Client({
      region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1",
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
      ...opts.client,
    });
  }

  get description(): string {
    return `s3://${this.opts.bucket}/${this.prefix}${this.opts.endpoint ? ` at ${this.opts.endpoint}` : ""}`;
  }

  /** Snapshots hold WhatsApp credentials: S3 encrypts every object at rest unless told there is no such thing. */
  private sse(): { ServerSideEncryption?: "AES256" | "aws:kms"; SSEKMSKeyId?: string } {
    const sse = this.opts.sse ?? "AES256";
    if (sse === "none") return {};
    return { ServerSideEncryption: sse, ...(sse === "aws:kms" && this.opts.kmsKeyId ? { SSEKMSKeyId: this.opts.kmsKeyId } : {}) };
  }

  private full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.opts.bucket, Key: this.full(key), Body: body, ...this.sse() },
      partSize: Math.max(MIN_PART_SIZE, this.opts.partSize ?? 8 * 1024 * 1024),
      queueSize: this.opts.queueSize ?? 2,
      // parts of a failed upload are aborted below, keeping the upload's own error (an abort that
      // fails inside lib-storage would replace it)
      leavePartsOnError: true,
    });
    const onPart = this.opts.onPart;
    if (onPart) upload.on("httpUploadProgress", (p) => p.part !== undefined && onPart(key, p.part));
    try {
      await upload.done();
    } catch (err) {
      body.destroy();
      const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
      if (uploadId) {
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: this.full(key), UploadId: uploadId })).catch(() => undefined);
      }
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      return res.Body as Readable;
    } catch (err: any) {
      if (err?.name === "NoSuchKey" || err?.$metadata?.httpStatusCode === 404) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const res = await this.s3.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: this.full(prefix), ContinuationToken: token }));
      for (const o of res.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(strip), size: o.Size ?? 0 });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(keys: string[]): Promise<void> {
    if (!keys.length) return;
    if (keys.length > this.maxDeleteBatch) throw new Error(`delete() takes at most ${this.maxDeleteBatch} keys`);
    const res = await this.s3.send(
      new DeleteObjectsCommand({ Bucket: this.opts.bucket, Delete: { Objects: keys.map((k) => ({ Key: this.full(k) })), Quiet: true } }),
    );
    const failed = (res.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
    if (failed.length) throw new Error(`S3 refused to delete ${failed.length} objects, e.g. ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ""}`);
  }

  /** A presigned GET (SigV4 query authentication), valid for `seconds` (S3 allows up to 7 days). */
  presign(key: string, seconds: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key) }), { expiresIn: seconds });
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }
}

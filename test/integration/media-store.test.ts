// The media store on both blob stores it runs on (a folder, and S3 through a real S3 API server):
// streamed writes hashed and counted on the way, size limits, ranges, deletion with a session or a
// workspace, the retention sweep, and ids that cannot reach outside a workspace.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { FolderBlobStore } from "../../lib/backup/folder-store";
import { S3BlobStore } from "../../lib/backup/s3-store";
import { inboundMediaId, isMediaId, mediaIdTime, newMediaId } from "../../lib/media/ids";
import { MediaSweeper } from "../../lib/media/retention";
import { MediaStore, resolveRange } from "../../lib/media/store";
import { startTestS3, type TestS3 } from "../helpers/s3";
import { tempDir } from "../helpers/processes";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3?.destroy();
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
/** A body delivered in small pieces, as a network would. */
function trickle(buf: Buffer, piece = 64 * 1024): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= buf.length) return void this.push(null);
      this.push(buf.subarray(at, at + piece));
      at += piece;
    },
  });
}

const stores: Array<[string, () => Promise<MediaStore>]> = [
  ["a folder", async () => new MediaStore(new FolderBlobStore(await tempDir("media")), { maxBytes: 8 * 1024 * 1024 })],
  [
    "S3",
    async () =>
      new MediaStore(new S3BlobStore({ bucket: s3.bucket, prefix: `media-${randomBytes(4).toString("hex")}`, endpoint: s3.endpoint, partSize: 5 * 1024 * 1024, client: { credentials: s3.credentials, region: "us-east-1" } }), {
        maxBytes: 8 * 1024 * 1024,
      }),
  ],
];

describe.each(stores)("the media store on %s", (_name, open) => {
  let store: MediaStore;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(async () => {
    await store.close();
  });

  it("streams media in, describes it, and streams it back whole or by range", async () => {
    // above the S3 store's part size (5 MiB here): the upload goes in parts
    const photo = randomBytes(6 * 1024 * 1024 + 123);
    const d = await store.put("acme", trickle(photo), { mimetype: "image/jpeg", filename: "cat.jpg" });
    expect(isMediaId(d.mediaId)).toBe(true);
    expect(d).toEqual({ mediaId: d.mediaId, mimetype: "image/jpeg", size: photo.length, sha256: sha(photo), filename: "cat.jpg", url: `/api/v1/workspaces/acme/media/${d.mediaId}` });
    const whole = await store.open("acme", d.mediaId);
    expect(sha(await bytesOf(whole.stream))).toBe(sha(photo));
    const part = await store.open("acme", d.mediaId, { start: 1000, end: 1999 });
    expect(part.range).toEqual({ start: 1000, end: 1999 });
    expect((await bytesOf(part.stream)).equals(photo.subarray(1000, 2000))).toBe(true);
    const tail = await store.open("acme", d.mediaId, { end: 10 });
    expect((await bytesOf(tail.stream)).equals(photo.subarray(photo.length - 10))).toBe(true);
    await expect(store.open("acme", d.mediaId, { start: photo.length })).rejects.toMatchObject({ type: "RANGE_NOT_SATISFIABLE", code: 416 });
  });

  it("keeps each workspace's media to itself and refuses ids that are not media ids", async () => {
    const d = await store.put("acme", trickle(Buffer.from("hello")), { mimetype: "text/plain" });
    await expect(store.stat("other", d.mediaId)).rejects.toMatchObject({ type: "MEDIA_NOT_FOUND", code: 404 });
    for (const bad of ["../acme/" + d.mediaId, d.mediaId.toLowerCase(), `${d.mediaId}.json`, "", "x".repeat(26)]) {
      await expect(store.stat("acme", bad)).rejects.toMatchObject({ type: "MEDIA_NOT_FOUND" });
    }
    await expect(store.stat("../acme", d.mediaId)).rejects.toMatchObject({ type: "VALIDATION_ERROR" });
    await expect(store.put("acme", trickle(Buffer.from("x")), { mimetype: "text/plain", mediaId: "../../etc/passwd" })).rejects.toMatchObject({ type: "VALIDATION_ERROR" });
  });

  it("refuses media over its limit and leaves nothing behind", async () => {
    await expect(store.put("acme", trickle(randomBytes(2 * 1024 * 1024)), { mimetype: "video/mp4", maxBytes: 1024 * 1024 })).rejects.toMatchObject({ type: "MEDIA_TOO_LARGE", code: 413 });
    expect((await store.blobs.list("workspace_acme/")).filter((b) => !b.key.includes("partial"))).toEqual([]);
  });

  it("stores a redelivered message's media once, under an id derived from the message", async () => {
    const id = inboundMediaId("acme", "main", "MSG1", 1_700_000_000);
    expect(inboundMediaId("acme", "main", "MSG1", 1_700_000_000)).toBe(id);
    expect(inboundMediaId("acme", "main", "MSG2", 1_700_000_000)).not.toBe(id);
    expect(mediaIdTime(id)).toBe(1_700_000_000_000);
    const data = randomBytes(300_000).toString("base64");
    const a = await store.putBase64("acme", data, { mimetype: "image/png", sessionId: "main", mediaId: id });
    const b = await store.putBase64("acme", data, { mimetype: "image/png", sessionId: "main", mediaId: id });
    expect(b).toEqual(a);
    expect((await store.blobs.list("workspace_acme/")).map((x) => x.key).sort()).toEqual([`workspace_acme/${id}`, `workspace_acme/${id}.json`, `workspace_acme/session_main/${id}`].sort());
  });

  it("deletes a session's media with it, and a workspace's with the workspace", async () => {
    const mine = await store.put("acme", trickle(Buffer.from("one")), { mimetype: "text/plain", sessionId: "main" });
    const other = await store.put("acme", trickle(Buffer.from("two")), { mimetype: "text/plain", sessionId: "second" });
    const upload = await store.put("acme", trickle(Buffer.from("three")), { mimetype: "text/plain" });
    const elsewhere = await store.put("beta", trickle(Buffer.from("four")), { mimetype: "text/plain", sessionId: "main" });
    expect(await store.deleteSession("acme", "main")).toBe(1);
    await expect(store.stat("acme", mine.mediaId)).rejects.toMatchObject({ type: "MEDIA_NOT_FOUND" });
    await expect(store.stat("acme", other.mediaId)).resolves.toMatchObject({ sessionId: "second" });
    await expect(store.stat("acme", upload.mediaId)).resolves.toBeDefined();
    expect(await store.deleteWorkspace("acme")).toBe(2);
    expect(await store.blobs.list("workspace_acme/")).toEqual([]);
    await expect(store.stat("beta", elsewhere.mediaId)).resolves.toBeDefined();
  });

  it("sweeps media older than the retention, by the time its id carries", async () => {
    const day = 86_400_000;
    const now = Date.now();
    const old = await store.put("acme", trickle(Buffer.from("old")), { mimetype: "text/plain", sessionId: "main", mediaId: newMediaId(now - 31 * day) });
    const fresh = await store.put("acme", trickle(Buffer.from("new")), { mimetype: "text/plain", sessionId: "main", mediaId: newMediaId(now - 29 * day) });
    const sweeper = new MediaSweeper({ store, retentionDays: 30, intervalMs: 60_000, now: () => now });
    expect(await sweeper.sweep()).toBe(1);
    await expect(store.stat("acme", old.mediaId)).rejects.toMatchObject({ type: "MEDIA_NOT_FOUND" });
    await expect(store.stat("acme", fresh.mediaId)).resolves.toBeDefined();
    expect((await store.blobs.list("workspace_acme/")).map((b) => b.key).filter((k) => k.includes(old.mediaId))).toEqual([]);
    await sweeper.stop();
  });
});

describe("presigned URLs", () => {
  it("reads an S3 media without a key; a folder store has none", async () => {
    const store = new MediaStore(new S3BlobStore({ bucket: s3.bucket, prefix: "presign", endpoint: s3.endpoint, client: { credentials: s3.credentials, region: "us-east-1" } }));
    const bytes = randomBytes(50_000);
    const d = await store.put("acme", trickle(bytes), { mimetype: "image/png" });
    const signed = await store.withPresignedUrl("acme", d, 600);
    expect(signed).toMatchObject({ ...d, presignedUrl: expect.stringContaining("X-Amz-Signature="), presignedUntil: expect.any(String) });
    const got = await fetch(signed.presignedUrl!);
    expect(got.status).toBe(200);
    expect(sha(Buffer.from(await got.arrayBuffer()))).toBe(sha(bytes));
    await store.close();
    const folder = new MediaStore(new FolderBlobStore(await tempDir("media")));
    const f = await folder.put("acme", trickle(bytes), { mimetype: "image/png" });
    expect(await folder.withPresignedUrl("acme", f, 600)).toEqual(f);
  });
});

describe("ranges", () => {
  it("resolves HTTP-style ranges against a size", () => {
    expect(resolveRange({ start: 0, end: 0 }, 10)).toEqual({ start: 0, end: 0 });
    expect(resolveRange({ start: 5 }, 10)).toEqual({ start: 5, end: 9 });
    expect(resolveRange({ start: 5, end: 100 }, 10)).toEqual({ start: 5, end: 9 });
    expect(resolveRange({ end: 3 }, 10)).toEqual({ start: 7, end: 9 });
    expect(resolveRange({ end: 30 }, 10)).toEqual({ start: 0, end: 9 });
    expect(resolveRange({ start: 10 }, 10)).toBeUndefined();
    expect(resolveRange({ start: 6, end: 5 }, 10)).toBeUndefined();
    expect(resolveRange({ end: 0 }, 10)).toBeUndefined();
  });
});

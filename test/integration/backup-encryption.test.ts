// Backups at rest (issue 16, finding 7): every object asks S3 for server-side encryption, and with
// BACKUP_ENCRYPTION_KEY each archive is sealed (AES-256-GCM) before it leaves the node and the
// manifest is signed. Restore opens what a key of the ring sealed (rotation: the new key first,
// the old one still opens old snapshots) and refuses anything altered or not sealed. Against a real
// S3 API (s3rver).
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { SnapshotCatalog } from "../../lib/backup/catalog";
import { BackupKeyring, parseBackupKeys, signManifest } from "../../lib/backup/encryption";
import { archiveKey, manifestKey } from "../../lib/backup/manifest";
import { restoreSnapshot, type SessionControl } from "../../lib/backup/restore";
import { S3BlobStore } from "../../lib/backup/s3-store";
import { takeSnapshot } from "../../lib/backup/snapshot";
import { verifySnapshot } from "../../lib/backup/verify";
import { ConfigError, loadConfig } from "../../lib/config";
import { startTestS3, type TestS3 } from "../helpers/s3";
import { tempDir } from "../helpers/processes";

const quiet = { info() {}, warn() {}, error() {} };
const PREFIX = "sealed";
let s3: TestS3;
let store: S3BlobStore;
let root: string;
let sessionsDir: string;
/** x-amz-server-side-encryption of every write request the store sent. */
const sseHeaders: Array<string | undefined> = [];

const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const OLD = key("k2026a");
const NEW = key("k2026b");
const ring = (raw: string) => new BackupKeyring(parseBackupKeys(raw));
const CREDS = JSON.stringify({ deviceId: "d1", secret: "very-secret-signal-keys", phone: "15550000001" });
const meta = (w: string, s: string) => JSON.stringify({ workspaceId: w, sessionId: s, accountId: null, desired: "stopped", metadata: {}, createdAt: "x", updatedAt: "x", fencingToken: 3 });

beforeAll(async () => {
  s3 = await startTestS3();
  store = new S3BlobStore({ bucket: s3.bucket, prefix: PREFIX, endpoint: s3.endpoint, client: { credentials: s3.credentials, region: "us-east-1" } });
  (store as any).s3.middlewareStack.add(
    (next: any) => async (args: any) => {
      if (["PUT", "POST"].includes(args.request?.method) && !/uploadId=|delete/.test(JSON.stringify(args.request.query ?? {}))) sseHeaders.push(args.request.headers["x-amz-server-side-encryption"]);
      return next(args);
    },
    { step: "finalizeRequest", name: "recordSse" },
  );
  root = await tempDir("backup-sealed");
  sessionsDir = path.join(root, "sessions");
  for (const [w, s] of [["acme", "s1"], ["beta", "s2"]] as const) {
    await fs.mkdir(path.join(sessionsDir, `workspace_${w}`, `session_${s}`, "auth"), { recursive: true });
    await fs.writeFile(path.join(sessionsDir, `workspace_${w}`, `session_${s}`, "meta.json"), meta(w, s));
    await fs.writeFile(path.join(sessionsDir, `workspace_${w}`, `session_${s}`, "auth", "creds.json"), CREDS);
  }
});

afterAll(async () => {
  await store.close();
  await s3.destroy();
  await fs.rm(root, { recursive: true, force: true });
});

const snapshot = (keyring?: BackupKeyring) => takeSnapshot({ store, sessionsDir, node: "n1", engine: "simulator", wafleetVersion: "t", keyring });
const control = (): SessionControl => ({ list: async () => [], stop: async () => undefined, start: async () => undefined });
const restoreInto = async (dir: string, id: string, keyring?: BackupKeyring) => restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir: dir, control: control(), logger: quiet, keyring }, id);

async function readObject(k: string): Promise<Buffer> {
  const res = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${k}` }));
  return Buffer.from(await res.Body!.transformToByteArray());
}
async function writeObject(k: string, body: Buffer | string): Promise<void> {
  await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${k}`, Body: body }));
}

it("asks S3 to encrypt every object it writes (AES256 unless configured otherwise)", async () => {
  sseHeaders.length = 0;
  await snapshot();
  expect(sseHeaders.length).toBeGreaterThanOrEqual(3); // two archives and the manifest
  expect(new Set(sseHeaders)).toEqual(new Set(["AES256"]));
  expect(loadConfig({ BACKUP_S3_SSE: "aws:kms", BACKUP_S3_KMS_KEY_ID: "alias/wafleet" })).toMatchObject({ backupS3Sse: "aws:kms", backupS3KmsKeyId: "alias/wafleet" });
});

it("seals archives and signs the manifest; verify and restore open them with the key", async () => {
  const m = await snapshot(ring(OLD));
  expect(m.mac).toMatchObject({ alg: "hmac-sha256", keyId: "k2026a" });
  for (const a of m.archives) {
    expect(a.encryption).toMatchObject({ alg: "aes-256-gcm", keyId: "k2026a" });
    const stored = await readObject(archiveKey(m.id, a.workspaceId));
    // not gzip, and nothing of the credentials readable
    expect(stored.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
    expect(stored.includes(Buffer.from("very-secret"))).toBe(false);
  }
  expect((await verifySnapshot(store, new SnapshotCatalog(store), m.id, "n1", undefined, ring(OLD))).ok).toBe(true);
  const dir = path.join(root, "restored-1");
  const report = await restoreInto(dir, m.id, ring(OLD));
  expect(report.workspaces.map((w) => w.workspaceId)).toEqual(["acme", "beta"]);
  expect(await fs.readFile(path.join(dir, "workspace_acme/session_s1/auth/creds.json"), "utf8")).toBe(CREDS);
});

it("rotates keys: the new key seals, the old one still opens old snapshots, a ring without it cannot", async () => {
  const old = await snapshot(ring(OLD));
  const rotated = ring(`${NEW},${OLD}`);
  const fresh = await snapshot(rotated);
  expect(fresh.archives[0]!.encryption!.keyId).toBe("k2026b");
  expect(fresh.mac!.keyId).toBe("k2026b");
  await restoreInto(path.join(root, "restored-2"), old.id, rotated);
  await restoreInto(path.join(root, "restored-3"), fresh.id, rotated);
  await expect(restoreInto(path.join(root, "restored-4"), old.id, ring(NEW))).rejects.toMatchObject({ type: "SNAPSHOT_INVALID", message: expect.stringMatching(/k2026a, which BACKUP_ENCRYPTION_KEY does not hold/) });
});

it("refuses a sealed snapshot whose archive or manifest was altered, before touching anything", async () => {
  const keyring = ring(OLD);
  const m = await snapshot(keyring);
  const a = m.archives[0]!;
  const stored = await readObject(archiveKey(m.id, a.workspaceId));
  const flipped = Buffer.from(stored);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
  // 1. the archive altered and the manifest's hash updated to match: the signature no longer does
  await writeObject(archiveKey(m.id, a.workspaceId), flipped);
  const forged = { ...m, archives: m.archives.map((x) => (x === a ? { ...x, sha256: createHash("sha256").update(flipped).digest("hex") } : x)) };
  await writeObject(manifestKey(m.id), JSON.stringify(forged));
  const dir = path.join(root, "restored-5");
  await expect(restoreInto(dir, m.id, keyring)).rejects.toMatchObject({ type: "SNAPSHOT_INVALID", message: expect.stringMatching(/altered/) });
  // 2. even a manifest re-signed with the key (so only the archive can tell): opening it fails (the
  //    deciphered stream is garbage to gunzip at once, and the GCM tag fails at its end)
  await writeObject(manifestKey(m.id), JSON.stringify({ ...forged, mac: signManifest(keyring.current, { ...forged, mac: undefined }) }));
  await expect(restoreInto(dir, m.id, keyring)).rejects.toMatchObject({ type: "SNAPSHOT_INVALID", message: expect.stringMatching(/^Archive of workspace acme/) });
  // 3. one workspace's sealed archive served as another's: it does not open there
  await writeObject(archiveKey(m.id, a.workspaceId), stored);
  const other = m.archives[1]!;
  await writeObject(archiveKey(m.id, other.workspaceId), stored);
  const swapped = { ...m, archives: m.archives.map((x) => (x === other ? { ...x, size: a.size, sha256: a.sha256, files: a.files, encryption: a.encryption } : x)), mac: undefined };
  await writeObject(manifestKey(m.id), JSON.stringify({ ...swapped, mac: signManifest(keyring.current, swapped) }));
  await expect(restoreInto(dir, m.id, keyring)).rejects.toMatchObject({ type: "SNAPSHOT_INVALID", message: expect.stringMatching(/^Archive of workspace beta/) });
  await expect(fs.readdir(dir)).resolves.toEqual([]);
});

it("with a key set, refuses snapshots that are not sealed; without one, cannot open sealed ones", async () => {
  const plain = await snapshot();
  await expect(restoreInto(path.join(root, "restored-6"), plain.id, ring(OLD))).rejects.toMatchObject({ type: "SNAPSHOT_INVALID", message: expect.stringMatching(/not signed/) });
  const sealed = await snapshot(ring(OLD));
  await expect(restoreInto(path.join(root, "restored-7"), sealed.id)).rejects.toMatchObject({ type: "SNAPSHOT_INVALID", message: expect.stringMatching(/set BACKUP_ENCRYPTION_KEY/) });
  // an unsigned manifest claiming sealed archives is refused too
  await writeObject(manifestKey(sealed.id), JSON.stringify({ ...sealed, mac: undefined }));
  await expect(restoreInto(path.join(root, "restored-8"), sealed.id, ring(OLD))).rejects.toMatchObject({ type: "SNAPSHOT_INVALID" });
});

it("refuses a malformed BACKUP_ENCRYPTION_KEY at start, without echoing it", () => {
  for (const bad of ["no-id-here", "k1:c2hvcnQ=", `${OLD},${OLD}`]) {
    try {
      loadConfig({ BACKUP_ENCRYPTION_KEY: bad });
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe("BACKUP_ENCRYPTION_KEY");
      expect((err as Error).message).not.toContain(bad.split(":")[1] ?? bad);
    }
  }
  expect(loadConfig({ BACKUP_ENCRYPTION_KEY: `${NEW},${OLD}` }).backupEncryptionKey).toContain("k2026b");
});

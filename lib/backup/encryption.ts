// Client-side encryption of snapshots (BACKUP_ENCRYPTION_KEY): snapshots hold WhatsApp credentials,
// so with a key set each archive is sealed with AES-256-GCM before it leaves the node and the
// manifest carries an HMAC over everything it says. Keys have ids: the first key of the list seals
// new snapshots, the others still open older ones, so a key is rotated by putting a new one first.
// With a key set, a restore refuses what is not sealed with a key it holds, and anything altered.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual, type CipherGCM, type DecipherGCM } from "node:crypto";
import type { Transform } from "node:stream";

export const ARCHIVE_CIPHER = "aes-256-gcm";
export const MANIFEST_MAC = "hmac-sha256";

export interface BackupKey {
  id: string;
  /** 32 random bytes. */
  secret: Buffer;
}

/** How one archive was sealed (in the manifest beside its size and hash). */
export interface ArchiveSeal {
  alg: typeof ARCHIVE_CIPHER;
  keyId: string;
  /** base64 */
  iv: string;
  /** base64 GCM tag */
  tag: string;
}

export interface ManifestMac {
  alg: typeof MANIFEST_MAC;
  keyId: string;
  /** hex */
  value: string;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export class BackupKeyError extends Error {}

/** `id:base64key[,id:base64key...]`, each key 32 bytes (e.g. `openssl rand -base64 32`). */
export function parseBackupKeys(raw: string): BackupKey[] {
  const keys = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const at = entry.indexOf(":");
      const id = at > 0 ? entry.slice(0, at) : "";
      if (!KEY_ID.test(id)) throw new BackupKeyError(`entry ${i + 1} needs an id: <id>:<base64 of 32 random bytes> (id: 1-32 of A-Z a-z 0-9 _ -)`);
      const secret = Buffer.from(entry.slice(at + 1), "base64");
      if (secret.length !== 32) throw new BackupKeyError(`key ${id} is ${secret.length} bytes; expected 32 (openssl rand -base64 32)`);
      return { id, secret };
    });
  const ids = keys.map((k) => k.id);
  if (new Set(ids).size !== ids.length) throw new BackupKeyError("a key id appears twice");
  return keys;
}

/** The operator's keys: the first seals, every one opens. */
export class BackupKeyring {
  constructor(readonly keys: BackupKey[]) {
    if (!keys.length) throw new BackupKeyError("a keyring needs at least one key");
  }

  get current(): BackupKey {
    return this.keys[0]!;
  }

  byId(id: string): BackupKey | undefined {
    return this.keys.find((k) => k.id === id);
  }
}

/** One key for each use, derived from the operator's key. */
function subkey(k: BackupKey, use: "archive" | "manifest"): Buffer {
  return Buffer.from(hkdfSync("sha256", k.secret, Buffer.from("wafleet-backup"), Buffer.from(use), 32));
}

/** Binds an archive to its snapshot and workspace: moved elsewhere, it no longer opens. */
export const archiveAad = (snapshotId: string, workspaceId: string) => Buffer.from(`wafleet-archive|${snapshotId}|${workspaceId}`);

/** A cipher stream for one archive; seal() (after the stream ended) says how it was sealed. */
export function sealArchive(k: BackupKey, aad: Buffer): { stream: Transform; seal(): ArchiveSeal } {
  const iv = randomBytes(12);
  const cipher = createCipheriv(ARCHIVE_CIPHER, subkey(k, "archive"), iv) as CipherGCM;
  cipher.setAAD(aad);
  return { stream: cipher, seal: () => ({ alg: ARCHIVE_CIPHER, keyId: k.id, iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64") }) };
}

/** A decipher stream for a sealed archive: it fails at its end if a byte was altered. */
export function openArchive(keyring: BackupKeyring, seal: ArchiveSeal, aad: Buffer): Transform {
  const k = keyring.byId(seal.keyId);
  if (!k) throw new BackupKeyError(`sealed with key ${seal.keyId}, which BACKUP_ENCRYPTION_KEY does not hold`);
  const decipher = createDecipheriv(ARCHIVE_CIPHER, subkey(k, "archive"), Buffer.from(seal.iv, "base64")) as DecipherGCM;
  decipher.setAAD(aad);
  decipher.setAuthTag(Buffer.from(seal.tag, "base64"));
  return decipher;
}

/** JSON with sorted keys: the bytes the manifest's MAC covers. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

function macOf(k: BackupKey, manifest: Record<string, unknown>): string {
  const { mac: _mac, ...rest } = manifest;
  return createHmac("sha256", subkey(k, "manifest")).update(canonical(rest)).digest("hex");
}

export function signManifest(k: BackupKey, manifest: Record<string, unknown>): ManifestMac {
  return { alg: MANIFEST_MAC, keyId: k.id, value: macOf(k, manifest) };
}

/** Throws unless the manifest carries a MAC of a key the keyring holds, over exactly what it says. */
export function checkManifestMac(keyring: BackupKeyring, manifest: Record<string, any>): void {
  const mac = manifest.mac as ManifestMac | undefined;
  if (!mac || mac.alg !== MANIFEST_MAC || typeof mac.value !== "string") throw new BackupKeyError("the manifest is not signed, and BACKUP_ENCRYPTION_KEY is set: only sealed snapshots are restored");
  const k = keyring.byId(mac.keyId);
  if (!k) throw new BackupKeyError(`the manifest is signed with key ${mac.keyId}, which BACKUP_ENCRYPTION_KEY does not hold`);
  const expected = Buffer.from(macOf(k, manifest), "hex");
  const got = Buffer.from(mac.value, "hex");
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new BackupKeyError("the manifest's signature does not match: it was altered");
}

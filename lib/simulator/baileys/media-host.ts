// The fake WhatsApp server's media host: what `media_conn` points Baileys at. A loopback HTTPS server
// (a self-signed certificate the engine trusts only in simulation) where a client uploads encrypted
// media (`POST /mms/<type>/<fileEncSha256>?auth=…`) and downloads what the server hosts for it
// (`GET /v/t62.7118-24/<id>.enc`), plus WhatsApp's media encryption written here with node:crypto
// (HKDF-SHA256 of the mediaKey, AES-256-CBC, a 10-byte HMAC-SHA256), independent of Baileys' own
// helpers so a mistake shared by both sides cannot hide.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { selfSignedLoopback } from "./tls-cert";
import type { TlsIdentity } from "./tls-cert";

/** WhatsApp's media kinds as its Message protobuf has them, and the HKDF info of each. */
export type WaMediaType = "image" | "video" | "audio" | "document" | "sticker";
const HKDF_INFO: Record<WaMediaType, string> = {
  image: "WhatsApp Image Keys",
  sticker: "WhatsApp Image Keys",
  video: "WhatsApp Video Keys",
  audio: "WhatsApp Audio Keys",
  document: "WhatsApp Document Keys",
};
/** Upload paths (`/mms/<path>`) and the media type each carries. */
const UPLOAD_PATHS: Record<string, WaMediaType> = { image: "image", video: "video", audio: "audio", document: "document" };

/** The largest media accepted (plaintext), as the simulated network's (64 MiB). */
export const MEDIA_HOST_MAX_BYTES = 64 * 1024 * 1024;
/** An encrypted file adds at most a padding block and the 10-byte MAC. */
const maxEncBytes = (plain: number) => plain + 16 + 10;
const MAC_BYTES = 10;

export class MediaCodecError extends Error {
  constructor(
    readonly code: "MEDIA_NOT_FOUND" | "MEDIA_HASH_MISMATCH" | "MEDIA_MAC_MISMATCH" | "MEDIA_BAD_KEY" | "MEDIA_TOO_LARGE" | "MEDIA_DECRYPT_FAILED",
    message: string,
  ) {
    super(message);
  }
}

function expand(mediaKey: Buffer, type: WaMediaType): { iv: Buffer; cipherKey: Buffer; macKey: Buffer } {
  if (mediaKey.length !== 32) throw new MediaCodecError("MEDIA_BAD_KEY", `a media key is 32 bytes, not ${mediaKey.length}`);
  const k = Buffer.from(hkdfSync("sha256", mediaKey, Buffer.alloc(32), HKDF_INFO[type], 112));
  return { iv: k.subarray(0, 16), cipherKey: k.subarray(16, 48), macKey: k.subarray(48, 80) };
}

export interface EncryptedMedia {
  mediaKey: Buffer;
  /** ciphertext followed by the 10-byte MAC: the bytes the media host serves */
  enc: Buffer;
  fileSha256: Buffer;
  fileEncSha256: Buffer;
  fileLength: number;
}

/** Encrypts media as a sending phone does, under a fresh media key. */
export function encryptMedia(plain: Buffer, type: WaMediaType): EncryptedMedia {
  const mediaKey = randomBytes(32);
  const { iv, cipherKey, macKey } = expand(mediaKey, type);
  const cipher = createCipheriv("aes-256-cbc", cipherKey, iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  const mac = createHmac("sha256", macKey).update(iv).update(body).digest().subarray(0, MAC_BYTES);
  const enc = Buffer.concat([body, mac]);
  return { mediaKey, enc, fileSha256: createHash("sha256").update(plain).digest(), fileEncSha256: createHash("sha256").update(enc).digest(), fileLength: plain.length };
}

/**
 * Decrypts uploaded media with the key its message carries, checking everything the message claims:
 * the encrypted file's hash, the MAC, the plaintext's hash and length.
 */
export function decryptMedia(enc: Buffer, mediaKey: Buffer, type: WaMediaType, claims: { fileEncSha256?: Buffer; fileSha256?: Buffer; fileLength?: number }): Buffer {
  if (claims.fileEncSha256 && !createHash("sha256").update(enc).digest().equals(claims.fileEncSha256)) throw new MediaCodecError("MEDIA_HASH_MISMATCH", "the encrypted file does not match its fileEncSha256");
  const { iv, cipherKey, macKey } = expand(mediaKey, type);
  if (enc.length < MAC_BYTES + 16 || (enc.length - MAC_BYTES) % 16 !== 0) throw new MediaCodecError("MEDIA_DECRYPT_FAILED", `an encrypted file of ${enc.length} bytes is not AES blocks and a MAC`);
  const body = enc.subarray(0, enc.length - MAC_BYTES);
  const mac = createHmac("sha256", macKey).update(iv).update(body).digest().subarray(0, MAC_BYTES);
  if (!timingSafeEqual(mac, enc.subarray(enc.length - MAC_BYTES))) throw new MediaCodecError("MEDIA_MAC_MISMATCH", "the media's MAC does not match its key");
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-cbc", cipherKey, iv);
    plain = Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (err) {
    throw new MediaCodecError("MEDIA_DECRYPT_FAILED", `the media cannot be decrypted: ${(err as Error).message}`);
  }
  if (claims.fileSha256 && !createHash("sha256").update(plain).digest().equals(claims.fileSha256)) throw new MediaCodecError("MEDIA_HASH_MISMATCH", "the decrypted media does not match its fileSha256");
  if (claims.fileLength !== undefined && claims.fileLength !== plain.length) throw new MediaCodecError("MEDIA_HASH_MISMATCH", `the media is ${plain.length} bytes, its message says ${claims.fileLength}`);
  return plain;
}

const b64url = (b: Buffer) => b.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export interface MediaHostOptions {
  /** Largest plaintext accepted on upload. Default MEDIA_HOST_MAX_BYTES. */
  maxBytes?: number;
  /** How long an upload auth token (media_conn) and a hosted file live. Defaults 5 min / 15 min. */
  authTtlMs?: number;
  fileTtlMs?: number;
  /** Bytes of files kept at most (the oldest go first). Default 512 MiB. */
  maxStoredBytes?: number;
}

/** The media host: uploads in, hosted files out, everything in memory and bounded. */
export class MediaHost {
  readonly identity: TlsIdentity = selfSignedLoopback();
  readonly maxBytes: number;
  private readonly authTtlMs: number;
  private readonly fileTtlMs: number;
  private readonly maxStoredBytes: number;
  private server: https.Server | undefined;
  private listening: Promise<void> | undefined;
  private port = 0;
  /** auth token -> expiry (ms) */
  private readonly tokens = new Map<string, number>();
  /** file id -> the encrypted bytes and their expiry; insertion order is age */
  private readonly files = new Map<string, { enc: Buffer; expires: number }>();
  private storedBytes = 0;
  private closed = false;

  constructor(opts: MediaHostOptions = {}) {
    this.maxBytes = opts.maxBytes ?? MEDIA_HOST_MAX_BYTES;
    this.authTtlMs = opts.authTtlMs ?? 5 * 60_000;
    this.fileTtlMs = opts.fileTtlMs ?? 15 * 60_000;
    this.maxStoredBytes = opts.maxStoredBytes ?? 512 * 1024 * 1024;
  }

  /** The certificate a client must trust (PEM, self-signed). */
  get caPem(): string {
    return this.identity.cert;
  }

  /** `127.0.0.1:<port>` once listening (what media_conn names as the host). */
  get hostname(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the HTTPS server on a free loopback port (once). */
  listen(): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the media host is closed"));
    this.listening ??= new Promise<void>((resolve, reject) => {
      const server = https.createServer({ cert: this.identity.cert, key: this.identity.key }, (req, res) => this.onRequest(req, res));
      server.keepAliveTimeout = 2000;
      server.on("error", reject);
      server.listen(0, "127.0.0.1", () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
      this.server = server;
    });
    return this.listening;
  }

  /** A fresh upload token for `media_conn`, valid for authTtlMs. */
  issueAuth(): { auth: string; ttlSeconds: number } {
    this.prune();
    const auth = randomBytes(24).toString("base64");
    this.tokens.set(auth, Date.now() + this.authTtlMs);
    return { auth, ttlSeconds: Math.floor(this.authTtlMs / 1000) };
  }

  /** Hosts encrypted bytes for a client to download; returns the url and directPath of the file. */
  host(enc: Buffer): { url: string; directPath: string } {
    const id = b64url(createHash("sha256").update(enc).digest());
    this.store(id, enc);
    const directPath = `/v/t62.7118-24/${id}.enc?ccb=11-4`;
    return { url: `https://${this.hostname}${directPath}`, directPath };
  }

  /** The encrypted bytes a message's directPath (or url) names, if this host has them. */
  fileOf(directPath: string | undefined, url: string | undefined): Buffer | undefined {
    const path = directPath ?? (url ? safeUrl(url)?.pathname : undefined);
    const id = path ? /^\/v\/t62\.7118-24\/([A-Za-z0-9_-]{43})\.enc(?:\?.*)?$/.exec(path)?.[1] : undefined;
    const f = id ? this.files.get(id) : undefined;
    return f && f.expires > Date.now() ? f.enc : undefined;
  }

  close(): void {
    this.closed = true;
    this.server?.close();
    this.server?.closeAllConnections();
    this.files.clear();
    this.tokens.clear();
    this.storedBytes = 0;
  }

  private store(id: string, enc: Buffer): void {
    const old = this.files.get(id);
    if (old) {
      this.files.delete(id);
      this.storedBytes -= old.enc.length;
    }
    this.files.set(id, { enc, expires: Date.now() + this.fileTtlMs });
    this.storedBytes += enc.length;
    this.prune();
  }

  private prune(): void {
    const now = Date.now();
    for (const [t, exp] of this.tokens) if (exp <= now) this.tokens.delete(t);
    for (const [id, f] of this.files) {
      if (f.expires > now && this.storedBytes <= this.maxStoredBytes) break;
      this.files.delete(id);
      this.storedBytes -= f.enc.length;
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const answer = (status: number, body: Record<string, unknown>) => {
      if (res.headersSent) return;
      res.writeHead(status, { "Content-Type": "application/json", Connection: "close" });
      res.end(JSON.stringify(body));
    };
    const refuse = (status: number, code: string, message: string) => {
      answer(status, { error: code, message });
      req.resume();
    };
    const url = safeUrl(`https://${this.hostname}${req.url ?? ""}`);
    // the raw path, before any normalisation: a dot segment or an escape is refused, not resolved
    const rawPath = (req.url ?? "").split("?")[0];
    if (!url || rawPath !== url.pathname || /%|\/\.\.?(\/|$)|\/\//.test(rawPath)) return refuse(400, "BAD_PATH", "the path is not one of the media host's");
    if (req.method === "GET") {
      const enc = this.fileOf(rawPath, undefined);
      if (!enc) return refuse(404, "MEDIA_NOT_FOUND", "no such media (or it expired)");
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": enc.length });
      res.end(enc);
      return;
    }
    if (req.method !== "POST") return refuse(405, "BAD_METHOD", "POST to upload, GET to download");
    const m = /^\/mms\/([a-z]+)\/([A-Za-z0-9_-]{43})$/.exec(rawPath);
    const type = m ? UPLOAD_PATHS[m[1]] : undefined;
    if (!m || !type) return refuse(400, "BAD_PATH", "uploads go to /mms/<image|video|audio|document>/<fileEncSha256>");
    const auth = url.searchParams.get("auth");
    const exp = auth ? this.tokens.get(auth) : undefined;
    if (!exp || exp <= Date.now()) return refuse(401, "BAD_AUTH", "the upload's auth is not a current media_conn token");
    const limit = maxEncBytes(this.maxBytes);
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) return refuse(413, "MEDIA_TOO_LARGE", `the media host takes at most ${limit} encrypted bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > limit) {
        refused = true;
        chunks.length = 0;
        return refuse(413, "MEDIA_TOO_LARGE", `the media host takes at most ${limit} encrypted bytes`);
      }
      chunks.push(c);
    });
    req.on("error", () => undefined);
    req.on("end", () => {
      if (refused) return;
      const enc = Buffer.concat(chunks);
      const hash = b64url(createHash("sha256").update(enc).digest());
      if (hash !== m[2]) return answer(400, { error: "MEDIA_HASH_MISMATCH", message: "the body does not hash to the path's fileEncSha256" });
      if (enc.length < MAC_BYTES + 16) return answer(400, { error: "MEDIA_DECRYPT_FAILED", message: "too short to be encrypted media" });
      const hosted = this.host(enc);
      answer(200, { url: hosted.url, direct_path: hosted.directPath });
    });
  }
}

function safeUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

// Admin API keys. Only sha256 digests are kept; a presented key is hashed and compared in
// constant time. With no API_KEYS the first start generates a key, shows it once, keeps its hash.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { sha256Hex } from "../config";

export interface AdminKeySet {
  hashes: Buffer[];
  /** The plain key, only on the start that generated it. */
  generated?: string;
  /** Where the generated key's hash lives. */
  file?: string;
}

export async function loadAdminKeys(configured: string[], dataDir: string): Promise<AdminKeySet> {
  if (configured.length) return { hashes: configured.map((h) => Buffer.from(h, "hex")) };
  const file = path.join(dataDir, "admin-key.sha256");
  try {
    const hex = (await fs.readFile(file, "utf8")).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return { hashes: [Buffer.from(hex, "hex")], file };
  } catch (err: any) {
    if (err?.code !== "ENOENT") throw err;
  }
  const key = `wfk_${randomBytes(24).toString("base64url")}`;
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(file, `${sha256Hex(key)}\n`, { mode: 0o600 });
  return { hashes: [Buffer.from(sha256Hex(key), "hex")], generated: key, file };
}

/** The key presented by a request: `Authorization: Bearer <key>` or `X-Api-Key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers["authorization"];
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = headers["x-api-key"];
  if (typeof x === "string" && x.trim()) return x.trim();
  return undefined;
}

export function matchesAny(key: string, hashes: Buffer[]): boolean {
  const digest = Buffer.from(sha256Hex(key), "hex");
  let ok = false;
  // every hash is compared, so timing does not tell which (or whether one) matched early
  for (const h of hashes) ok = timingSafeEqual(digest, h) || ok;
  return ok;
}

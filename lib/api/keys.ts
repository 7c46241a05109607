// API keys: admin keys (API_KEYS) and workspace-scoped keys. Only sha256 digests are kept; a presented key is hashed and compared in
// constant time. With no API_KEYS the first start generates a key, shows it once, keeps its hash.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { sha256Hex } from "../config";
import type { ApiStore } from "./store";

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

/** Who a request acts as: an admin key (every route) or a workspace key (its workspace only). */
export type Principal = { kind: "admin"; keyId: string } | { kind: "workspace"; keyId: string; workspaceId: string };

/** The identity of an admin key for rate limiting and logs: a prefix of its hash, never the key. */
export function adminKeyIdOf(key: string, hashes: Buffer[]): string | undefined {
  if (!matchesAny(key, hashes)) return undefined;
  return `admin-${sha256Hex(key).slice(0, 12)}`;
}

export interface WorkspaceKeyView {
  keyId: string;
  workspaceId: string;
  label?: string;
  createdAt: string;
}

interface StoredWorkspaceKey extends WorkspaceKeyView {
  /** sha256 hex of the whole key */
  hash: string;
}

/** `wfw_<keyId>_<secret>`: the id finds the record, the secret is compared by hash in constant time. */
const WORKSPACE_KEY = /^wfw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/**
 * Workspace-scoped keys (created by an admin, shown once, stored as sha256 digests). Records:
 * `wskey:<keyId>` (JSON) and the set `wskeys:<workspaceId>` of a workspace's key ids.
 */
export class WorkspaceKeys {
  constructor(private readonly store: ApiStore) {}

  async create(workspaceId: string, label?: string): Promise<WorkspaceKeyView & { key: string }> {
    const keyId = randomBytes(8).toString("hex");
    const key = `wfw_${keyId}_${randomBytes(32).toString("base64url")}`;
    const rec: StoredWorkspaceKey = { keyId, workspaceId, ...(label ? { label } : {}), createdAt: new Date().toISOString(), hash: sha256Hex(key) };
    await this.store.set(`wskey:${keyId}`, JSON.stringify(rec));
    await this.store.addMember(`wskeys:${workspaceId}`, keyId);
    return { ...view(rec), key };
  }

  async list(workspaceId: string): Promise<WorkspaceKeyView[]> {
    const out: WorkspaceKeyView[] = [];
    for (const id of await this.store.members(`wskeys:${workspaceId}`)) {
      const rec = await this.record(id);
      if (rec && rec.workspaceId === workspaceId) out.push(view(rec));
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.keyId < b.keyId ? -1 : 1));
  }

  /** True when the key existed in that workspace (a key of another workspace is not found). */
  async revoke(workspaceId: string, keyId: string): Promise<boolean> {
    const rec = await this.record(keyId);
    if (!rec || rec.workspaceId !== workspaceId) return false;
    await this.store.del(`wskey:${keyId}`);
    await this.store.removeMember(`wskeys:${workspaceId}`, keyId);
    return true;
  }

  /** The principal of a presented workspace key, or undefined (unknown id, wrong secret, revoked). */
  async verify(key: string): Promise<Principal | undefined> {
    const m = WORKSPACE_KEY.exec(key);
    if (!m) return undefined;
    const rec = await this.record(m[1]);
    const presented = Buffer.from(sha256Hex(key), "hex");
    // compare against a dummy digest when the id is unknown, so both paths cost the same
    const stored = Buffer.from(rec?.hash ?? "0".repeat(64), "hex");
    const ok = timingSafeEqual(presented, stored);
    return ok && rec ? { kind: "workspace", keyId: rec.keyId, workspaceId: rec.workspaceId } : undefined;
  }

  /** Whether the key still exists (it was not revoked): open event streams ask on every heartbeat. */
  async isActive(keyId: string): Promise<boolean> {
    return (await this.record(keyId)) !== undefined;
  }

  private async record(keyId: string): Promise<StoredWorkspaceKey | undefined> {
    if (!/^[0-9a-f]{16}$/.test(keyId)) return undefined;
    const raw = await this.store.get(`wskey:${keyId}`);
    return raw ? (JSON.parse(raw) as StoredWorkspaceKey) : undefined;
  }
}

function view(rec: StoredWorkspaceKey): WorkspaceKeyView {
  return { keyId: rec.keyId, workspaceId: rec.workspaceId, ...(rec.label ? { label: rec.label } : {}), createdAt: rec.createdAt };
}

// Idempotent sends (Idempotency-Key header). The first request with a key reserves it; its
// successful response is remembered for the TTL (24 h by default) and replayed to every later
// request with the same key and the same body, which then sends nothing. The same key with another
// body is refused (IDEMPOTENCY_KEY_REUSED); while the first is still running, a second gets
// IDEMPOTENCY_KEY_IN_USE. A request that fails releases its key, so a retry may send.
import { createHash } from "node:crypto";
import { WafleetError } from "../errors";
import type { ApiStore } from "./store";

export interface StoredResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface IdempotencyRecord {
  fingerprint: string;
  state: "pending" | "done";
  response?: StoredResponse;
}

/** 1-255 visible ASCII characters (UUIDs, ULIDs, hashes, Laravel's Str::uuid()). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted: the same body gives the same fingerprint whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value as object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as any)[k])}`).join(",")}}`;
}

export function fingerprintOf(request: unknown): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex");
}

export class IdempotencyKeys {
  constructor(
    private readonly store: ApiStore,
    private readonly ttlMs: number,
    /**
     * A reservation expires after this unless completed: a gateway that died mid-request, or a
     * store that was away when the request ended, must not block the key for the whole TTL.
     * Longer than any request may take (the gateway's 30 s call timeout).
     */
    private readonly pendingTtlMs = 60_000,
  ) {}

  private slot(scope: string, key: string): string {
    return `idem:${createHash("sha256").update(`${scope}\n${key}`).digest("hex")}`;
  }

  /**
   * Reserves the key for this request, or answers for it: the remembered response when the key
   * already completed with the same fingerprint; throws on a different fingerprint or while pending.
   */
  async begin(scope: string, key: string, fingerprint: string): Promise<StoredResponse | undefined> {
    const slot = this.slot(scope, key);
    const pending: IdempotencyRecord = { fingerprint, state: "pending" };
    // two tries: a competitor may release its reservation between our SET NX and our GET
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.store.setIfAbsent(slot, JSON.stringify(pending), Math.min(this.pendingTtlMs, this.ttlMs))) return undefined;
      const raw = await this.store.get(slot);
      if (!raw) continue;
      const rec = JSON.parse(raw) as IdempotencyRecord;
      if (rec.fingerprint !== fingerprint) throw new WafleetError("IDEMPOTENCY_KEY_REUSED");
      if (rec.state === "pending") throw new WafleetError("IDEMPOTENCY_KEY_IN_USE");
      return rec.response;
    }
    throw new WafleetError("IDEMPOTENCY_KEY_IN_USE");
  }

  async complete(scope: string, key: string, fingerprint: string, response: StoredResponse): Promise<void> {
    const rec: IdempotencyRecord = { fingerprint, state: "done", response };
    await this.store.set(this.slot(scope, key), JSON.stringify(rec), this.ttlMs);
  }

  /** Releases a reservation whose request failed (nothing was sent). */
  async abandon(scope: string, key: string): Promise<void> {
    await this.store.del(this.slot(scope, key));
  }
}

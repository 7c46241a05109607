// The gateway's small key-value store: workspace keys, the compatibility session index,
// idempotency records and rate-limit counters live behind this one interface. Redis when
// REDIS_URL is set (every gateway shares it); memory otherwise, with the durable entries (those
// written without a TTL) persisted to a JSON file so an embedded restart keeps its keys.
import { promises as fs } from "node:fs";
import path from "node:path";
import { Redis, type RedisOptions } from "ioredis";
import { redisConnectionOptions } from "../config/connections";
import { WafleetError } from "../errors";

export interface ApiStore {
  get(key: string): Promise<string | undefined>;
  /** Without ttlMs the entry is durable (kept across restarts). */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets only when absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Durable sets (e.g. a workspace's key ids). */
  addMember(set: string, member: string): Promise<void>;
  removeMember(set: string, member: string): Promise<void>;
  members(set: string): Promise<string[]>;
  /** Fixed window counter: increments and returns the count and the window's remaining time. */
  hit(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>;
  /** A `hit` counter read without counting: 0 and 0 when there is none. */
  peek(key: string): Promise<{ count: number; resetMs: number }>;
  close(): Promise<void>;
}

/** Store trouble (Redis away) is a 503 the client may retry, not a 500. */
export async function storeCall<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof WafleetError) throw err;
    throw new WafleetError("SERVICE_UNAVAILABLE", "The API key and idempotency store is not reachable; retry shortly");
  }
}

/** storeCall, retried for up to ~5 s: for writes that must not be lost to a short store outage. */
export async function persistently<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await storeCall(op);
    } catch (err) {
      if (attempt >= 8) throw err;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1000)));
    }
  }
}

/**
 * The gateway's store for a config: Redis when REDIS_URL is set, else memory persisted under
 * DATA_DIR. `ready` resolves once its saved entries are loaded (the store is not used before).
 */
export function openApiStore(opts: { redisUrl: string; redisPrefix: string; dataDir: string; redisCa: string; redisPassword: string }): { store: ApiStore; ready: Promise<void> } {
  if (opts.redisUrl) return { store: new RedisApiStore(opts.redisUrl, opts.redisPrefix, redisConnectionOptions(opts)), ready: Promise.resolve() };
  const store = new MemoryApiStore(path.join(opts.dataDir, "api-store.json"));
  return { store, ready: store.load().then(() => undefined) };
}

interface Entry {
  value: string;
  expiresAt?: number;
}

export class MemoryApiStore implements ApiStore {
  private readonly entries = new Map<string, Entry>();
  private writing: Promise<void> = Promise.resolve();
  private sweeper?: NodeJS.Timeout;

  /** @param file where durable entries are kept (none: memory only) */
  constructor(private readonly file?: string) {
    // expired idempotency records and counters would otherwise only go when read again
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async load(): Promise<this> {
    if (!this.file) return this;
    try {
      const saved = JSON.parse(await fs.readFile(this.file, "utf8")) as Record<string, string>;
      for (const [k, v] of Object.entries(saved)) if (typeof v === "string") this.entries.set(k, { value: v });
    } catch (err: any) {
      if (err?.code !== "ENOENT") throw new Error(`cannot read ${this.file}: ${err.message}`, { cause: err });
    }
    return this;
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.entries) if (e.expiresAt !== undefined && e.expiresAt <= now) this.entries.delete(k);
  }

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? undefined : Date.now() + ttlMs });
    if (ttlMs === undefined) await this.persist();
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async del(key: string): Promise<void> {
    const e = this.entries.get(key);
    this.entries.delete(key);
    if (e && e.expiresAt === undefined) await this.persist();
  }

  async addMember(set: string, member: string): Promise<void> {
    const cur = await this.members(set);
    if (!cur.includes(member)) await this.set(set, JSON.stringify([...cur, member]));
  }

  async removeMember(set: string, member: string): Promise<void> {
    const cur = await this.members(set);
    if (!cur.includes(member)) return;
    const next = cur.filter((m) => m !== member);
    if (next.length) await this.set(set, JSON.stringify(next));
    else await this.del(set);
  }

  async members(set: string): Promise<string[]> {
    const raw = this.live(set)?.value;
    return raw ? (JSON.parse(raw) as string[]) : [];
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; resetMs: number }> {
    const now = Date.now();
    let e = this.live(key);
    if (!e) {
      e = { value: "0", expiresAt: now + windowMs };
      this.entries.set(key, e);
    }
    e.value = String(Number(e.value) + 1);
    return { count: Number(e.value), resetMs: e.expiresAt! - now };
  }

  async peek(key: string): Promise<{ count: number; resetMs: number }> {
    const e = this.live(key);
    return e ? { count: Number(e.value), resetMs: Math.max(0, (e.expiresAt ?? Date.now()) - Date.now()) } : { count: 0, resetMs: 0 };
  }

  /** Durable entries to the file: temp file + rename, one write at a time. */
  private persist(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const snapshot: Record<string, string> = {};
    for (const [k, e] of this.entries) if (e.expiresAt === undefined) snapshot[k] = e.value;
    const write = async () => {
      await fs.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(tmp, JSON.stringify(snapshot), { mode: 0o600 });
      await fs.rename(tmp, file);
    };
    this.writing = this.writing.then(write, write);
    return this.writing;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.writing.catch(() => undefined);
  }
}

const HIT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}`;

export class RedisApiStore implements ApiStore {
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix: string,
    connection: RedisOptions = {},
  ) {
    // commands wait for a reconnect rather than failing at once; a dead Redis surfaces as errors
    this.redis = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, ...connection });
    this.redis.on("error", () => undefined);
    this.redis.defineCommand("wafleetApiHit", { numberOfKeys: 1, lua: HIT_SCRIPT });
  }

  private k(key: string): string {
    return `${this.prefix}api:${key}`;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.k(key))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) await this.redis.set(this.k(key), value);
    else await this.redis.set(this.k(key), value, "PX", ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.k(key), value, "PX", ttlMs, "NX")) === "OK";
  }

  async del(key: string): Promise<void> {
    await this.redis.del(this.k(key));
  }

  async addMember(set: string, member: string): Promise<void> {
    await this.redis.sadd(this.k(set), member);
  }

  async removeMember(set: string, member: string): Promise<void> {
    await this.redis.srem(this.k(set), member);
  }

  async members(set: string): Promise<string[]> {
    return this.redis.smembers(this.k(set));
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; resetMs: number }> {
    const [count, ttl] = (await (this.redis as any).wafleetApiHit(this.k(key), windowMs)) as [number, number];
    return { count, resetMs: ttl };
  }

  async peek(key: string): Promise<{ count: number; resetMs: number }> {
    const [[, count], [, ttl]] = (await this.redis.multi().get(this.k(key)).pttl(this.k(key)).exec()) as [[unknown, string | null], [unknown, number]];
    return count === null ? { count: 0, resetMs: 0 } : { count: Number(count), resetMs: Math.max(0, ttl) };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

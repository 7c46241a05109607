// Webhook configuration and delivery records in Redis (cluster mode), so every webhooks node and
// every gateway sees the same. Keys (prefix REDIS_PREFIX, default `wafleet:`):
//   <p>webhook:<w>                       string  the workspace's WebhookConfig JSON
//   <p>webhook:<w>:deliveries            hash    event id -> DeliveryRecord JSON
//   <p>webhook:<w>:deliveries:<status>   zset    event id scored by update time (ms)
//   <p>webhook:dead-letters               zset    "<w>|<id>" of every failed record, by update time (ids never hold a |)
// Moving a record between statuses and trimming is one named Lua script, so lists never disagree.
import { Redis, type RedisOptions } from "ioredis";
import { DELIVERY_STATUSES, newestFirst, RECORD_CAPS, type DeliveryRecord, type DeliveryStatus, type WebhookConfig, type WebhookStore } from "./store";

const SCRIPTS = {
  // KEYS: hash, zset(status), zset(other1), zset(other2), zset(dead letters of every workspace)
  // ARGV: id, json, score, cap, workspace, 1 when the status is failed
  wafleetDeliveryRecord: {
    numberOfKeys: 5,
    lua: `
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local member = ARGV[5] .. '|' .. ARGV[1]
if ARGV[6] == '1' then redis.call('ZADD', KEYS[5], ARGV[3], member) else redis.call('ZREM', KEYS[5], member) end
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
  for _, id in ipairs(old) do
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[5], ARGV[5] .. '|' .. id)
  end
end
return 1`,
  },
} as const;

type ScriptedRedis = Redis & {
  wafleetDeliveryRecord(hash: string, z: string, o1: string, o2: string, dead: string, id: string, json: string, score: number, cap: number, workspace: string, failed: "0" | "1"): Promise<number>;
};

export interface RedisWebhookStoreOptions {
  url: string;
  prefix: string;
  redisOptions?: RedisOptions;
}

export class RedisWebhookStore implements WebhookStore {
  private readonly redis: ScriptedRedis;
  private readonly p: string;

  constructor(opts: RedisWebhookStoreOptions) {
    this.p = opts.prefix;
    // commands wait for a reconnect instead of failing at once: a Redis blip delays deliveries
    this.redis = new Redis(opts.url, { maxRetriesPerRequest: 20, lazyConnect: false, ...opts.redisOptions }) as ScriptedRedis;
    this.redis.on("error", () => undefined);
    for (const [name, s] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }

  private configKey(w: string) {
    return `${this.p}webhook:${w}`;
  }

  private hashKey(w: string) {
    return `${this.p}webhook:${w}:deliveries`;
  }

  private zKey(w: string, s: DeliveryStatus) {
    return `${this.p}webhook:${w}:deliveries:${s}`;
  }

  private deadKey() {
    return `${this.p}webhook:dead-letters`;
  }

  async getConfig(workspaceId: string) {
    const raw = await this.redis.get(this.configKey(workspaceId));
    return raw ? (JSON.parse(raw) as WebhookConfig) : undefined;
  }

  async setConfig(config: WebhookConfig) {
    await this.redis.set(this.configKey(config.workspaceId), JSON.stringify(config));
  }

  async removeConfig(workspaceId: string) {
    return (await this.redis.del(this.configKey(workspaceId))) > 0;
  }

  async recordDelivery(r: DeliveryRecord) {
    const others = DELIVERY_STATUSES.filter((s) => s !== r.status);
    await this.redis.wafleetDeliveryRecord(
      this.hashKey(r.workspaceId),
      this.zKey(r.workspaceId, r.status),
      this.zKey(r.workspaceId, others[0]!),
      this.zKey(r.workspaceId, others[1]!),
      this.deadKey(),
      r.id,
      JSON.stringify(r),
      Date.parse(r.updatedAt) || Date.now(),
      RECORD_CAPS[r.status],
      r.workspaceId,
      r.status === "failed" ? "1" : "0",
    );
  }

  async getDelivery(workspaceId: string, id: string) {
    const raw = await this.redis.hget(this.hashKey(workspaceId), id);
    return raw ? (JSON.parse(raw) as DeliveryRecord) : undefined;
  }

  async listDeliveries(workspaceId: string, status: DeliveryStatus | undefined, limit: number) {
    const statuses = status ? [status] : DELIVERY_STATUSES;
    const scored: Array<[string, number]> = [];
    for (const s of statuses) {
      const flat = await this.redis.zrevrange(this.zKey(workspaceId, s), 0, limit - 1, "WITHSCORES");
      for (let i = 0; i < flat.length; i += 2) scored.push([flat[i]!, Number(flat[i + 1])]);
    }
    scored.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1));
    const ids = scored.slice(0, limit).map(([id]) => id);
    if (!ids.length) return [];
    const raws = await this.redis.hmget(this.hashKey(workspaceId), ...ids);
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as DeliveryRecord);
  }

  async listDeadLetters(limit: number, before?: number) {
    const members = await this.redis.zrevrangebyscore(this.deadKey(), before === undefined ? "+inf" : `(${before}`, "-inf", "LIMIT", 0, limit);
    const byWorkspace = new Map<string, string[]>();
    for (const m of members) {
      const at = m.indexOf("|");
      if (at < 0) continue;
      const w = m.slice(0, at);
      byWorkspace.set(w, [...(byWorkspace.get(w) ?? []), m.slice(at + 1)]);
    }
    const out: DeliveryRecord[] = [];
    for (const [w, ids] of byWorkspace) {
      const raws = await this.redis.hmget(this.hashKey(w), ...ids);
      for (const raw of raws) if (raw) out.push(JSON.parse(raw) as DeliveryRecord);
    }
    return out.filter((r) => r.status === "failed").sort(newestFirst);
  }

  async close() {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

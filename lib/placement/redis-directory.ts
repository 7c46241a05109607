// The Redis directory: every ownership decision is one named Lua script, so it is atomic on the
// server. Keys (prefix REDIS_PREFIX, default `wafleet:`):
//   <p>owners            hash  workspace -> "<node>|<token>"
//   <p>fence             counter for fencing tokens (never reset)
//   <p>nodeset           set of registered nodes
//   <p>node:<id>         hash  capacity, weight, draining, epoch, joinedAt, sessions
//   <p>lease:<id>        string epoch, with the lease TTL (PX)
//   <p>coordinator       string node, with the coordinator TTL (PX)
//   <p>changes           pub/sub channel of DirectoryChange JSON
// Redis must persist (AOF) in production: a restarted Redis that forgot the fence counter or the
// owners would hand out tokens that go backwards (docs/architecture.md).
import { Redis, type RedisOptions } from "ioredis";
import type { Assignment, Directory, DirectoryChange, NodeInfo, NodeState } from "./directory";

const SCRIPTS = {
  // KEYS: owners, fence, changes | ARGV: workspace, node, expected ('' = must be unassigned)
  wafleetAssign: {
    numberOfKeys: 3,
    lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local curTok = nil
if cur then curTok = tonumber(string.match(cur, '|(%d+)$')) end
if ARGV[3] == '' then
  if cur then return nil end
else
  if (not curTok) or curTok ~= tonumber(ARGV[3]) then return nil end
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  -- a Redis that lost its data must not hand out tokens below those already written to meta.json:
  -- start the counter at the server's clock in milliseconds
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
local tok = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. tok)
redis.call('PUBLISH', KEYS[3], cjson.encode({type='assign', workspaceId=ARGV[1], node=ARGV[2], token=tok}))
return tok`,
  },
  // assignMany: the same compare-and-set for each (workspace, node, expected) triple of ARGV, one
  // notification for all that succeeded. Returns the new token per triple, 0 where the check failed.
  // KEYS: owners, fence, changes
  wafleetAssignMany: {
    numberOfKeys: 3,
    lua: `
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
local out = {}
local done = {}
for i = 1, #ARGV, 3 do
  local w, node, expected = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local cur = redis.call('HGET', KEYS[1], w)
  local curTok = nil
  if cur then curTok = tonumber(string.match(cur, '|(%d+)$')) end
  local ok
  if expected == '' then ok = not cur else ok = curTok ~= nil and curTok == tonumber(expected) end
  if ok then
    local tok = redis.call('INCR', KEYS[2])
    redis.call('HSET', KEYS[1], w, node .. '|' .. tok)
    table.insert(out, tok)
    table.insert(done, {workspaceId=w, node=node, token=tok})
  else
    table.insert(out, 0)
  end
end
if #done > 0 then redis.call('PUBLISH', KEYS[3], cjson.encode({type='assigned', assignments=done})) end
return out`,
  },
  // KEYS: owners, changes | ARGV: workspace, expected
  wafleetUnassign: {
    numberOfKeys: 2,
    lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if tonumber(string.match(cur, '|(%d+)$')) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], cjson.encode({type='unassign', workspaceId=ARGV[1], token=tonumber(ARGV[2])}))
return 1`,
  },
  // KEYS: lease, nodehash, nodeset, changes | ARGV: node, epoch, ttl, capacity, weight, draining, now
  // The lease expires at an instant of Redis's clock that is also kept in the node's record
  // (leaseUntil = "<epoch>|<ms>"), so a coordinator, even one elected after the expiry, can count
  // the takeover margin from the expiry itself rather than from its own first look.
  wafleetRegister: {
    numberOfKeys: 4,
    lua: `
local t = redis.call('TIME')
local untilMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], untilMs)
local joined = redis.call('HGET', KEYS[2], 'joinedAt')
if not joined then joined = ARGV[7] end
-- a node that re-registers (after fencing itself) stays draining if it was
local draining = redis.call('HGET', KEYS[2], 'draining')
if draining ~= '1' then draining = ARGV[6] end
redis.call('HSET', KEYS[2], 'capacity', ARGV[4], 'weight', ARGV[5], 'draining', draining, 'epoch', ARGV[2], 'joinedAt', joined, 'sessions', 0, 'leaseUntil', ARGV[2] .. '|' .. string.format('%d', untilMs))
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PUBLISH', KEYS[4], cjson.encode({type='node', node=ARGV[1]}))
return 1`,
  },
  // KEYS: lease, nodehash | ARGV: epoch, ttl, sessions
  wafleetRenew: {
    numberOfKeys: 2,
    lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local untilMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('PEXPIREAT', KEYS[1], untilMs)
redis.call('HSET', KEYS[2], 'sessions', ARGV[3], 'leaseUntil', ARGV[1] .. '|' .. string.format('%d', untilMs))
return 1`,
  },
  // KEYS: lease, nodehash, nodeset, changes | ARGV: node, epoch ('' = unconditionally: forget a dead node)
  wafleetDeregister: {
    numberOfKeys: 4,
    lua: `
if ARGV[2] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
if ARGV[2] == '' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', KEYS[4], cjson.encode({type='node', node=ARGV[1]}))
return 1`,
  },
  // KEYS: nodeset | ARGV: prefix. Returns Redis's clock in ms, then {node, lease-epoch-or-false, hash fields...} per node
  wafleetNodes: {
    numberOfKeys: 1,
    lua: `
local t = redis.call('TIME')
local out = {string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))}
for _, n in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lease = redis.call('GET', ARGV[1] .. 'lease:' .. n)
  table.insert(out, {n, lease or '', redis.call('HGETALL', ARGV[1] .. 'node:' .. n)})
end
return out`,
  },
  // KEYS: coordinator | ARGV: node, ttl
  wafleetLead: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`,
  },
  // KEYS: coordinator | ARGV: node
  wafleetResign: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1`,
  },
  // KEYS: nodehash, changes | ARGV: node, draining
  wafleetDraining: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'draining', ARGV[2])
redis.call('PUBLISH', KEYS[2], cjson.encode({type='node', node=ARGV[1]}))
return 1`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
/** Workspaces per assignMany script call. */
const ASSIGN_BATCH = 500;
type ScriptedRedis = Redis & { [K in ScriptName]: (...args: Array<string | number>) => Promise<any> };

export interface RedisDirectoryOptions {
  url: string;
  prefix: string;
  /** Per-command deadline, so a lease renewal never hangs past its usefulness. Default 2000. */
  commandTimeoutMs?: number;
  onError?: (err: Error) => void;
  /** TLS and password for the URL (lib/config/connections.ts). */
  connection?: RedisOptions;
}

export function redisOptions(commandTimeoutMs: number): RedisOptions {
  return {
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    lazyConnect: false,
  };
}

export class RedisDirectory implements Directory {
  private readonly redis: ScriptedRedis;
  private sub: Redis | undefined;
  private readonly listeners = new Set<(c: DirectoryChange) => void>();
  private readonly p: string;

  constructor(private readonly opts: RedisDirectoryOptions) {
    this.p = opts.prefix;
    this.redis = new Redis(opts.url, { ...redisOptions(opts.commandTimeoutMs ?? 2000), ...opts.connection }) as ScriptedRedis;
    this.redis.on("error", (err) => opts.onError?.(err));
    for (const [name, def] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, { numberOfKeys: def.numberOfKeys, lua: def.lua });
  }

  private get chan(): string {
    return `${this.p}changes`;
  }

  async register(info: Omit<NodeInfo, "joinedAt">, ttlMs: number): Promise<void> {
    await this.redis.wafleetRegister(`${this.p}lease:${info.node}`, `${this.p}node:${info.node}`, `${this.p}nodeset`, this.chan, info.node, info.epoch, ttlMs, info.capacity, info.weight, info.draining ? 1 : 0, Date.now());
  }

  async renew(node: string, epoch: string, ttlMs: number, sessions: number): Promise<boolean> {
    return (await this.redis.wafleetRenew(`${this.p}lease:${node}`, `${this.p}node:${node}`, epoch, ttlMs, sessions)) === 1;
  }

  async deregister(node: string, epoch: string): Promise<void> {
    await this.redis.wafleetDeregister(`${this.p}lease:${node}`, `${this.p}node:${node}`, `${this.p}nodeset`, this.chan, node, epoch);
  }

  async setDraining(node: string, draining: boolean): Promise<void> {
    await this.redis.wafleetDraining(`${this.p}node:${node}`, this.chan, node, draining ? 1 : 0);
  }

  async forgetNode(node: string): Promise<void> {
    await this.redis.wafleetDeregister(`${this.p}lease:${node}`, `${this.p}node:${node}`, `${this.p}nodeset`, this.chan, node, "");
  }

  async nodes(): Promise<NodeState[]> {
    const [clock, ...rows]: [string, ...Array<[string, string, string[]]>] = await this.redis.wafleetNodes(`${this.p}nodeset`, this.p);
    const out: NodeState[] = [];
    for (const [node, lease, flat] of rows) {
      const h: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
      if (!h.epoch) continue;
      const alive = lease !== "" && lease === h.epoch;
      // when the lease of the node's current epoch expired (by Redis's clock); a value another
      // epoch wrote (a node that registered again without it) says nothing about this one
      const until = h.leaseUntil?.split("|");
      const expiredMs = !alive && until?.length === 2 && until[0] === h.epoch && Number.isFinite(Number(until[1])) ? Number(clock) - Number(until[1]) : undefined;
      out.push({
        node,
        capacity: Number(h.capacity ?? 0),
        weight: Number(h.weight ?? 1),
        draining: h.draining === "1",
        epoch: h.epoch,
        joinedAt: Number(h.joinedAt ?? 0),
        sessions: Number(h.sessions ?? 0),
        alive,
        ...(expiredMs !== undefined ? { expiredMs } : {}),
      });
    }
    return out;
  }

  async owner(workspaceId: string): Promise<Assignment | undefined> {
    const v = await this.redis.hget(`${this.p}owners`, workspaceId);
    return v ? parseOwner(workspaceId, v) : undefined;
  }

  async assignments(): Promise<Assignment[]> {
    const all = await this.redis.hgetall(`${this.p}owners`);
    return Object.entries(all).map(([w, v]) => parseOwner(w, v));
  }

  async assign(workspaceId: string, node: string, expected: number | null): Promise<Assignment | undefined> {
    const tok = await this.redis.wafleetAssign(`${this.p}owners`, `${this.p}fence`, this.chan, workspaceId, node, expected === null ? "" : String(expected));
    return tok === null || tok === undefined ? undefined : { workspaceId, node, token: Number(tok) };
  }

  async assignMany(moves: Array<{ workspaceId: string; node: string; expected: number | null }>): Promise<Array<Assignment | undefined>> {
    const out: Array<Assignment | undefined> = [];
    // in slices, so one script never holds Redis for long (a few microseconds a workspace)
    for (let i = 0; i < moves.length; i += ASSIGN_BATCH) {
      const slice = moves.slice(i, i + ASSIGN_BATCH);
      const args = slice.flatMap((m) => [m.workspaceId, m.node, m.expected === null ? "" : String(m.expected)]);
      const tokens: number[] = await this.redis.wafleetAssignMany(`${this.p}owners`, `${this.p}fence`, this.chan, ...args);
      slice.forEach((m, k) => out.push(tokens[k] ? { workspaceId: m.workspaceId, node: m.node, token: Number(tokens[k]) } : undefined));
    }
    return out;
  }

  async ownersOf(workspaceIds: string[]): Promise<Array<Assignment | undefined>> {
    if (!workspaceIds.length) return [];
    const values = await this.redis.hmget(`${this.p}owners`, ...workspaceIds);
    return workspaceIds.map((w, i) => (values[i] ? parseOwner(w, values[i]!) : undefined));
  }

  async unassign(workspaceId: string, expected: number): Promise<boolean> {
    return (await this.redis.wafleetUnassign(`${this.p}owners`, this.chan, workspaceId, expected)) === 1;
  }

  async lead(node: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.wafleetLead(`${this.p}coordinator`, node, ttlMs)) === 1;
  }

  async resign(node: string): Promise<void> {
    await this.redis.wafleetResign(`${this.p}coordinator`, node);
  }

  async coordinator(): Promise<string | undefined> {
    return (await this.redis.get(`${this.p}coordinator`)) ?? undefined;
  }

  subscribe(listener: (change: DirectoryChange) => void): () => void {
    this.listeners.add(listener);
    if (!this.sub) {
      this.sub = new Redis(this.opts.url, { ...redisOptions(this.opts.commandTimeoutMs ?? 2000), ...this.opts.connection, commandTimeout: undefined });
      this.sub.on("error", (err) => this.opts.onError?.(err));
      // pub/sub loses what is published while the connection is down: after every (re)connect,
      // listeners read the directory again
      this.sub.on("ready", () => {
        for (const l of this.listeners) l({ type: "resync" });
      });
      void this.sub.subscribe(this.chan).catch((err: Error) => this.opts.onError?.(err));
      this.sub.on("message", (_chan: string, msg: string) => {
        let change: DirectoryChange;
        try {
          change = JSON.parse(msg);
        } catch {
          return;
        }
        for (const l of this.listeners) l(change);
      });
    }
    return () => this.listeners.delete(listener);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.sub?.disconnect();
    this.redis.disconnect();
  }
}

function parseOwner(workspaceId: string, v: string): Assignment {
  const i = v.lastIndexOf("|");
  return { workspaceId, node: v.slice(0, i), token: Number(v.slice(i + 1)) };
}

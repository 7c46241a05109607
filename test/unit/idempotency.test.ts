// Idempotency keys, rate limits and workspace keys behave the same on both stores behind the one
// ApiStore interface: memory (embedded) and Redis (a real redis-server).
import { promises as fs } from "node:fs";
import path from "node:path";
import { AuthFailureThrottle } from "../../lib/api/auth-throttle";
import { fingerprintOf, IdempotencyKeys } from "../../lib/api/idempotency";
import { WorkspaceKeys } from "../../lib/api/keys";
import { RateLimiter } from "../../lib/api/rate-limit";
import { MemoryApiStore, RedisApiStore, type ApiStore } from "../../lib/api/store";
import { tempDir } from "../helpers/processes";
import { startRedis, type RedisServer } from "../helpers/servers";

let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = await tempDir("api-store");
}, 30000);

afterAll(async () => {
  await redis?.destroy();
  await fs.rm(dir, { recursive: true, force: true });
});

const stores: Array<[string, () => Promise<ApiStore>]> = [
  ["memory", async () => new MemoryApiStore(path.join(dir, `store-${Math.random()}.json`)).load()],
  ["redis", async () => new RedisApiStore(redis.url, `t${Math.random().toString(36).slice(2)}:`)],
];

describe.each(stores)("on the %s store", (_name, make) => {
  let store: ApiStore;
  beforeEach(async () => {
    store = await make();
  });
  afterEach(async () => {
    await store.close();
  });

  it("replays the first response for the same key and body, refuses another body, releases on failure", async () => {
    const idem = new IdempotencyKeys(store, 60_000);
    const fp = fingerprintOf({ to: "1555", text: "hi" });
    expect(await idem.begin("s", "k1", fp)).toBeUndefined();
    await expect(idem.begin("s", "k1", fp)).rejects.toMatchObject({ type: "IDEMPOTENCY_KEY_IN_USE" });
    await idem.complete("s", "k1", fp, { status: 201, body: { id: "m1" } });
    expect(await idem.begin("s", "k1", fingerprintOf({ text: "hi", to: "1555" }))).toEqual({ status: 201, body: { id: "m1" } });
    await expect(idem.begin("s", "k1", fingerprintOf({ to: "1555", text: "changed" }))).rejects.toMatchObject({ type: "IDEMPOTENCY_KEY_REUSED", code: 409 });
    // another scope is another key
    expect(await idem.begin("other", "k1", fp)).toBeUndefined();
    expect(await idem.begin("s", "k2", fp)).toBeUndefined();
    await idem.abandon("s", "k2");
    expect(await idem.begin("s", "k2", fp)).toBeUndefined();
  });

  it("lets exactly one of many concurrent requests with one key through", async () => {
    const idem = new IdempotencyKeys(store, 60_000);
    const fp = fingerprintOf({ n: 1 });
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => idem.begin("s", "race", fp)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").every((r: any) => r.reason.type === "IDEMPOTENCY_KEY_IN_USE")).toBe(true);
  });

  it("forgets a key after its TTL", async () => {
    const idem = new IdempotencyKeys(store, 1000);
    const fp = fingerprintOf({ n: 2 });
    expect(await idem.begin("s", "ttl", fp)).toBeUndefined();
    await idem.complete("s", "ttl", fp, { status: 201, body: {} });
    const until = Date.now() + 5000;
    let again: unknown = "pending";
    while (again !== undefined && Date.now() < until) {
      again = await idem.begin("s", "ttl", fp).catch(() => "pending");
      if (again !== undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(again).toBeUndefined();
  });

  it("counts requests per key in a window and refuses past the limit", async () => {
    const limiter = new RateLimiter(store, 3, 60_000);
    const a = [await limiter.check("a"), await limiter.check("a"), await limiter.check("a"), await limiter.check("a")];
    expect(a.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(a.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
    expect(a[3].resetSeconds).toBeGreaterThanOrEqual(1);
    expect((await limiter.check("b")).allowed).toBe(true);
  });

  it("weighs the previous window in, so a burst across a window boundary cannot pass twice the limit", async () => {
    let now = 10_000 * 1000 + 900; // 900 ms into a 1 s window
    const limiter = new RateLimiter(store, 3, 1000, () => now);
    const key = `k${Math.random()}`;
    const first = [await limiter.check(key), await limiter.check(key), await limiter.check(key)];
    expect(first.map((d) => d.allowed)).toEqual([true, true, true]);
    // 100 ms later, in the next fixed window: a fixed-window counter would start again at 0
    now += 200;
    const edge = await limiter.check(key);
    expect(edge.allowed).toBe(false); // 3 x 0.9 + 1 > 3
    expect(edge.remaining).toBe(0);
    // most of the previous window has slid out: room again
    now += 700;
    const later = await limiter.check(key);
    expect(later.allowed).toBe(true); // 3 x 0.2 + 2 <= 3
    expect(later.resetSeconds).toBe(1);
  });

  it("throttles failed authentications per address in a window that opens at the first failure", async () => {
    const throttle = new AuthFailureThrottle(store, 2, 60_000);
    expect(await store.peek("authfail:203.0.113.7")).toEqual({ count: 0, resetMs: 0 });
    expect((await throttle.blocked("203.0.113.7")).blocked).toBe(false);
    await throttle.failed("203.0.113.7");
    expect((await throttle.blocked("203.0.113.7")).blocked).toBe(false);
    await throttle.failed("203.0.113.7");
    const b = await throttle.blocked("203.0.113.7");
    expect(b.blocked).toBe(true);
    expect(b.resetSeconds).toBeGreaterThanOrEqual(59);
    expect(b.resetSeconds).toBeLessThanOrEqual(60);
    // peeking does not count
    expect((await store.peek("authfail:203.0.113.7")).count).toBe(2);
    expect((await throttle.blocked("203.0.113.8")).blocked).toBe(false);
    // the window ends
    const short = new AuthFailureThrottle(store, 1, 200);
    await short.failed("198.51.100.1");
    expect((await short.blocked("198.51.100.1")).blocked).toBe(true);
    await new Promise((r) => setTimeout(r, 350));
    expect((await short.blocked("198.51.100.1")).blocked).toBe(false);
  });

  it("counts failures of an address across gateways; each refuses it from its own next failure, without asking the store per request", async () => {
    const a = new AuthFailureThrottle(store, 3, 60_000);
    const b = new AuthFailureThrottle(store, 3, 60_000);
    await a.failed("203.0.113.9");
    await a.failed("203.0.113.9");
    await b.failed("203.0.113.9"); // the third, seen by b
    expect(b.blocked("203.0.113.9").blocked).toBe(true);
    expect(a.blocked("203.0.113.9").blocked).toBe(false);
    await a.failed("203.0.113.9");
    expect(a.blocked("203.0.113.9")).toMatchObject({ blocked: true, resetSeconds: 60 });
    expect((await store.peek("authfail:203.0.113.9")).count).toBe(4);
  });

  it("creates workspace keys shown once, lists them without secrets, verifies and revokes them", async () => {
    const keys = new WorkspaceKeys(store);
    const k = await keys.create("acme", "laravel");
    expect(k.key).toMatch(/^wfw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const listed = await keys.list("acme");
    expect(listed).toEqual([{ keyId: k.keyId, workspaceId: "acme", label: "laravel", createdAt: k.createdAt }]);
    expect(JSON.stringify(listed)).not.toContain(k.key.slice(-20));
    expect(await keys.verify(k.key)).toEqual({ kind: "workspace", keyId: k.keyId, workspaceId: "acme" });
    expect(await keys.verify(`${k.key.slice(0, -1)}${k.key.endsWith("A") ? "B" : "A"}`)).toBeUndefined();
    expect(await keys.verify(`wfw_${"0".repeat(16)}_${"A".repeat(43)}`)).toBeUndefined();
    expect(await keys.revoke("other", k.keyId)).toBe(false);
    expect(await keys.revoke("acme", k.keyId)).toBe(true);
    expect(await keys.verify(k.key)).toBeUndefined();
    expect(await keys.list("acme")).toEqual([]);
  });
});

it("keeps durable entries (keys) across a restart of the memory store, and never their secrets", async () => {
  const file = path.join(dir, "durable.json");
  const a = await new MemoryApiStore(file).load();
  const k = await new WorkspaceKeys(a).create("acme");
  await new IdempotencyKeys(a, 60_000).begin("s", "x", "fp");
  await a.close();
  const raw = await fs.readFile(file, "utf8");
  expect(raw).not.toContain(k.key);
  expect(raw).not.toContain("idem:");
  const b = await new MemoryApiStore(file).load();
  expect(await new WorkspaceKeys(b).verify(k.key)).toMatchObject({ workspaceId: "acme" });
  await b.close();
});

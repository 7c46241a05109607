// The Redis directory's Lua scripts, leases and self-fencing against a real redis-server.
import { Redis } from "ioredis";
import { Coordinator } from "../../lib/placement/coordinator";
import { LeaseKeeper } from "../../lib/placement/lease";
import { MemoryDirectory } from "../../lib/placement/memory-directory";
import { RedisDirectory } from "../../lib/placement/redis-directory";
import { WorkspaceStrategy } from "../../lib/placement/routing";
import { DirectoryView, setActiveView } from "../../lib/placement/view";
import type { DirectoryChange } from "../../lib/placement/directory";
import { waitFor } from "../helpers/processes";
import { freePort, tempDir } from "../helpers/processes";
import { RedisServer, startRedis } from "../helpers/servers";

let redis: RedisServer;
let dir: RedisDirectory;
let prefixN = 0;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.destroy();
});
beforeEach(() => {
  dir = new RedisDirectory({ url: redis.url, prefix: `t${++prefixN}:`, commandTimeoutMs: 500 });
});
afterEach(async () => {
  await dir.close();
});

describe("Redis directory", () => {
  it("lets exactly one of many concurrent claimers own a new workspace", async () => {
    const others = Array.from({ length: 9 }, () => new RedisDirectory({ url: redis.url, prefix: `t${prefixN}:` }));
    try {
      const results = await Promise.all([dir, ...others].map((d, i) => d.assign("acme", `node-${i}`, null)));
      const winners = results.filter(Boolean);
      expect(winners).toHaveLength(1);
      expect(await dir.owner("acme")).toEqual(winners[0]);
    } finally {
      await Promise.all(others.map((d) => d.close()));
    }
  });

  it("reassigns only against the current token, with strictly rising tokens", async () => {
    const a = (await dir.assign("w", "n1", null))!;
    expect(await dir.assign("w", "n2", null)).toBeUndefined();
    expect(await dir.assign("w", "n2", a.token - 1)).toBeUndefined();
    const b = (await dir.assign("w", "n2", a.token))!;
    expect(b.node).toBe("n2");
    expect(b.token).toBeGreaterThan(a.token);
    expect(await dir.assign("w", "n3", a.token)).toBeUndefined(); // a stale coordinator loses
    expect(await dir.unassign("w", a.token)).toBe(false);
    expect(await dir.unassign("w", b.token)).toBe(true);
    expect(await dir.owner("w")).toBeUndefined();
  });

  it("reassigns many workspaces in one step, each against its own token, with one notification", async () => {
    const other = new RedisDirectory({ url: redis.url, prefix: `t${prefixN}:` });
    const seen: DirectoryChange[] = [];
    other.subscribe((c) => seen.push(c));
    try {
      await new Promise((r) => setTimeout(r, 100));
      const a = (await dir.assign("m1", "dead", null))!;
      const b = (await dir.assign("m2", "dead", null))!;
      const results = await dir.assignMany([
        { workspaceId: "m1", node: "n1", expected: a.token },
        { workspaceId: "m2", node: "n2", expected: b.token - 1 }, // stale: refused
        { workspaceId: "m3", node: "n2", expected: null }, // unassigned: placed
        { workspaceId: "m1", node: "n3", expected: a.token }, // the first one already took it
      ]);
      expect(results.map((r) => r && r.node)).toEqual(["n1", undefined, "n2", undefined]);
      expect(results[0]!.token).toBeGreaterThan(b.token);
      expect(results[2]!.token).toBeGreaterThan(results[0]!.token);
      expect(await dir.ownersOf(["m1", "m2", "m3", "none"])).toEqual([results[0], b, results[2], undefined]);
      expect(await dir.ownersOf([])).toEqual([]);
      await waitFor("the notification", () => seen.some((c) => c.type === "assigned"), 3000, 20);
      expect(seen.filter((c) => c.type === "assigned")).toEqual([{ type: "assigned", assignments: [results[0], results[2]] }]);
      // nothing succeeded: nothing published
      expect(await dir.assignMany([{ workspaceId: "m2", node: "n1", expected: 1 }])).toEqual([undefined]);
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.filter((c) => c.type === "assigned")).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it("assignMany reassigns more workspaces than one script call carries", async () => {
    const ids = Array.from({ length: 1203 }, (_, i) => `big${i}`);
    const first = await dir.assignMany(ids.map((workspaceId) => ({ workspaceId, node: "dead", expected: null })));
    expect(first.every((a) => a?.node === "dead")).toBe(true);
    const moved = await dir.assignMany(first.map((a) => ({ workspaceId: a!.workspaceId, node: "n1", expected: a!.token })));
    expect(moved.every((a) => a?.node === "n1")).toBe(true);
    expect((await dir.assignments()).filter((a) => a.node === "n1")).toHaveLength(1203);
  });

  it("keeps tokens rising even after Redis lost its data", async () => {
    const a = (await dir.assign("w", "n1", null))!;
    const raw = new RedisDirectory({ url: redis.url, prefix: `t${prefixN}:` });
    await (raw as any).redis.flushall();
    await raw.close();
    const b = (await dir.assign("w", "n1", null))!;
    expect(b.token).toBeGreaterThan(a.token);
  });

  it("expires a lease that is not renewed and refuses to renew it afterwards", async () => {
    await dir.register({ node: "n1", capacity: 10, weight: 10, draining: false, epoch: "e1", sessions: 0 }, 300);
    expect(await dir.renew("n1", "e1", 300, 3)).toBe(true);
    expect(await dir.renew("n1", "other-epoch", 300, 3)).toBe(false);
    let nodes = await dir.nodes();
    expect(nodes).toEqual([expect.objectContaining({ node: "n1", alive: true, sessions: 3, capacity: 10 })]);
    await waitFor("lease expiry", async () => !(await dir.nodes())[0]!.alive, 3000, 50);
    expect(await dir.renew("n1", "e1", 300, 3)).toBe(false);
    await dir.setDraining("n1", true);
    nodes = await dir.nodes();
    expect(nodes[0]).toMatchObject({ draining: true, alive: false });
    await dir.forgetNode("n1");
    expect(await dir.nodes()).toEqual([]);
  });

  it("tells how long ago a dead node's lease expired, by Redis's clock, and only for the epoch that held it", async () => {
    const t0 = Date.now();
    await dir.register({ node: "n1", capacity: 10, weight: 10, draining: false, epoch: "e1", sessions: 0 }, 300);
    expect((await dir.nodes())[0]).not.toHaveProperty("expiredMs");
    await waitFor("lease expiry", async () => !(await dir.nodes())[0]!.alive, 3000, 50);
    await new Promise((r) => setTimeout(r, 200));
    const [n] = await dir.nodes();
    const read = Date.now();
    // the expiry it implies is no earlier than the registration plus the TTL (the same host's clock)
    expect(n!.expiredMs).toBeGreaterThanOrEqual(200);
    expect(read - n!.expiredMs!).toBeGreaterThanOrEqual(t0 + 300 - 1);
    // a renewal moves the expiry: the node registered again, renewed, then stopped
    const t1 = Date.now();
    await dir.register({ node: "n1", capacity: 10, weight: 10, draining: false, epoch: "e2", sessions: 0 }, 300);
    await new Promise((r) => setTimeout(r, 150));
    const renewed = Date.now();
    expect(await dir.renew("n1", "e2", 300, 0)).toBe(true);
    await waitFor("lease expiry", async () => !(await dir.nodes())[0]!.alive, 3000, 50);
    const [m] = await dir.nodes();
    expect(Date.now() - m!.expiredMs!).toBeGreaterThanOrEqual(Math.max(t1, renewed) + 300 - 1);
    // an expiry another epoch wrote (a node that registered again without one) is not this epoch's
    const raw = new Redis(redis.url);
    try {
      await raw.hset(`t${prefixN}:node:n1`, "leaseUntil", `e1|${Date.now() - 60_000}`);
    } finally {
      raw.disconnect();
    }
    expect((await dir.nodes())[0]).not.toHaveProperty("expiredMs");
  });

  it("a coordinator elected after a dead coordinator's lease expired reassigns at that expiry plus the margin, never before", async () => {
    const margin = 3_000;
    const ttl = 1_000;
    const t0 = Date.now();
    // the victim led and held workspaces; it renews nothing from here on (killed)
    await dir.register({ node: "victim", capacity: 100, weight: 100, draining: false, epoch: "ev", sessions: 0 }, ttl);
    expect(await dir.lead("victim", ttl)).toBe(true);
    await dir.register({ node: "a", capacity: 100, weight: 100, draining: false, epoch: "ea", sessions: 0 }, 60_000);
    for (const w of ["w1", "w2", "w3"]) await dir.assign(w, "victim", null);
    let reassignedAt = 0;
    const c = new Coordinator({
      directory: dir,
      node: "a",
      leaseTtlMs: 60_000,
      takeoverMarginMs: margin,
      concurrency: 2,
      storedWorkspaceIds: async () => [],
      weightOf: async () => 1,
      release: async () => undefined,
      adoptHint: () => undefined,
      onFailover: () => (reassignedAt = Date.now()),
      logger: { ...quiet, debug: () => undefined },
      tickMs: 200,
    });
    // the survivor's first look comes 2.5 s after the victim's lease (and its coordinator lease) expired
    await new Promise((r) => setTimeout(r, ttl + 2_500));
    c.start();
    try {
      await waitFor("the failover", () => reassignedAt > 0, 10_000, 20);
      expect((await dir.assignments()).map((a) => a.node)).toEqual(["a", "a", "a"]);
      // never before the expiry plus the margin (the frozen-node argument, docs/architecture.md) ...
      expect(reassignedAt).toBeGreaterThanOrEqual(t0 + ttl + margin);
      // ... and not a margin after its own first look (t0 + 3.5 s + 3 s) either
      expect(reassignedAt).toBeLessThan(t0 + ttl + 2_500 + margin - 1_000);
    } finally {
      await c.stop();
    }
  });

  it("keeps a draining mark when a node that fenced itself registers again", async () => {
    await dir.register({ node: "n1", capacity: 10, weight: 10, draining: false, epoch: "e1", sessions: 0 }, 60000);
    await dir.setDraining("n1", true);
    await dir.register({ node: "n1", capacity: 10, weight: 10, draining: false, epoch: "e2", sessions: 0 }, 60000);
    expect((await dir.nodes())[0]).toMatchObject({ draining: true, alive: true, epoch: "e2" });
    await dir.setDraining("n1", false);
    await dir.register({ node: "n1", capacity: 10, weight: 10, draining: false, epoch: "e3", sessions: 0 }, 60000);
    expect((await dir.nodes())[0]).toMatchObject({ draining: false, epoch: "e3" });
  });

  it("elects one coordinator at a time", async () => {
    expect(await dir.lead("n1", 300)).toBe(true);
    expect(await dir.lead("n2", 300)).toBe(false);
    expect(await dir.lead("n1", 300)).toBe(true);
    expect(await dir.coordinator()).toBe("n1");
    await dir.resign("n1");
    expect(await dir.lead("n2", 300)).toBe(true);
  });

  it("publishes changes to subscribers on other connections", async () => {
    const other = new RedisDirectory({ url: redis.url, prefix: `t${prefixN}:` });
    const seen: DirectoryChange[] = [];
    other.subscribe((c) => seen.push(c));
    try {
      await new Promise((r) => setTimeout(r, 100));
      const a = (await dir.assign("w9", "n1", null))!;
      await waitFor("the change", () => seen.some((c) => c.type === "assign" && c.workspaceId === "w9" && c.token === a.token), 3000, 20);
    } finally {
      await other.close();
    }
  });

  it("tells subscribers to read everything again after its change feed reconnects (pub/sub loses what was published meanwhile)", async () => {
    const other = new RedisDirectory({ url: redis.url, prefix: `t${prefixN}:` });
    const seen: DirectoryChange[] = [];
    other.subscribe((c) => seen.push(c));
    try {
      await waitFor("the first connect", () => seen.some((c) => c.type === "resync"), 3000, 20);
      seen.length = 0;
      // the server drops every pub/sub connection; the client reconnects and subscribes again
      await (dir as any).redis.client("KILL", "TYPE", "pubsub");
      await waitFor("a resync after the reconnect", () => seen.some((c) => c.type === "resync"), 5000, 20);
      const a = (await dir.assign("w10", "n1", null))!;
      await waitFor("changes flowing again", () => seen.some((c) => c.type === "assign" && c.token === a.token), 3000, 20);
    } finally {
      await other.close();
    }
  });
});

describe("LeaseKeeper", () => {
  it("survives a Redis outage shorter than its slack, and fences before the TTL when it lasts longer", async () => {
    const local = await new RedisServer(await freePort(), await tempDir("redis-lease"), true).prepare();
    await local.start();
    const d = new RedisDirectory({ url: local.url, prefix: "lk:", commandTimeoutMs: 200 });
    const fences: number[] = [];
    let lastRenewOk = Date.now();
    const keeper = new LeaseKeeper({ directory: d, node: "n1", ttlMs: 1500, capacity: 10, sessions: () => 0, onFence: () => void fences.push(Date.now()), logger: quiet });
    const renew = d.renew.bind(d);
    d.renew = async (...args) => {
      // the lease in Redis runs from when the renewal was sent at the latest
      const sent = Date.now();
      const ok = await renew(...args);
      if (ok) lastRenewOk = sent;
      return ok;
    };
    try {
      // the 200 ms command timeout makes an outage show fast; the first contact with a Redis just
      // started (connect, the script's first load) can take longer on a loaded machine, and the
      // promise under test begins once the lease is taken
      await waitFor("the lease taken", () => keeper.start().then(() => true), 10000, 50);
      expect(keeper.valid()).toBe(true);
      // short outage (a persistent Redis restarted): nothing fences
      await local.stop();
      await new Promise((r) => setTimeout(r, 150));
      await local.start();
      await new Promise((r) => setTimeout(r, 1500));
      expect(fences).toHaveLength(0);
      expect(keeper.valid()).toBe(true);
      const before = fences.length;
      // long outage: fences before the TTL would have run out in Redis
      await local.stop();
      await waitFor("self-fencing", () => fences.length > before, 5000, 20);
      expect(keeper.valid()).toBe(false);
      expect(fences[fences.length - 1]! - lastRenewOk).toBeLessThan(1500);
      await local.start();
      await waitFor("the lease back", () => keeper.valid(), 5000, 50);
    } finally {
      await keeper.stop();
      await d.close();
      await local.destroy();
    }
  });
});

describe("Workspace strategy", () => {
  it("routes to the owner, places unknown workspaces by rendezvous, and never throws", async () => {
    const mem = new MemoryDirectory();
    for (const n of ["a", "b", "c"]) await mem.register({ node: n, capacity: 100, weight: 100, draining: false, epoch: n, sessions: 0 }, 60000);
    await mem.assign("acme", "b", null);
    const view = new DirectoryView(mem, 60000);
    await view.start();
    setActiveView(view);
    try {
      const s = new (WorkspaceStrategy as any)();
      const list = ["a", "b", "c"].map((id) => ({ id, node: { id } }));
      expect(s.select(list, { params: { workspaceId: "acme" } }).node.id).toBe("b");
      // behind moleculer-web the key sits in the request's params
      expect(s.select(list, { params: { req: { $params: { workspaceId: "acme" } } } }).node.id).toBe("b");
      const first = s.select(list, { params: { workspaceId: "new-one" } }).node.id;
      for (let i = 0; i < 5; i++) expect(s.select(list, { params: { workspaceId: "new-one" } }).node.id).toBe(first);
      // the owner is not reachable: any endpoint (it answers NOT_OWNER or WORKSPACE_MOVING)
      expect(list).toContainEqual(s.select(list.filter((e) => e.id !== "b"), { params: { workspaceId: "acme" } }));
      expect(list).toContainEqual(s.select(list, undefined));
      expect(list).toContainEqual(s.select(list, { params: null }));
      expect(list).toContainEqual(s.select(list, { params: { workspaceId: { toString: () => { throw new Error("hostile"); } } } }));
    } finally {
      view.stop();
      setActiveView(undefined);
    }
  });
});

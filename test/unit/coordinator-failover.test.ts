// The coordinator's failover: a dead node's workspaces are reassigned in one step (one
// compare-and-set each, one directory call and one notification for all of them), each new owner
// gets one adopt hint, and the owners are not read on a tick with nothing to do. A single class
// against the in-memory directory, its calls counted.
import { Coordinator } from "../../lib/placement/coordinator";
import type { DirectoryChange } from "../../lib/placement/directory";
import { MemoryDirectory } from "../../lib/placement/memory-directory";
import { DirectoryView } from "../../lib/placement/view";
import { waitFor } from "../helpers/processes";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

class CountingDirectory extends MemoryDirectory {
  assignCalls = 0;
  assignManyCalls = 0;
  ownerReads = 0;
  override async assign(workspaceId: string, node: string, expected: number | null) {
    this.assignCalls++;
    return super.assign(workspaceId, node, expected);
  }
  override async assignMany(moves: Array<{ workspaceId: string; node: string; expected: number | null }>) {
    this.assignManyCalls++;
    return super.assignMany(moves);
  }
  override async assignments() {
    this.ownerReads++;
    return super.assignments();
  }
}

async function setup() {
  let now = 1_000_000;
  const directory = new CountingDirectory(() => now);
  for (const node of ["n1", "n2", "n3", "dead"]) await directory.register({ node, capacity: 1000, weight: 100, draining: false, epoch: `e-${node}`, sessions: 0 }, node === "dead" ? 5_000 : 600_000);
  // balanced (15 each), so the load relief has nothing to move
  for (let i = 0; i < 60; i++) await directory.assign(`w${i}`, i < 15 ? "dead" : `n${(i % 3) + 1}`, null);
  const hints: string[] = [];
  const failovers: Array<{ node: string; workspaces: string[] }> = [];
  const options: ConstructorParameters<typeof Coordinator>[0] = {
    directory,
    node: "n1",
    leaseTtlMs: 600_000,
    // the margin is counted on the real clock; the leases here on the directory's
    takeoverMarginMs: 0,
    concurrency: 4,
    storedWorkspaceIds: async () => [],
    weightOf: async () => 1,
    release: async () => undefined,
    adoptHint: (node) => hints.push(node),
    onFailover: (node, workspaces) => failovers.push({ node, workspaces }),
    logger: quiet,
    scanEveryMs: 60_000,
  };
  const coordinator = new Coordinator(options);
  return { directory, coordinator, options, hints, failovers, advance: (ms: number) => (now += ms) };
}

const views: DirectoryView[] = [];
afterEach(() => views.splice(0).forEach((v) => v.stop()));

describe("coordinator: failover", () => {
  it("reassigns a dead node's workspaces in one step, one hint per new owner, and forgets the node", async () => {
    const { directory, coordinator, hints, failovers, advance } = await setup();
    const view = new DirectoryView(directory, 600_000);
    await view.start();
    views.push(view);
    const changes: DirectoryChange[] = [];
    directory.subscribe((c) => changes.push(c));
    await coordinator.tick(); // leads; everyone alive
    expect((await directory.assignments()).filter((a) => a.node === "dead")).toHaveLength(15);
    advance(6_000); // the dead node's lease is gone
    directory.assignCalls = 0;
    await coordinator.tick();
    const after = await directory.assignments();
    expect(after.filter((a) => a.node === "dead")).toHaveLength(0);
    expect(after).toHaveLength(60);
    expect(directory.assignCalls).toBe(0);
    expect(directory.assignManyCalls).toBe(1);
    expect(failovers).toEqual([{ node: "dead", workspaces: expect.arrayContaining(Array.from({ length: 15 }, (_, i) => `w${i}`)) }]);
    expect([...hints].sort()).toEqual([...new Set(after.filter((a) => Number(a.workspaceId.slice(1)) < 15).map((a) => a.node))].sort());
    expect((await directory.nodes()).map((n) => n.node).sort()).toEqual(["n1", "n2", "n3"]);
    // one notification carried them all, and the view followed it
    await new Promise((r) => setImmediate(r));
    expect(changes.filter((c) => c.type === "assigned")).toHaveLength(1);
    for (const a of after) expect(view.ownerOf(a.workspaceId)).toEqual(a);
  });

  it("counts the takeover margin from the lease's expiry, so a coordinator elected after it does not wait a margin more", async () => {
    const { directory, coordinator, options, failovers, advance } = await setup();
    const margin = 1_500;
    const late = new Coordinator({ ...options, takeoverMarginMs: margin, node: "n2" });
    await coordinator.tick(); // n1 leads; everyone alive
    // n1's coordinator stops leading (its node died too, say); the dead node's lease expired 2 s
    // ago by the directory's clock, more than the margin
    await coordinator.stop();
    advance(5_000 + 2_000);
    await late.tick();
    expect(failovers.map((f) => f.node)).toEqual(["dead"]);
    expect((await directory.assignments()).filter((a) => a.node === "dead")).toHaveLength(0);
  });

  it("never reassigns before the lease's expiry plus the margin, and wakes when the margin ends", async () => {
    const { directory, options, failovers, advance } = await setup();
    const margin = 1_200;
    const c = new Coordinator({ ...options, takeoverMarginMs: margin, tickMs: 60_000 });
    advance(5_000 + 200); // the lease expired 200 ms ago: 1 s of margin left (on the real clock from here)
    const from = Date.now();
    c.start(); // one tick now, the next a minute later: only the wake-up can act in between
    try {
      await new Promise((r) => setTimeout(r, 300));
      await c.tick();
      expect(failovers).toEqual([]);
      await waitFor("the failover at the margin's end", () => failovers.length > 0, 5_000, 20);
      // the expiry was at least 200 ms before `from` by the directory's clock: the margin ran out no
      // earlier than from + 1,000 ms
      expect(Date.now() - from).toBeGreaterThanOrEqual(margin - 200);
      expect((await directory.assignments()).filter((a) => a.node === "dead")).toHaveLength(0);
    } finally {
      await c.stop();
    }
  });

  it("tells the planned new owners what to read while the margin runs, once, and reassigns only at its end as planned", async () => {
    const { directory, options, failovers, advance } = await setup();
    const planned: Array<{ node: string; workspaces: string[]; dead: string }> = [];
    const c = new Coordinator({ ...options, takeoverMarginMs: 800, tickMs: 60_000, prepareHint: (node, workspaces, dead) => planned.push({ node, workspaces, dead }) });
    await c.tick(); // leads; everyone alive: nothing to plan
    expect(planned).toEqual([]);
    advance(5_000 + 100); // the dead node's lease expired 100 ms ago: the margin runs
    await c.tick();
    // every dead workspace planned on one live node, nothing reassigned yet
    expect(planned.flatMap((p) => p.workspaces).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `w${i}`).sort());
    expect(new Set(planned.map((p) => p.node)).size).toBe(planned.length);
    for (const p of planned) expect(["n1", "n2", "n3"]).toContain(p.node);
    // each hint names the dead node, so a read is not used if that node comes back
    for (const p of planned) expect(p.dead).toBe("dead");
    expect(failovers).toEqual([]);
    expect((await directory.assignments()).filter((a) => a.node === "dead")).toHaveLength(15);
    // told once per death, not at every look during the margin
    await c.tick();
    expect(planned).toHaveLength(new Set(planned.map((p) => p.node)).size);
    await waitFor("the failover at the margin's end", async () => (await c.tick(), failovers.length > 0), 5_000, 50);
    // the reassignment followed the plan (nothing changed in between)
    const owners = new Map((await directory.assignments()).map((a) => [a.workspaceId, a.node]));
    for (const p of planned) for (const w of p.workspaces) expect(owners.get(w)).toBe(p.node);
    await c.stop();
  });

  it("does not read every owner on a tick with nothing to do", async () => {
    const { directory, coordinator } = await setup();
    await coordinator.tick(); // the first tick scans and plans
    directory.ownerReads = 0;
    for (let i = 0; i < 5; i++) await coordinator.tick();
    expect(directory.ownerReads).toBe(0);
  });
});

// The coordinator's failover: a dead node's workspaces are reassigned in one step (one
// compare-and-set each, one directory call and one notification for all of them), each new owner
// gets one adopt hint, and the owners are not read on a tick with nothing to do. A single class
// against the in-memory directory, its calls counted.
import { Coordinator } from "../../lib/placement/coordinator";
import type { DirectoryChange } from "../../lib/placement/directory";
import { MemoryDirectory } from "../../lib/placement/memory-directory";
import { DirectoryView } from "../../lib/placement/view";

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
  const coordinator = new Coordinator({
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
  });
  return { directory, coordinator, hints, failovers, advance: (ms: number) => (now += ms) };
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

  it("does not read every owner on a tick with nothing to do", async () => {
    const { directory, coordinator } = await setup();
    await coordinator.tick(); // the first tick scans and plans
    directory.ownerReads = 0;
    for (let i = 0; i < 5; i++) await coordinator.tick();
    expect(directory.ownerReads).toBe(0);
  });
});

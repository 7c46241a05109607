// The coordinator keeps the bounded load: a node above its cap (racing creations, a failover onto
// full survivors) hands its excess to nodes under theirs. A single class against the in-memory
// directory, its handoff callbacks recorded.
import { Coordinator } from "../../lib/placement/coordinator";
import { caps } from "../../lib/placement/hrw";
import { MemoryDirectory } from "../../lib/placement/memory-directory";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

async function setup(nodes: Array<{ node: string; draining?: boolean; capacity?: number }>, placed: Record<string, number>) {
  const directory = new MemoryDirectory();
  for (const n of nodes) {
    await directory.register({ node: n.node, capacity: n.capacity ?? 1000, weight: 100, draining: false, epoch: `e-${n.node}`, sessions: 0 }, 600_000);
    if (n.draining) await directory.setDraining(n.node, true);
  }
  let k = 0;
  for (const [node, count] of Object.entries(placed)) {
    for (let i = 0; i < count; i++) await directory.assign(`w${k++}`, node, null);
  }
  const released: string[] = [];
  const coordinator = new Coordinator({
    directory,
    node: nodes[0]!.node,
    leaseTtlMs: 60_000,
    takeoverMarginMs: 1000,
    concurrency: 4,
    storedWorkspaceIds: async () => [],
    weightOf: async () => 1,
    release: async (node, workspaceId) => {
      released.push(`${workspaceId}@${node}`);
    },
    adoptHint: () => undefined,
    logger: quiet,
    scanEveryMs: 0,
  });
  const counts = async () => {
    const out: Record<string, number> = Object.fromEntries(nodes.map((n) => [n.node, 0]));
    for (const a of await directory.assignments()) out[a.node] = (out[a.node] ?? 0) + 1;
    return out;
  };
  /** Ticks until nothing moves any more (moves run in the background between ticks). */
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      const before = JSON.stringify(await counts());
      await coordinator.tick();
      await new Promise((r) => setTimeout(r, 20));
      if (JSON.stringify(await counts()) === before && i > 2) return;
    }
  };
  return { directory, coordinator, released, counts, settle };
}

describe("coordinator: the bounded load kept", () => {
  it("moves a node's excess above its cap to nodes under theirs, and then holds still", async () => {
    const { counts, settle, released, coordinator } = await setup([{ node: "n1" }, { node: "n2" }, { node: "n3" }], { n1: 20, n2: 2, n3: 2 });
    const cap = caps(["n1", "n2", "n3"].map((node) => ({ node, weight: 100, capacity: 1000 })), 24).get("n1")!;
    await settle();
    const after = await counts();
    expect(after.n1).toBe(cap);
    expect(after.n2! + after.n3!).toBe(24 - cap);
    for (const n of ["n2", "n3"]) expect(after[n]).toBeLessThanOrEqual(cap);
    // each move was a handoff from the live owner, never from the others
    expect(released).toHaveLength(20 - cap);
    expect(released.every((r) => r.endsWith("@n1"))).toBe(true);
    // settled: more ticks move nothing
    await coordinator.tick();
    await new Promise((r) => setTimeout(r, 50));
    expect(released).toHaveLength(20 - cap);
    expect(await counts()).toEqual(after);
  });

  it("leaves a balanced cluster alone", async () => {
    const { settle, released } = await setup([{ node: "n1" }, { node: "n2" }], { n1: 6, n2: 5 });
    await settle();
    expect(released).toEqual([]);
  });

  it("never moves to a draining node, nor to one without room for the sessions", async () => {
    const { counts, settle } = await setup([{ node: "n1" }, { node: "n2", draining: true }, { node: "n3", capacity: 0 }], { n1: 10 });
    await settle();
    expect(await counts()).toEqual({ n1: 10, n2: 0, n3: 0 });
  });
});

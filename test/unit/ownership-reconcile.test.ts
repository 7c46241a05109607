// A session node's reconcile after a failover gave it many workspaces at once: it checks them all
// with the directory in one read (not a read each) and adopts a few at a time, not one after
// another; a notification makes it look at the workspaces it names, not at every workspace. A single class against the in-memory directory, its reads and adoptions counted.
import { MemoryDirectory } from "../../lib/placement/memory-directory";
import { Ownership } from "../../lib/placement/ownership";
import { DirectoryView } from "../../lib/placement/view";
import { waitFor } from "../helpers/processes";

class CountingDirectory extends MemoryDirectory {
  ownerCalls = 0;
  ownersOfCalls = 0;
  override async owner(w: string) {
    this.ownerCalls++;
    return super.owner(w);
  }
  override async ownersOf(ws: string[]) {
    this.ownersOfCalls++;
    return super.ownersOf(ws);
  }
}

it("adopts the workspaces a failover gave it with one directory read, a few at a time", async () => {
  const directory = new CountingDirectory();
  await directory.register({ node: "n1", capacity: 1000, weight: 100, draining: false, epoch: "e1", sessions: 0 }, 600_000);
  const view = new DirectoryView(directory, 600_000);
  await view.start();
  let running = 0;
  let most = 0;
  const adopted: string[] = [];
  const gates: Array<() => void> = [];
  const ownership = new Ownership({
    directory,
    view,
    node: "n1",
    lease: { valid: () => true },
    host: {
      adopt: async (w) => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        adopted.push(w);
      },
      drop: async () => undefined,
      dropAll: async () => undefined,
    },
    logger: { info: () => undefined, warn: () => undefined },
    reconcileEveryMs: 600_000,
    adoptConcurrency: 4,
  });
  const fullPasses = jest.spyOn(view, "assignments");
  try {
    ownership.start();
    expect(fullPasses).toHaveBeenCalledTimes(1); // the first reconcile looks at everything
    const ids = Array.from({ length: 20 }, (_, i) => `w${i}`);
    const before = await directory.assignMany(ids.map((workspaceId) => ({ workspaceId, node: "dead", expected: null })));
    await directory.assignMany(before.map((a) => ({ workspaceId: a!.workspaceId, node: "n1", expected: a!.token })));
    // let the adoptions through as they queue up
    await waitFor("every workspace adopted", () => {
      gates.splice(0).forEach((open) => open());
      return adopted.length === 20;
    }, 5000, 5);
    expect([...adopted].sort()).toEqual([...ids].sort());
    expect(most).toBe(4);
    expect(directory.ownerCalls).toBe(0);
    expect(directory.ownersOfCalls).toBeGreaterThanOrEqual(1);
    expect(directory.ownersOfCalls).toBeLessThanOrEqual(2);
    expect(ownership.ownedWorkspaces().sort()).toEqual([...ids].sort());
    // notifications name their workspaces: none of them made the node look at every workspace
    await directory.assign("elsewhere", "n2", null);
    await new Promise((r) => setImmediate(r));
    expect(fullPasses).toHaveBeenCalledTimes(1);
    // the timer (or a hint) still does
    ownership.scheduleReconcile();
    expect(fullPasses).toHaveBeenCalledTimes(2);
  } finally {
    ownership.stop();
    view.stop();
  }
});

// The coordinator's storage scan: every few seconds it looks for stored workspaces nobody owns, but
// reading what every workspace weighs (every session's meta) is proportional to all sessions, so
// it weighs them all only every weighEveryMs, and an unowned or new workspace at once. A single
// class against the in-memory directory, its storage callbacks counted.
import { Coordinator } from "../../lib/placement/coordinator";
import { MemoryDirectory } from "../../lib/placement/memory-directory";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

async function setup(weighEveryMs?: number) {
  const directory = new MemoryDirectory();
  for (const node of ["n1", "n2"]) await directory.register({ node, capacity: 1000, weight: 100, draining: false, epoch: `e-${node}`, sessions: 0 }, 600_000);
  const stored = Array.from({ length: 10 }, (_, i) => `w${i}`);
  for (const w of stored.slice(0, 4)) await directory.assign(w, "n1", null);
  const weighed: string[] = [];
  const coordinator = new Coordinator({
    directory,
    node: "n1",
    leaseTtlMs: 60_000,
    takeoverMarginMs: 1000,
    concurrency: 4,
    storedWorkspaceIds: async () => [...stored],
    weightOf: async (w) => {
      weighed.push(w);
      return 5;
    },
    release: async () => undefined,
    adoptHint: () => undefined,
    logger: quiet,
    scanEveryMs: 0,
    ...(weighEveryMs !== undefined ? { weighEveryMs } : {}),
  });
  return { directory, coordinator, stored, weighed };
}

describe("coordinator: the storage scan", () => {
  it("weighs every stored workspace once, places the unowned ones, then weighs only what is new", async () => {
    const { directory, coordinator, stored, weighed } = await setup();
    await coordinator.tick();
    expect([...weighed].sort()).toEqual([...stored].sort());
    expect((await directory.assignments()).map((a) => a.workspaceId).sort()).toEqual([...stored].sort());
    weighed.length = 0;
    await coordinator.tick();
    await coordinator.tick();
    expect(weighed).toEqual([]);
    // a workspace created since (or found unowned) is weighed at once, and placed
    stored.push("w10");
    await coordinator.tick();
    expect(weighed).toEqual(["w10"]);
    expect((await directory.assignments()).some((a) => a.workspaceId === "w10")).toBe(true);
  });

  it("weighs everything again every weighEveryMs", async () => {
    const { coordinator, stored, weighed } = await setup(0);
    await coordinator.tick();
    await coordinator.tick();
    expect(weighed).toHaveLength(2 * stored.length);
  });
});

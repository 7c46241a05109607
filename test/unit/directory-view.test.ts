// The directory view's refresh: change notifications keep it fresh; the node states are read again
// every refreshMs (an expired lease sends no notification), but all the owners (proportional to
// all workspaces) only when the notifications were reconnected, and every ownersRefreshMs as a
// backstop. A single class against the in-memory directory, its reads counted.
import type { DirectoryChange } from "../../lib/placement/directory";
import { MemoryDirectory } from "../../lib/placement/memory-directory";
import { DirectoryView } from "../../lib/placement/view";
import { waitFor } from "../helpers/processes";

class CountingDirectory extends MemoryDirectory {
  ownerReads = 0;
  nodeReads = 0;
  /** The change feed is down: notifications are lost, as Redis pub/sub loses them while disconnected */
  down = false;
  feed: Array<(c: DirectoryChange) => void> = [];
  override async assignments() {
    this.ownerReads++;
    return super.assignments();
  }
  override async nodes() {
    this.nodeReads++;
    return super.nodes();
  }
  override subscribe(listener: (c: DirectoryChange) => void) {
    this.feed.push(listener);
    return super.subscribe((c) => {
      if (!this.down) listener(c);
    });
  }
}

const views: DirectoryView[] = [];
afterEach(() => views.splice(0).forEach((v) => v.stop()));

it("reads the node states every refresh, all the owners only every ownersRefreshMs, and follows notifications in between", async () => {
  const directory = new CountingDirectory();
  await directory.register({ node: "n1", capacity: 10, weight: 100, draining: false, epoch: "e1", sessions: 0 }, 60_000);
  const view = new DirectoryView(directory, 20, undefined, 60_000);
  views.push(view);
  await view.start();
  expect(directory.ownerReads).toBe(1);
  const nodeReads = directory.nodeReads;
  await waitFor("five node refreshes", () => directory.nodeReads >= nodeReads + 5, 5000);
  expect(directory.ownerReads).toBe(1);
  // a notification is applied at once, without a read
  await directory.assign("w1", "n1", null);
  expect(view.ownerOf("w1")?.node).toBe("n1");
  expect(directory.ownerReads).toBe(1);
});

it("reads all the owners again when the notifications were reconnected (what was published meanwhile is lost)", async () => {
  const directory = new CountingDirectory();
  const view = new DirectoryView(directory, 60_000, undefined, 60_000);
  views.push(view);
  await view.start();
  // an owner written while the feed was down: no notification reaches the view
  directory.down = true;
  await directory.assign("w2", "n9", null);
  await new Promise((r) => setTimeout(r, 20));
  expect(view.ownerOf("w2")).toBeUndefined();
  directory.down = false;
  for (const l of directory.feed) l({ type: "resync" });
  await waitFor("the reload", () => view.ownerOf("w2")?.node === "n9", 5000);
  expect(directory.ownerReads).toBe(2);
});

it("still reads all the owners as a backstop", async () => {
  const directory = new CountingDirectory();
  const view = new DirectoryView(directory, 10, undefined, 50);
  views.push(view);
  await view.start();
  await waitFor("a backstop reload", () => directory.ownerReads >= 3, 5000);
});

it("keeps each node's workspace count (placement's loads) equal to a full count, through assigns, moves, unassigns and reloads", async () => {
  const dir = new CountingDirectory();
  for (const node of ["n1", "n2", "n3"]) await dir.register({ node, capacity: 100, weight: 100, draining: false, epoch: `e-${node}`, sessions: 7 }, 600_000);
  const view = new DirectoryView(dir, 600_000);
  views.push(view);
  await view.start();
  const full = async () => {
    const out = new Map<string, { workspaces: number; sessions: number }>((await dir.nodes()).map((n) => [n.node, { workspaces: 0, sessions: n.sessions }]));
    for (const a of await dir.assignments()) out.get(a.node)!.workspaces++;
    return out;
  };
  const settled = () => new Promise((r) => setImmediate(r));
  const placed = [];
  for (let i = 0; i < 30; i++) placed.push((await dir.assign(`w${i}`, `n${(i % 3) + 1}`, null))!);
  await settled();
  expect(view.loads()).toEqual(await full());
  // a failover-like batch move, a single move, an unassign
  await dir.assignMany(placed.slice(0, 10).map((a) => ({ workspaceId: a.workspaceId, node: "n3", expected: a.token })));
  const w20 = (await dir.owner("w20"))!;
  await dir.assign("w20", "n1", w20.token);
  await dir.unassign("w29", (await dir.owner("w29"))!.token);
  await settled();
  expect(view.loads()).toEqual(await full());
  // an old notification (lower token) changes nothing
  dir.feed.forEach((l) => l({ type: "assign", workspaceId: "w20", node: "n2", token: w20.token }));
  expect(view.loads()).toEqual(await full());
  await view.reload();
  expect(view.loads()).toEqual(await full());
});

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

// The dashboard's cluster page against a real cluster (nats-server, redis-server, the simulated
// network, three session nodes and a gateway as child processes): draining a node, moving a
// workspace and a kill -9 failover, each seen on the page as it happens, by clicking.
import { ADMIN_KEY, TestCluster } from "../helpers/cluster";
import { DashboardBrowser, type DashboardPage } from "../helpers/dashboard";
import { waitFor } from "../helpers/processes";

const NODES = ["dash-a", "dash-b", "dash-c"];
const WORKSPACES = ["w1", "w2", "w3", "w4", "w5", "w6"];

let cluster: TestCluster;
let browser: DashboardBrowser;
let page: DashboardPage;

const owners = async (): Promise<Map<string, string>> => new Map(((await cluster.cluster()).assignments as any[]).map((a) => [a.workspaceId, a.node]));
/** The owner each workspace row of the page shows. */
const shownOwners = async (): Promise<Map<string, string>> =>
  new Map(await page.page.$$eval("[data-testid=assignments] tr[data-workspace]", (rows) => rows.map((r: any) => [r.dataset.workspace as string, r.querySelector("[data-testid=owner]").innerText as string] as [string, string])));
/**
 * The assignments once the page shows what the cluster says, twice in a row: workspaces may still be
 * settling (the coordinator moves a node's excess after the fact), and the page polls, so a count
 * read from the API alone may not be what the page shows when the test clicks.
 */
const settledOwners = async (): Promise<Map<string, string>> => {
  let last = "";
  return waitFor("the page and the cluster agreeing on the assignments", async () => {
    const api = await owners();
    const key = JSON.stringify([...api].sort());
    const agreed = key === JSON.stringify([...(await shownOwners())].sort()) && key === last;
    last = key;
    return agreed ? api : undefined;
  }, 30000, 300);
};
const allWorking = async (workspaces: string[]) => {
  for (const w of workspaces) if ((await cluster.session(w, "main")).status !== "WORKING") return false;
  return true;
};

beforeAll(async () => {
  cluster = await new TestCluster().start(NODES);
  await Promise.all(WORKSPACES.map((w, i) => cluster.createLinked(w, "main", `1555888000${i}`)));
  await waitFor("every session WORKING", () => allWorking(WORKSPACES), 30000, 200);
  browser = await DashboardBrowser.launch();
  page = await browser.page(cluster.api);
  await page.signIn(ADMIN_KEY);
}, 120000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

describe("the dashboard's cluster page on three nodes", () => {
  it("shows every node with its utilisation, capacity, memory and workspaces", async () => {
    await page.go("#/cluster");
    for (const n of NODES) await page.waitForText(`tr[data-node=${n}]`, "up");
    await page.waitForText("[data-testid=nodes]", /MB of \d/);
    // the page shows what the cluster says (once workspaces have settled after the start)
    expect((await settledOwners()).size).toBe(WORKSPACES.length);
    await page.screenshot("20-cluster-three-nodes");
  });

  it("drains a node by clicking: its workspaces move to the others and their sessions stay WORKING", async () => {
    const before = await settledOwners();
    const counts = NODES.map((n) => [n, [...before.values()].filter((o) => o === n).length] as const).sort((a, b) => b[1] - a[1]);
    const [victim, owned] = counts[0]!;
    expect(owned).toBeGreaterThan(0);
    const moving = [...before].filter(([, n]) => n === victim).map(([w]) => w);

    await page.clickButton("Drain", `tr[data-node=${victim}]`);
    expect(await page.confirm()).toContain(`${owned} workspaces`);
    await page.waitForText(".notice.ok", `${victim} drained: ${owned} workspaces moved`, 120000);
    await page.waitForText(`tr[data-node=${victim}]`, "draining");
    await waitFor("the page showing no workspace on the drained node", async () => {
      const shown = await shownOwners();
      return shown.size === WORKSPACES.length && [...shown.values()].every((n) => n !== victim);
    }, 20000, 200);
    await waitFor("the moved sessions WORKING on their new nodes", () => allWorking(moving), 30000, 200);
    await page.screenshot("21-cluster-drained");

    await page.clickButton("Undrain", `tr[data-node=${victim}]`);
    await page.waitForText(".notice.ok", `${victim} takes workspaces again`);
    await page.waitForText(`tr[data-node=${victim}]`, "up");
  }, 180000);

  it("moves one workspace to the node the operator picks", async () => {
    const before = await settledOwners();
    const [workspace, from] = [...before][0]!;
    const to = NODES.find((n) => n !== from)!;
    await page.page.select(`#move-${workspace}`, to);
    await page.clickButton("Move", `tr[data-workspace=${workspace}]`);
    await page.waitForText(".notice.ok", `${workspace} moved from ${from} to ${to}`, 60000);
    await page.waitForText(`tr[data-workspace=${workspace}] [data-testid=owner]`, to);
    await waitFor(`${workspace} WORKING on ${to}`, async () => (await cluster.session(workspace, "main")).node === to && (await cluster.session(workspace, "main")).status === "WORKING", 30000, 200);
  }, 90000);

  it("shows a failover as it happens after a node is killed, and where its workspaces went", async () => {
    const before = await owners();
    const coordinator = (await cluster.cluster()).coordinator;
    const victim = NODES.find((n) => n !== coordinator && [...before.values()].includes(n))!;
    expect(victim).toBeDefined();
    await cluster.nodes.get(victim)!.kill("SIGKILL");
    await page.waitForText("[data-testid=cluster-events]", `wa.cluster.failover ${victim}:`, 60000);
    // the dead node shows as down until the coordinator forgets it
    await waitFor(`${victim} down or gone on the page`, async () => !/\bup\b/.test(await page.text(`tr[data-node=${victim}]`)), 20000, 200);
    await waitFor("the page showing the dead node's workspaces on survivors", async () => [...(await shownOwners()).values()].every((n) => n !== victim), 20000, 200);
    await waitFor("every session WORKING after the failover", () => allWorking(WORKSPACES), 60000, 200);
    await page.screenshot("22-cluster-failover");
    expect(page.errors).toEqual([]);
  }, 120000);
});

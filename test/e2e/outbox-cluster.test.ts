// The outbox's handover in a cluster, with real processes (2 session nodes + a gateway over real
// NATS and Redis, the simulated network as the oracle): campaigns queued on four sessions keep
// draining through a move of one workspace and a kill -9 of a node mid-drain, and the network
// receives every item exactly once, never two sends of a number closer than its pace allows.
import { request } from "../helpers/http";
import { mapLimit, TestCluster } from "../helpers/cluster";
import { waitFor } from "../helpers/processes";

jest.setTimeout(240_000);

const WORKSPACES = ["ob0", "ob1", "ob2", "ob3"];
const PER_SESSION = 10;
const phoneOf = (w: string) => `1555777${w.slice(2).padStart(4, "0")}`;
const OB = (w: string) => `/workspaces/${w}/sessions/main/outbox`;

let c: TestCluster;

async function outgoing(phone: string): Promise<Array<{ id: string; body: string; deliveries: number }>> {
  return (await request(c.sim.url, "GET", "/sim/ledger")).json.outgoing.filter((m: any) => m.fromPhone === phone);
}

async function items(w: string): Promise<any[]> {
  const r = await c.retrying(() => c.call("GET", `${OB(w)}?limit=500`), [200]);
  return r.json.items;
}

beforeAll(async () => {
  c = await new TestCluster().start(["s1", "s2"]);
  await mapLimit(WORKSPACES, 4, (w) => c.createLinked(w, "main", phoneOf(w)));
  await waitFor("all WORKING", async () => (await Promise.all(WORKSPACES.map((w) => c.session(w, "main")))).every((v) => v.status === "WORKING"), 60000, 200);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

describe("outbox handover", () => {
  it("drains through a move and a kill -9 of the owner: every item once, at the pace", async () => {
    for (const w of WORKSPACES) {
      expect((await c.retrying(() => c.call("PUT", `${OB(w)}/policy`, { perMinute: 60, jitterMs: 0, typing: false }), [200])).status).toBe(200);
      const batch = Array.from({ length: PER_SESSION }, (_, i) => ({ to: `1555888${String(i).padStart(4, "0")}`, text: `${w}-item-${i}`, key: `${w}-${i}` }));
      const r = await c.retrying(() => c.call("POST", OB(w), { items: batch }), [202]);
      expect(r.json.queued).toBe(PER_SESSION);
    }
    const before = await c.cluster();
    const owner = new Map<string, string>(before.assignments.map((a: any) => [a.workspaceId, a.node]));

    // a move mid-drain: the old owner stops draining, the new one goes on
    const moved = WORKSPACES[0]!;
    await waitFor("2 sent before the move", async () => (await outgoing(phoneOf(moved))).length >= 2, 30000, 50);
    const target = owner.get(moved) === "s1" ? "s2" : "s1";
    expect((await c.retrying(() => c.call("POST", `/workspaces/${moved}/move`, { node: target }), [200])).status).toBe(200);

    // a kill -9 of a node that owns at least one draining workspace
    const after = await c.cluster();
    const victim = after.assignments.find((a: any) => a.workspaceId !== moved)!.node as string;
    const victimWs = WORKSPACES.filter((w) => after.assignments.find((a: any) => a.workspaceId === w)?.node === victim);
    await waitFor("the victim mid-drain", async () => (await outgoing(phoneOf(victimWs[0]!))).length >= 4, 30000, 50);
    await c.nodes.get(victim)!.kill("SIGKILL");

    await waitFor(
      "every item sent",
      async () => {
        for (const w of WORKSPACES) if ((await items(w)).filter((i) => i.state === "sent").length !== PER_SESSION) return false;
        return true;
      },
      120_000,
      500,
    );

    for (const w of WORKSPACES) {
      const sent = await outgoing(phoneOf(w));
      expect(sent.map((m) => m.body).sort()).toEqual(Array.from({ length: PER_SESSION }, (_, i) => `${w}-item-${i}`).sort());
      for (const m of sent) expect({ body: m.body, deliveries: m.deliveries }).toEqual({ body: m.body, deliveries: 1 });
      const list = (await items(w)).sort((a, b) => a.sentAt - b.sentAt);
      for (const i of list) expect(sent.map((m) => m.id)).toContain(i.messageId);
      // 60 a minute, across owners: never two sends of the number within 1 s
      for (let k = 1; k < list.length; k++) expect(list[k].sentAt - list[k - 1].sentAt).toBeGreaterThanOrEqual(1000);
    }
    expect((await c.simStats()).conflicts).toBe(0);
  });
});

// The outbox's handover in a cluster, with real processes (3 session nodes + a gateway over real
// NATS and Redis, the simulated network as the oracle): campaigns queued on six sessions keep
// draining through a move of one workspace, a drain of a node and a kill -9 of a node, each
// mid-drain, and the network receives every item exactly once, never two sends of a number closer
// than its pace allows (measured at the network).
import { request } from "../helpers/http";
import { mapLimit, TestCluster } from "../helpers/cluster";
import { waitFor } from "../helpers/processes";

jest.setTimeout(240_000);

const WORKSPACES = ["ob0", "ob1", "ob2", "ob3", "ob4", "ob5"];
const PER_SESSION = 20;
const phoneOf = (w: string) => `1555777${w.slice(2).padStart(4, "0")}`;
const OB = (w: string) => `/workspaces/${w}/sessions/main/outbox`;

let c: TestCluster;

async function outgoing(phone: string): Promise<Array<{ id: string; body: string; deliveries: number; acceptedAt: number }>> {
  return (await request(c.sim.url, "GET", "/sim/ledger")).json.outgoing.filter((m: any) => m.fromPhone === phone);
}

async function items(w: string): Promise<any[]> {
  const r = await c.retrying(() => c.call("GET", `${OB(w)}?limit=500`), [200]);
  return r.json.items;
}

beforeAll(async () => {
  c = await new TestCluster().start(["s1", "s2", "s3"]);
  await mapLimit(WORKSPACES, 3, (w) => c.createLinked(w, "main", phoneOf(w)));
  await waitFor("all WORKING", async () => (await Promise.all(WORKSPACES.map((w) => c.session(w, "main")))).every((v) => v.status === "WORKING"), 60000, 200);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

describe("outbox handover", () => {
  it("drains through a move, a node drain and a kill -9 of an owner: every item once, at the pace", async () => {
    for (const w of WORKSPACES) {
      expect((await c.retrying(() => c.call("PUT", `${OB(w)}/policy`, { perMinute: 60, jitterMs: 0, typing: false }), [200])).status).toBe(200);
      const batch = Array.from({ length: PER_SESSION }, (_, i) => ({ to: `1555888${String(i).padStart(4, "0")}`, text: `${w}-item-${i}`, key: `${w}-${i}` }));
      const r = await c.retrying(() => c.call("POST", OB(w), { items: batch }), [202]);
      expect(r.json.queued).toBe(PER_SESSION);
    }
    const ownerOf = async (w: string) => (await c.cluster()).assignments.find((a: any) => a.workspaceId === w)?.node as string;
    const sentOf = async (w: string) => (await outgoing(phoneOf(w))).length;

    // a move mid-drain: the old owner stops draining, the new one goes on
    const moved = WORKSPACES[0]!;
    await waitFor("2 sent before the move", async () => (await sentOf(moved)) >= 2, 30000, 50);
    const from = await ownerOf(moved);
    const target = ["s1", "s2", "s3"].find((n) => n !== from)!;
    expect((await c.retrying(() => c.call("POST", `/workspaces/${moved}/move`, { node: target }), [200])).status).toBe(200);
    expect(await ownerOf(moved)).toBe(target);
    expect(await sentOf(moved)).toBeLessThan(PER_SESSION);

    // a drain (POST /cluster/nodes/:node/drain) of a node whose workspaces are mid-drain
    const drained = await ownerOf(WORKSPACES[1]!);
    const drainedWs: string[] = [];
    for (const w of WORKSPACES) if ((await ownerOf(w)) === drained) drainedWs.push(w);
    for (const w of drainedWs) expect(await sentOf(w)).toBeLessThan(PER_SESSION);
    expect((await c.call("POST", `/cluster/nodes/${drained}/drain`)).status).toBe(200);
    for (const w of drainedWs) expect(await ownerOf(w)).not.toBe(drained);

    // a kill -9 of a node that owns at least one workspace mid-drain
    const victim = await ownerOf(WORKSPACES.find((w) => !drainedWs.includes(w) && w !== moved) ?? WORKSPACES[2]!);
    const victimWs: string[] = [];
    for (const w of WORKSPACES) if ((await ownerOf(w)) === victim) victimWs.push(w);
    expect(victim).not.toBe(drained);
    expect(Math.min(...(await Promise.all(victimWs.map(sentOf))))).toBeLessThan(PER_SESSION);
    // the third node, neither drained nor killed, takes the victim's workspaces and drains them
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
      const list = await items(w);
      for (const i of list) expect(sent.map((m) => m.id)).toContain(i.messageId);
      // 60 a minute, across owners, as the contacts saw it: never two sends of the number within 1 s
      const at = sent.map((m) => m.acceptedAt).sort((a, b) => a - b);
      for (let k = 1; k < at.length; k++) expect(at[k]! - at[k - 1]!).toBeGreaterThanOrEqual(1000);
    }
    expect((await c.simStats()).conflicts).toBe(0);
  });
});

// Sessions of different engines side by side in one cluster: 2 session nodes that each have the
// simulator and baileys engines installed, workspaces holding one session of each. A session's engine
// is chosen at create and follows it: after kill -9 of its node a baileys session is WORKING on the
// survivor from its auth/baileys folder (no new link), and again after a drain moves it back; the
// network sees no conflict, every accepted message reaches its contact once, and messages sent to the
// sessions while their node was dead are delivered to them once it is back.
import { DEFAULT_ENGINE_WEIGHTS } from "../../lib/engines/weights";
import { ADMIN_KEY, mapLimit, opsUrl, TestCluster } from "../helpers/cluster";
import { request } from "../helpers/http";
import { waitFor } from "../helpers/processes";

jest.setTimeout(240_000);

const NODES = ["s1", "s2"];
const WORKSPACES = 6;
const CONTACT = "15559990001";
const ENGINES = { WA_ENGINE: "simulator", WA_ENGINES: "simulator,baileys" };

interface S {
  workspaceId: string;
  sessionId: string;
  engine: "simulator" | "baileys";
  phone: string;
}

const sessions: S[] = [];
for (let w = 0; w < WORKSPACES; w++) {
  sessions.push({ workspaceId: `mix${w}`, sessionId: "sim", engine: "simulator", phone: `1556${String(w).padStart(3, "0")}0001` });
  sessions.push({ workspaceId: `mix${w}`, sessionId: "bly", engine: "baileys", phone: `1556${String(w).padStart(3, "0")}0002` });
}

let c: TestCluster;
const accepted: string[] = [];

async function views(): Promise<any[]> {
  return mapLimit(sessions, 6, (s) => c.session(s.workspaceId, s.sessionId));
}

async function sendFromAll(tag: string): Promise<void> {
  await mapLimit(sessions, 6, async (s) => {
    const text = `${tag} ${s.workspaceId}/${s.sessionId}`;
    const r = await c.retrying(() => c.call("POST", `/workspaces/${s.workspaceId}/sessions/${s.sessionId}/messages`, { to: CONTACT, text }, { "idempotency-key": `${tag}-${s.workspaceId}-${s.sessionId}` }), [201]);
    expect(r.json.id).toBeTruthy();
    accepted.push(text);
  });
}

async function allWorkingOn(node: (v: any) => boolean, what: string): Promise<any[]> {
  return waitFor(what, async () => {
    const v = await views();
    return v.every((x) => x.status === "WORKING" && node(x)) ? v : undefined;
  }, 90_000, 300).catch((err: Error) => {
    throw new Error(`${err.message}\n${c.logs(30)}`);
  });
}

beforeAll(async () => {
  c = await new TestCluster().start(NODES, ENGINES);
}, 90_000);

afterAll(async () => {
  await c?.stop();
});

describe("a cluster with sessions of two engines", () => {
  it("creates each session on the engine its body names, shows it, and refuses an engine the nodes lack", async () => {
    // created and linked one by one per workspace, concurrently across workspaces
    await mapLimit(sessions, 4, async (s) => {
      const created = await c.retrying(() => c.call("POST", `/workspaces/${s.workspaceId}/sessions`, { sessionId: s.sessionId, engine: s.engine }), [201]);
      expect(created.json.engine).toBe(s.engine);
      const qr = await waitFor(`QR of ${s.workspaceId}/${s.sessionId}`, async () => {
        const r = await c.call("GET", `/workspaces/${s.workspaceId}/sessions/${s.sessionId}/qr`, undefined, { accept: "application/json" });
        return r.status === 200 ? (r.json.qr as string) : undefined;
      }, 30000, 150);
      const linked = await request(c.sim.url, "POST", "/sim/link", { body: { qr, phone: s.phone } });
      expect(linked.status).toBe(200);
    });
    const v = await allWorkingOn(() => true, "every session WORKING");
    for (const [i, s] of sessions.entries()) {
      expect({ engine: v[i].engine, phone: v[i].me?.phone }).toEqual({ engine: s.engine, phone: s.phone });
      // the capabilities are the session's engine's, not the node's default
      if (s.engine === "baileys") expect(v[i].capabilities).toEqual(["chats", "history", "contacts", "replies", "mentions", "reactions", "edit", "revoke", "location", "vcard", "polls", "presence", "read", "sentEvents", "groups", "calls", "labels"]);
    }
    const wwebjs = await c.call("POST", "/workspaces/mix0/sessions", { sessionId: "web", engine: "wwebjs" });
    expect({ status: wwebjs.status, code: wwebjs.json?.error?.code }).toEqual({ status: 400, code: "ENGINE_NOT_INSTALLED" });
    expect(wwebjs.json.error.details).toEqual({ engine: "wwebjs", installed: ["simulator", "baileys"] });
    const unknown = await c.call("POST", "/workspaces/mix0/sessions", { sessionId: "web", engine: "chromium" });
    expect({ status: unknown.status, code: unknown.json?.error?.code }).toEqual({ status: 400, code: "VALIDATION_ERROR" });
    expect((await c.session("mix0", "web")).status).toBe("HTTP 404");
    await sendFromAll("before");
    expect((await c.simStats()).conflicts).toBe(0);
  });

  it("weighs each node's sessions by engine in GET /cluster and the metrics (a baileys session is 30 simulator sessions by the default weights)", async () => {
    const perBaileys = DEFAULT_ENGINE_WEIGHTS.baileys! / DEFAULT_ENGINE_WEIGHTS.simulator!;
    expect(perBaileys).toBeCloseTo(30, 6);
    const cluster = await c.cluster();
    const byEngine = { simulator: 0, baileys: 0 };
    for (const n of cluster.nodes) {
      expect(n.load).toBeCloseTo(n.byEngine.simulator + perBaileys * n.byEngine.baileys, 4);
      expect(n.utilization).toBeCloseTo(n.load / n.capacity, 4);
      byEngine.simulator += n.byEngine.simulator;
      byEngine.baileys += n.byEngine.baileys;
    }
    expect(byEngine).toEqual({ simulator: WORKSPACES, baileys: WORKSPACES });
    expect(cluster.summary.sessions).toBe(2 * WORKSPACES);
    expect(cluster.summary.load).toBeCloseTo((1 + perBaileys) * WORKSPACES, 4);
    const owner = cluster.nodes.find((n: any) => n.byEngine.baileys > 0);
    const metrics = (await request(await opsUrl(c.nodes.get(owner.node)!), "GET", "/metrics")).body.toString();
    expect(metrics).toMatch(new RegExp(`^wafleet_sessions_engine\\{[^}]*engine="baileys"[^}]*\\} ${owner.byEngine.baileys}(\\s|$)`, "m"));
    expect(metrics).toMatch(new RegExp(`^wafleet_sessions_load\\{[^}]*\\} ${owner.load}(\\s|$)`, "m"));
  });

  it("after kill -9 of a node its baileys and simulator sessions are WORKING on the survivor without a new link", async () => {
    const before = await c.cluster();
    const owners = new Map<string, string>(before.assignments.map((a: any) => [a.workspaceId, a.node]));
    // the victim: the owner of mix0 (so at least one baileys session moves)
    const victim = owners.get("mix0")!;
    const survivor = NODES.find((n) => n !== victim)!;
    const devicesBefore = (await c.simStats()).devices;

    await c.nodes.get(victim)!.kill("SIGKILL");
    // messages to the victim's sessions while it is dead wait in the network
    const moved = sessions.filter((s) => owners.get(s.workspaceId) === victim);
    expect(moved.some((s) => s.engine === "baileys")).toBe(true);
    for (const s of moved) expect((await request(c.sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: s.phone, body: `while dead ${s.workspaceId}/${s.sessionId}` } })).status).toBe(202);

    const after = await allWorkingOn((x) => x.node === survivor, `every session WORKING on ${survivor}`);
    for (const [i, s] of sessions.entries()) expect(after[i].engine).toBe(s.engine);
    await waitFor("the messages sent while the node was dead delivered and acknowledged", async () => (await c.simStats()).queued === 0, 30000, 200);
    await sendFromAll("after-kill");
    const stats = await c.simStats();
    expect({ conflicts: stats.conflicts, devices: stats.devices }).toEqual({ conflicts: 0, devices: devicesBefore });
    await c.startNode(victim);
  });

  it("a drain moves them back to the other node, each on its own engine, without a new link", async () => {
    const from = (await c.cluster()).assignments[0].node as string;
    const to = NODES.find((n) => n !== from)!;
    await waitFor(`${to} up`, async () => ((await c.cluster()).nodes.some((n: any) => n.node === to && n.status === "up") ? true : undefined), 30000, 200);
    const devicesBefore = (await c.simStats()).devices;
    const r = await request(c.api, "POST", `/api/v1/cluster/nodes/${from}/drain`, { key: ADMIN_KEY, timeoutMs: 150_000 });
    expect(r.status).toBe(200);
    const after = await allWorkingOn((x) => x.node === to, `every session WORKING on ${to}`);
    for (const [i, s] of sessions.entries()) expect({ engine: after[i].engine, phone: after[i].me.phone }).toEqual({ engine: s.engine, phone: s.phone });
    await sendFromAll("after-drain");
    const stats = await c.simStats();
    expect({ conflicts: stats.conflicts, devices: stats.devices, queued: stats.queued }).toEqual({ conflicts: 0, devices: devicesBefore, queued: 0 });

    const inbox = await c.inbox(CONTACT);
    const bodies = inbox.map((m: any) => m.body);
    const lost = accepted.filter((t) => !bodies.includes(t));
    const doubled = accepted.filter((t) => bodies.filter((b: string) => b === t).length > 1);
    expect({ lost, doubled }).toEqual({ lost: [], doubled: [] });
    expect(accepted).toHaveLength(sessions.length * 3);
  });
});

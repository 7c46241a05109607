// Failover seconds: 3 session nodes with the simulator engine and the DEFAULT lease settings
// (LEASE_TTL_MS 10000, TAKEOVER_MARGIN_MS 3000, keepalive 5000), N linked sessions; kill -9 the
// node with the most workspaces and time until every session is WORKING again. The baseline is the
// protocol's own floor, lease TTL + takeover margin: the ratio shows what detection, placement and
// restore add on top. Runs for 300 and 1,000 sessions (`--sessions a,b` to change).
import { mapLimit, TestCluster } from "../test/helpers/cluster";
import { waitFor } from "../test/helpers/processes";
import { figure, type BenchContext } from "./harness";

const DEFAULT_TTL = 10_000;
const DEFAULT_MARGIN = 3_000;

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const i = args.indexOf("--sessions");
  const sizes = i >= 0 && args[i + 1] ? args[i + 1]!.split(",").map(Number) : [300, 1000];
  for (const n of sizes) emit(await once(n));
}

async function once(total: number) {
  const c = new TestCluster();
  try {
    // default lease timings on the session nodes; the network's default keepalive
    await c.start(["f1", "f2", "f3"], { LEASE_TTL_MS: String(DEFAULT_TTL), TAKEOVER_MARGIN_MS: String(DEFAULT_MARGIN) }, { WA_SIM_KEEPALIVE_MS: "5000" });
    const perWorkspace = 5;
    const sessions = Array.from({ length: total }, (_, k) => ({ workspaceId: `b${Math.floor(k / perWorkspace)}`, sessionId: `s${k % perWorkspace}`, phone: `1888${String(k).padStart(7, "0")}` }));
    const workspaces = [...new Set(sessions.map((s) => s.workspaceId))];
    const linkStart = Date.now();
    await mapLimit(sessions, 16, (s) => c.createLinked(s.workspaceId, s.sessionId, s.phone));
    const working = async () => {
      let ok = 0;
      const nodes = new Set<string>();
      await mapLimit(workspaces, 16, async (w) => {
        const r = await c.call("GET", `/workspaces/${w}/sessions`);
        if (r.status !== 200) return;
        for (const s of r.json) {
          if (s.status !== "WORKING") continue;
          ok++;
          nodes.add(s.node);
        }
      });
      return { ok, nodes };
    };
    await waitFor("all linked sessions WORKING", async () => (await working()).ok === total, 300_000, 500);
    const linkSeconds = (Date.now() - linkStart) / 1000;
    const cl = await c.cluster();
    const counts = new Map<string, number>();
    for (const a of cl.assignments) counts.set(a.node, (counts.get(a.node) ?? 0) + 1);
    const victim = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const moved = cl.nodes.find((x: any) => x.node === victim)?.sessions ?? 0;
    const killed = Date.now();
    await c.nodes.get(victim)!.kill("SIGKILL");
    await waitFor("every session WORKING on a survivor", async () => {
      const w = await working();
      return w.ok === total && !w.nodes.has(victim);
    }, 120_000, 250);
    const seconds = (Date.now() - killed) / 1000;
    const stats = await c.simStats();
    return figure(`failover.seconds.${total}`, "s", seconds, { name: "lease TTL + takeover margin (protocol floor)", value: (DEFAULT_TTL + DEFAULT_MARGIN) / 1000 }, {
      sessions: total,
      sessionsMoved: moved,
      nodes: 3,
      conflicts: stats.conflicts,
      linkSeconds,
    });
  } finally {
    await c.stop();
  }
}

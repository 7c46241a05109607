// Routing by workspace vs plain Moleculer: the same echo action on 3 nodes over real NATS, called
// with the Workspace strategy (owner looked up in the in-memory directory view) and with
// round-robin, in the same run. Figures: sequential p50/p99 latency and throughput with 200 calls
// in flight, each as a ratio to round-robin.
import { ServiceBroker } from "moleculer";
import { MemoryDirectory } from "../lib/placement/memory-directory";
import { registerWorkspaceStrategy } from "../lib/placement/routing";
import { DirectoryView, setActiveView } from "../lib/placement/view";
import { NodeProcess } from "../test/helpers/processes";
import { startNats } from "../test/helpers/servers";
import { figure, intArg, summarize, type BenchContext } from "./harness";

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const calls = intArg(args, "calls", 5000);
  const nats = await startNats();
  const nodes = ["e1", "e2", "e3"].map((id) => new NodeProcess(id, "dist/bench/support/echo-node.js", { NODE_ID: id, TRANSPORTER: nats.url }));
  registerWorkspaceStrategy();
  const dir = new MemoryDirectory();
  const workspaces = Array.from({ length: 600 }, (_, i) => `w${i}`);
  for (const [i, w] of workspaces.entries()) await dir.assign(w, `e${(i % 3) + 1}`, null);
  const view = new DirectoryView(dir, 60_000);
  await view.start();
  setActiveView(view);
  const caller = new ServiceBroker({ namespace: "bench", nodeID: "caller", transporter: { type: "NATS", options: { url: nats.url } }, logger: false });
  try {
    await Promise.all(nodes.map((n) => n.waitForOutput(/up/)));
    await caller.start();
    await caller.waitForServices(["bench"]);
    await waitForNodes(caller, 3);

    const measure = async (action: string) => {
      // warm up
      for (let i = 0; i < 300; i++) await caller.call(`bench.${action}`, { workspaceId: workspaces[i % 600] });
      const lat: number[] = [];
      for (let i = 0; i < calls; i++) {
        const w = workspaces[i % 600]!;
        const t = process.hrtime.bigint();
        const r: any = await caller.call(`bench.${action}`, { workspaceId: w });
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (action === "ws" && r.node !== view.ownerOf(w)!.node) throw new Error(`misrouted ${w} to ${r.node}`);
      }
      const inflight = 200;
      const total = calls * 2;
      let next = 0;
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          while (next < total) {
            const i = next++;
            await caller.call(`bench.${action}`, { workspaceId: workspaces[i % 600] });
          }
        }),
      );
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      return { ...summarize(lat), throughput: total / seconds };
    };
    // interleave to spread machine noise over both
    const rr1 = await measure("rr");
    const ws1 = await measure("ws");
    const rr2 = await measure("rr");
    const ws2 = await measure("ws");
    const rr = { p50: (rr1.p50 + rr2.p50) / 2, p99: (rr1.p99 + rr2.p99) / 2, throughput: (rr1.throughput + rr2.throughput) / 2 };
    const ws = { p50: (ws1.p50 + ws2.p50) / 2, p99: (ws1.p99 + ws2.p99) / 2, throughput: (ws1.throughput + ws2.throughput) / 2 };
    emit(figure("routing.throughput", "calls/s", ws.throughput, { name: "moleculer round-robin over NATS", value: rr.throughput }, { inflight: 200, nodes: 3 }));
    emit(figure("routing.latency.p50", "ms", ws.p50, { name: "moleculer round-robin over NATS", value: rr.p50 }, { calls }));
    emit(figure("routing.latency.p99", "ms", ws.p99, { name: "moleculer round-robin over NATS", value: rr.p99 }, { calls }));
  } finally {
    await caller.stop().catch(() => undefined);
    view.stop();
    await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
    await nats.destroy();
  }
}

async function waitForNodes(broker: ServiceBroker, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const list = (broker.registry as any).getActionList({ onlyAvailable: true, skipInternal: true, withEndpoints: true }) as any[];
    const ws = list.find((a) => a.name === "bench.ws");
    if (ws && (ws.endpoints?.length ?? 0) >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the echo nodes did not all register");
}

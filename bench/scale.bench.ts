// `npm run bench:scale [-- --sessions 3000 --nodes 4 --phase 20 --profile DIR --redis-fsync always|everysec]`: the scale run of bench/scale.ts,
// then (unless --no-scaling; --only-scaling skips the first part) the linear scaling check: the same load per node count with 2, 3 and 4
// session nodes, reporting sessions per node and latency at each size.
import path from "node:path";
import { figure, intArg, type BenchContext } from "./harness";
import { runScale } from "./scale";

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const sessions = intArg(args, "sessions", 3000);
  const nodes = intArg(args, "nodes", 4);
  const phaseSeconds = intArg(args, "phase", 20);
  const log = (l: string) => process.stderr.write(`[scale] ${l}\n`);
  // --profile DIR: V8 CPU profiles of the gateway, the session nodes and the webhooks node
  const at = args.indexOf("--profile");
  const profileDir = at >= 0 ? path.resolve(args[at + 1] ?? "profiles") : undefined;
  if (!args.includes("--only-scaling")) {
    // --redis-fsync everysec: Redis as k8s/base/redis.yaml runs it (default: always, the test cluster's)
    const fsyncAt = args.indexOf("--redis-fsync");
    const redisFsync = fsyncAt >= 0 ? args[fsyncAt + 1] : "always";
    if (redisFsync !== "always" && redisFsync !== "everysec") throw new Error(`--redis-fsync: always or everysec, not ${redisFsync}`);
    const main = await runScale({ sessions, nodes, phaseSeconds, linkConcurrency: 16, workers: 8, faults: true, profileDir, redisFsync, log });
    for (const f of main.figures) emit(f);
  }

  if (args.includes("--no-scaling")) return;
  const perNode = intArg(args, "scaling-sessions-per-node", 250);
  const rows: Array<{ nodes: number; p50: number; p99: number }> = [];
  for (const n of [2, 3, 4]) {
    const r = await runScale({ sessions: perNode * n, nodes: n, phaseSeconds: Math.max(10, Math.round(phaseSeconds / 2)), linkConcurrency: 16, workers: 8, faults: false, log });
    const send = (name: string) => r.figures.find((f) => f.figure === name)!;
    rows.push({ nodes: n, p50: send("scale.send.p50").value, p99: send("scale.send.p99").value });
    log(`scaling: ${n} nodes, ${perNode * n} sessions, send p50 ${send("scale.send.p50").value} ms p99 ${send("scale.send.p99").value} ms`);
  }
  const base = rows[0]!;
  for (const row of rows) {
    emit(figure(`scale.linear.${row.nodes}nodes.send.p50`, "ms", row.p50, { name: "2 nodes, same sessions per node", value: base.p50 }, { sessionsPerNode: perNode, sessions: perNode * row.nodes }));
    emit(figure(`scale.linear.${row.nodes}nodes.send.p99`, "ms", row.p99, { name: "2 nodes, same sessions per node", value: base.p99 }, { sessionsPerNode: perNode, sessions: perNode * row.nodes }));
  }
}

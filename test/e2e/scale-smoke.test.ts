// The scale run's small preset inside the suite (issue 10): 300 sessions on 4 session nodes, a
// gateway and a webhooks node, under load, with a kill -9 and a join. Its invariants must hold;
// its timings are the benchmark's business (npm run bench:scale), not asserted here.
import { runScale } from "../../bench/scale";

jest.setTimeout(600_000);

it("holds 300 sessions through a node kill and a join with no conflict, loss or duplicate", async () => {
  const r = await runScale({ sessions: 300, nodes: 4, phaseSeconds: 4, linkConcurrency: 16, workers: 6, faults: true, log: (l) => process.stdout.write(`[scale-smoke] ${l}\n`) });
  for (const f of r.figures) process.stdout.write(`${JSON.stringify(f)}\n`);
  expect({ conflicts: r.conflicts, lost: r.lost, duplicated: r.duplicated, allWorking: r.allWorking }).toEqual({ conflicts: 0, lost: 0, duplicated: 0, allWorking: true });
  expect(r.accepted).toBeGreaterThan(0);
  expect(r.incoming).toBeGreaterThan(0);
  expect(r.webhooksDelivered).toBe(r.incoming);
  // the capacity model's inputs were measured in every phase (counts, not timings)
  expect(r.costs.map((p) => p.phase)).toEqual(["webhooks", "link", "idle", "steady", "failover", "after-failover", "join", "after-join"]);
  const link = r.costs.find((p) => p.phase === "link")!;
  const steady = r.costs.find((p) => p.phase === "steady")!;
  expect(link.redisCommands).toBeGreaterThan(0);
  expect(link.natsInMsgs).toBeGreaterThan(0);
  expect(steady.sends).toBeGreaterThan(0);
  expect(steady.jsMessages).toBeGreaterThan(0);
  expect(steady.jsBytes).toBeGreaterThan(steady.jsMessages);
});

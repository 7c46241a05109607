// Placement properties: stable, weighted, bounded, and minimal movement on join and loss.
import { caps, placeOne, plan, rank, score, type Candidate } from "../../lib/placement/hrw";

const nodes = (n: number, capacity = 750): Candidate[] => Array.from({ length: n }, (_, i) => ({ node: `node-${i + 1}`, weight: capacity, capacity }));
const workspaces = (n: number, sessions = 1) => Array.from({ length: n }, (_, i) => ({ workspaceId: `w${i}`, sessions }));

describe("rendezvous placement", () => {
  it("is deterministic and independent of the order nodes are listed in", () => {
    const a = nodes(4);
    expect(rank("acme", a).map((n) => n.node)).toEqual(rank("acme", [...a].reverse()).map((n) => n.node));
    expect(score("acme", "node-1", 1)).toBe(score("acme", "node-1", 1));
    expect(plan(workspaces(50), a)).toEqual(plan(workspaces(50).reverse(), [...a].reverse()));
  });

  it("a join moves about 1/(N+1) of the workspaces, all of them to the new node", () => {
    const ws = workspaces(3000);
    const before = plan(ws, nodes(4));
    const after = plan(ws, nodes(5));
    const moved = ws.filter((w) => before.get(w.workspaceId) !== after.get(w.workspaceId));
    const toNew = moved.filter((w) => after.get(w.workspaceId) === "node-5");
    expect(moved.length / ws.length).toBeGreaterThan(0.15);
    expect(moved.length / ws.length).toBeLessThan(0.3); // 1/5 = 0.2; the bounded-load cap adds a little spill
    expect(toNew.length / moved.length).toBeGreaterThan(0.85);
  });

  it("a loss moves only the dead node's workspaces when survivors place them incrementally", () => {
    const ws = workspaces(600);
    const all = nodes(4);
    const before = plan(ws, all);
    const survivors = all.filter((n) => n.node !== "node-2");
    const loads = new Map(survivors.map((n) => [n.node, { workspaces: 0, sessions: 0 }]));
    for (const [, n] of before) if (n !== "node-2") loads.get(n!)!.workspaces++;
    const after = new Map(before);
    for (const w of ws) {
      if (before.get(w.workspaceId) !== "node-2") continue;
      const to = placeOne(w.workspaceId, 1, survivors, loads, ws.length)!;
      loads.get(to)!.workspaces++;
      after.set(w.workspaceId, to);
    }
    const moved = ws.filter((w) => before.get(w.workspaceId) !== after.get(w.workspaceId));
    expect(moved.every((w) => before.get(w.workspaceId) === "node-2")).toBe(true);
    expect(moved.length).toBe([...before.values()].filter((n) => n === "node-2").length);
    for (const n of survivors) expect(loads.get(n.node)!.workspaces).toBeLessThanOrEqual(caps(survivors, ws.length).get(n.node)!);
  });

  it("keeps every node under ceil(1.1 x its share)", () => {
    const ws = workspaces(1000);
    const ns = nodes(3);
    const p = plan(ws, ns);
    const cap = caps(ns, ws.length);
    for (const n of ns) expect([...p.values()].filter((x) => x === n.node).length).toBeLessThanOrEqual(cap.get(n.node)!);
  });

  it("weights shares by capacity and never exceeds the hard session limit", () => {
    const ns: Candidate[] = [
      { node: "big", weight: 900, capacity: 900 },
      { node: "small", weight: 300, capacity: 300 },
    ];
    const p = plan(workspaces(400, 2), ns);
    const big = [...p.values()].filter((x) => x === "big").length;
    expect(big / 400).toBeGreaterThan(0.65);
    expect(big / 400).toBeLessThan(0.83);
    const tiny: Candidate[] = [{ node: "a", weight: 1, capacity: 5 }];
    const full = plan(workspaces(4, 2), tiny);
    expect([...full.values()].filter((x) => x === "a")).toHaveLength(2);
    expect([...full.values()].filter((x) => x === undefined)).toHaveLength(2);
  });

  it("places nowhere when there is no node", () => {
    expect(placeOne("w", 1, [], new Map(), 1)).toBeUndefined();
  });
});

// Placement: weighted rendezvous (highest random weight) hashing with a bounded-load cap and the
// hard per-node session limit. Pure functions; the coordinator and the routing strategy share them.
//
// Every (workspace, node) pair gets a pseudo-random score; a workspace goes to the live node with
// the highest score that is under its cap. Adding a node takes from each old node only the
// workspaces the new one now wins (about 1/(N+1)); losing a node moves only that node's.
import { createHash } from "node:crypto";

export interface Candidate {
  node: string;
  /** Relative weight (its capacity, by default). */
  weight: number;
  /** Hard limit of sessions (MAX_SESSIONS_PER_INSTANCE). */
  capacity: number;
}

export interface Load {
  workspaces: number;
  sessions: number;
}

/** Bounded-load factor of DESIGN section 5: no node above ceil(1.1 x its share of workspaces). */
export const LOAD_FACTOR = 1.1;

/** A uniform number in (0, 1) from the pair, stable across processes and versions. */
function unit(workspaceId: string, node: string): number {
  const d = createHash("sha256").update(workspaceId).update("\u0000").update(node).digest();
  // 52 bits -> (0, 1), never 0 or 1
  const hi = d.readUInt32BE(0) & 0xfffff;
  const lo = d.readUInt32BE(4);
  return (hi * 2 ** 32 + lo + 0.5) / 2 ** 52;
}

/** Weighted rendezvous score (Schindelhauer & Schomaker): higher wins; weights scale win shares. */
export function score(workspaceId: string, node: string, weight: number): number {
  return -Math.max(weight, 1e-9) / Math.log(unit(workspaceId, node));
}

/** Nodes in the order a workspace prefers them. */
export function rank<C extends Candidate>(workspaceId: string, nodes: readonly C[]): C[] {
  return nodes
    .map((n) => ({ n, s: score(workspaceId, n.node, n.weight) }))
    .sort((a, b) => b.s - a.s || (a.n.node < b.n.node ? -1 : 1))
    .map((x) => x.n);
}

/** The bounded-load cap of each node for `totalWorkspaces` spread over `nodes`. */
export function caps(nodes: readonly Candidate[], totalWorkspaces: number): Map<string, number> {
  const sum = nodes.reduce((a, n) => a + n.weight, 0) || 1;
  return new Map(nodes.map((n) => [n.node, Math.max(1, Math.ceil((LOAD_FACTOR * totalWorkspaces * n.weight) / sum))]));
}

/**
 * The node for one workspace given current loads: the best-ranked node under its bounded-load cap
 * with room for the workspace's sessions; if every node is over its cap, the best with room; if
 * none has room, undefined.
 */
export function placeOne(workspaceId: string, sessions: number, nodes: readonly Candidate[], loads: Map<string, Load>, totalWorkspaces: number): string | undefined {
  if (!nodes.length) return undefined;
  const cap = caps(nodes, Math.max(totalWorkspaces, 1));
  const ranked = rank(workspaceId, nodes);
  const room = (n: Candidate) => (loads.get(n.node)?.sessions ?? 0) + sessions <= n.capacity;
  const under = ranked.find((n) => room(n) && (loads.get(n.node)?.workspaces ?? 0) < cap.get(n.node)!);
  return (under ?? ranked.find(room))?.node;
}

/**
 * A whole placement from scratch, in a deterministic order (workspace ids sorted), so every node
 * computing it gets the same answer. Workspaces that fit nowhere map to undefined.
 */
export function plan(workspaces: ReadonlyArray<{ workspaceId: string; sessions: number }>, nodes: readonly Candidate[]): Map<string, string | undefined> {
  const loads = new Map<string, Load>(nodes.map((n) => [n.node, { workspaces: 0, sessions: 0 }]));
  const out = new Map<string, string | undefined>();
  const sorted = [...workspaces].sort((a, b) => (a.workspaceId < b.workspaceId ? -1 : a.workspaceId > b.workspaceId ? 1 : 0));
  for (const w of sorted) {
    const node = placeOne(w.workspaceId, w.sessions, nodes, loads, sorted.length);
    out.set(w.workspaceId, node);
    if (node) {
      const l = loads.get(node)!;
      l.workspaces++;
      l.sessions += w.sessions;
    }
  }
  return out;
}

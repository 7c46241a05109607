// An in-memory copy of the directory, kept fresh by change notifications, a full reload whenever
// the notifications were (re)connected, and a periodic one (the node states every refreshMs, since
// an expired lease sends no notification; all the owners, proportional to all workspaces, only
// every ownersRefreshMs as a backstop). The routing strategy reads it synchronously (it may never await); session nodes use it to
// notice that a workspace left them. One per process: `activeView()` is what the strategy sees.
import { EventEmitter } from "node:events";
import type { Assignment, Directory, DirectoryChange, NodeState } from "./directory";
import type { Candidate, Load } from "./hrw";

export class DirectoryView extends EventEmitter {
  private owners = new Map<string, Assignment>();
  /** Workspaces per owner node, kept with `owners`: placement reads it for every new workspace. */
  private perNode = new Map<string, number>();
  private nodeStates = new Map<string, NodeState>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private nodesDirty: NodeJS.Timeout | undefined;

  private lastFullReload = 0;

  constructor(
    private readonly directory: Directory,
    private readonly refreshMs = 2000,
    private readonly onError: (err: Error) => void = () => undefined,
    private readonly ownersRefreshMs = 30000,
  ) {
    super();
    this.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.unsubscribe = this.directory.subscribe((c) => this.apply(c));
    await this.reload().catch(this.onError);
    this.timer = setInterval(() => void this.refresh().catch(this.onError), this.refreshMs);
  }

  /** The node states every time; all the owners only when the backstop is due. */
  private async refresh(): Promise<void> {
    if (Date.now() - this.lastFullReload >= this.ownersRefreshMs) return this.reload();
    this.nodeStates = new Map((await this.directory.nodes()).map((n) => [n.node, n]));
    this.emit("changed");
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.nodesDirty);
    this.unsubscribe?.();
  }

  /** Reads the whole directory again (missed notifications heal here). */
  async reload(): Promise<void> {
    this.lastFullReload = Date.now();
    const [assignments, nodes] = await Promise.all([this.directory.assignments(), this.directory.nodes()]);
    const next = new Map(assignments.map((a) => [a.workspaceId, a]));
    // a notification newer than this read must not be undone by it
    for (const [w, a] of this.owners) {
      const n = next.get(w);
      if (n && n.token < a.token) next.set(w, a);
    }
    this.owners = next;
    this.perNode = new Map();
    for (const a of next.values()) this.count(a.node, 1);
    this.nodeStates = new Map(nodes.map((n) => [n.node, n]));
    this.emit("changed");
  }

  private apply(c: DirectoryChange): void {
    if (c.type === "resync") {
      void this.reload().catch(this.onError);
      return;
    }
    if (c.type === "assign") {
      this.learn(c);
    } else if (c.type === "assigned") {
      for (const a of c.assignments) this.learn(a);
    } else if (c.type === "unassign") {
      const cur = this.owners.get(c.workspaceId);
      if (cur?.token === c.token) {
        this.owners.delete(c.workspaceId);
        this.count(cur.node, -1);
      }
    } else {
      clearTimeout(this.nodesDirty);
      this.nodesDirty = setTimeout(() => {
        void this.directory
          .nodes()
          .then((nodes) => {
            this.nodeStates = new Map(nodes.map((n) => [n.node, n]));
            this.emit("changed");
          })
          .catch(this.onError);
      }, 20);
      return;
    }
    this.emit("changed", c);
  }

  private learn(a: Assignment): void {
    const cur = this.owners.get(a.workspaceId);
    if (cur && cur.token >= a.token) return;
    this.owners.set(a.workspaceId, { workspaceId: a.workspaceId, node: a.node, token: a.token });
    if (cur) this.count(cur.node, -1);
    this.count(a.node, 1);
  }

  private count(node: string, by: number): void {
    const n = (this.perNode.get(node) ?? 0) + by;
    if (n > 0) this.perNode.set(node, n);
    else this.perNode.delete(node);
  }

  ownerOf(workspaceId: string): Assignment | undefined {
    return this.owners.get(workspaceId);
  }

  assignments(): Assignment[] {
    return [...this.owners.values()];
  }

  nodes(): NodeState[] {
    return [...this.nodeStates.values()];
  }

  node(id: string): NodeState | undefined {
    return this.nodeStates.get(id);
  }

  /** Live, non-draining nodes as placement candidates. */
  candidates(): Candidate[] {
    return this.nodes()
      .filter((n) => n.alive && !n.draining)
      .map((n) => ({ node: n.node, weight: n.weight, capacity: n.capacity }));
  }

  /** Per live or dead registered node: the workspaces it owns and the sessions it reported. Proportional to nodes, not workspaces. */
  loads(): Map<string, Load> {
    const loads = new Map<string, Load>();
    for (const n of this.nodeStates.values()) loads.set(n.node, { workspaces: this.perNode.get(n.node) ?? 0, sessions: n.sessions });
    return loads;
  }

  get workspaceCount(): number {
    return this.owners.size;
  }
}

let active: DirectoryView | undefined;

/** The view the routing strategy reads in this process. */
export function activeView(): DirectoryView | undefined {
  return active;
}

export function setActiveView(view: DirectoryView | undefined): void {
  active = view;
}

// The in-memory directory: embedded mode (one node) and unit tests. Same semantics as the Redis
// one, including lease expiry by wall clock.
import { EventEmitter } from "node:events";
import type { Assignment, Directory, DirectoryChange, NodeInfo, NodeState } from "./directory";

export class MemoryDirectory implements Directory {
  private readonly owners = new Map<string, Assignment>();
  private readonly nodeInfo = new Map<string, NodeInfo>();
  private readonly leases = new Map<string, { epoch: string; expiresAt: number }>();
  /** Starts at the clock in ms, so tokens keep rising across restarts of an embedded node. */
  private fence: number;
  private leader: { node: string; expiresAt: number } | undefined;
  private readonly changes = new EventEmitter();

  constructor(private readonly now: () => number = Date.now) {
    this.fence = now();
    this.changes.setMaxListeners(0);
  }

  private emit(change: DirectoryChange): void {
    // asynchronous like Redis pub/sub: listeners never run inside the caller's critical section
    queueMicrotask(() => this.changes.emit("change", change));
  }

  async register(info: Omit<NodeInfo, "joinedAt">, ttlMs: number): Promise<void> {
    const previous = this.nodeInfo.get(info.node);
    // a node that re-registers (after fencing itself) stays draining if it was
    this.nodeInfo.set(info.node, { ...info, draining: info.draining || previous?.draining === true, joinedAt: previous?.joinedAt ?? this.now() });
    this.leases.set(info.node, { epoch: info.epoch, expiresAt: this.now() + ttlMs });
    this.emit({ type: "node", node: info.node });
  }

  async renew(node: string, epoch: string, ttlMs: number, sessions: number): Promise<boolean> {
    const lease = this.leases.get(node);
    if (!lease || lease.epoch !== epoch || lease.expiresAt <= this.now()) return false;
    lease.expiresAt = this.now() + ttlMs;
    const info = this.nodeInfo.get(node);
    if (info) info.sessions = sessions;
    return true;
  }

  async deregister(node: string, epoch: string): Promise<void> {
    if (this.leases.get(node)?.epoch !== epoch) return;
    this.leases.delete(node);
    this.nodeInfo.delete(node);
    this.emit({ type: "node", node });
  }

  async setDraining(node: string, draining: boolean): Promise<void> {
    const info = this.nodeInfo.get(node);
    if (!info) return;
    info.draining = draining;
    this.emit({ type: "node", node });
  }

  async forgetNode(node: string): Promise<void> {
    this.nodeInfo.delete(node);
    this.leases.delete(node);
    this.emit({ type: "node", node });
  }

  async nodes(): Promise<NodeState[]> {
    const now = this.now();
    return [...this.nodeInfo.values()].map((info) => {
      const lease = this.leases.get(info.node);
      const alive = !!lease && lease.epoch === info.epoch && lease.expiresAt > now;
      return { ...info, alive, ...(!alive && lease?.epoch === info.epoch ? { expiredMs: now - lease.expiresAt } : {}) };
    });
  }

  async owner(workspaceId: string): Promise<Assignment | undefined> {
    const a = this.owners.get(workspaceId);
    return a && { ...a };
  }

  async assignments(): Promise<Assignment[]> {
    return [...this.owners.values()].map((a) => ({ ...a }));
  }

  async assign(workspaceId: string, node: string, expected: number | null): Promise<Assignment | undefined> {
    const current = this.owners.get(workspaceId);
    if ((current?.token ?? null) !== expected) return undefined;
    const a = { workspaceId, node, token: ++this.fence };
    this.owners.set(workspaceId, a);
    this.emit({ type: "assign", ...a });
    return { ...a };
  }

  async assignMany(moves: Array<{ workspaceId: string; node: string; expected: number | null }>): Promise<Array<Assignment | undefined>> {
    const done: Assignment[] = [];
    const out = moves.map(({ workspaceId, node, expected }) => {
      if ((this.owners.get(workspaceId)?.token ?? null) !== expected) return undefined;
      const a = { workspaceId, node, token: ++this.fence };
      this.owners.set(workspaceId, a);
      done.push({ ...a });
      return { ...a };
    });
    if (done.length) this.emit({ type: "assigned", assignments: done });
    return out;
  }

  async ownersOf(workspaceIds: string[]): Promise<Array<Assignment | undefined>> {
    return workspaceIds.map((w) => {
      const a = this.owners.get(w);
      return a && { ...a };
    });
  }

  async unassign(workspaceId: string, expected: number): Promise<boolean> {
    if (this.owners.get(workspaceId)?.token !== expected) return false;
    this.owners.delete(workspaceId);
    this.emit({ type: "unassign", workspaceId, token: expected });
    return true;
  }

  async lead(node: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if (!this.leader || this.leader.expiresAt <= now || this.leader.node === node) {
      this.leader = { node, expiresAt: now + ttlMs };
      return true;
    }
    return false;
  }

  async resign(node: string): Promise<void> {
    if (this.leader?.node === node) this.leader = undefined;
  }

  async coordinator(): Promise<string | undefined> {
    return this.leader && this.leader.expiresAt > this.now() ? this.leader.node : undefined;
  }

  subscribe(listener: (change: DirectoryChange) => void): () => void {
    this.changes.on("change", listener);
    return () => this.changes.off("change", listener);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.changes.removeAllListeners();
  }
}

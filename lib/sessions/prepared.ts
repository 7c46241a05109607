// What a session node read of workspaces the coordinator plans to give it when a dead node's
// takeover margin ends: their sessions and which have an outbox journal, read during the margin so
// that the adoption after the reassignment only starts engines. Reads only: nothing here is acted
// on before the directory names this node. An entry is used once, and only within `ttlMs` of its
// read (the lease TTL): only an owner writes a session's files, and a dead node that came back
// would renew first, so no takeover of its workspaces can come within a lease TTL of this read
// (docs/architecture.md, "Why two nodes never run one session").
import type { WorkspaceRead } from "./storage";

export interface PreparedWorkspace extends WorkspaceRead {
  /** The sessions (of `metas`) that had an outbox journal. */
  outboxes: string[];
}

export class PreparedWorkspaces {
  private readonly entries = new Map<string, PreparedWorkspace & { at: number }>();

  constructor(
    private readonly opts: { ttlMs: number; now?: () => number },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  put(workspaceId: string, read: PreparedWorkspace): void {
    this.sweep();
    this.entries.set(workspaceId, { ...read, at: this.now() });
  }

  has(workspaceId: string): boolean {
    const e = this.entries.get(workspaceId);
    return !!e && this.now() - e.at <= this.opts.ttlMs;
  }

  /** The workspace's read, if one was made within the TTL; forgotten either way. */
  take(workspaceId: string): PreparedWorkspace | undefined {
    const e = this.entries.get(workspaceId);
    this.entries.delete(workspaceId);
    if (!e || this.now() - e.at > this.opts.ttlMs) return undefined;
    const { at: _at, ...read } = e;
    return read;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Reads never taken (the plan changed, the node came back) go once they are too old to use. */
  private sweep(): void {
    const now = this.now();
    for (const [w, e] of this.entries) if (now - e.at > this.opts.ttlMs) this.entries.delete(w);
  }
}

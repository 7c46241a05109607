// What a session node read of workspaces the coordinator plans to give it when a dead node's
// takeover margin ends: their sessions and which have an outbox journal, read during the margin so
// that the adoption after the reassignment only starts engines. Reads only: nothing here is acted
// on before the directory names this node. An entry is used once, and only within `ttlMs` of its
// read (the lease TTL): only an owner writes a session's files, and a dead node that came back
// would renew first, so no takeover of its workspaces can come within a lease TTL of this read
// (docs/architecture.md, "Why two nodes never run one session"). A read also names the dead node it
// was made for: if that node is alive again when the workspace comes here (a move out of its new
// tenure, not the failover), it may have written since, and the read is not used.
import type { WorkspaceRead } from "./storage";

export interface PreparedWorkspace extends WorkspaceRead {
  /** The sessions (of `metas`) that had an outbox journal. */
  outboxes: string[];
}

export class PreparedWorkspaces {
  private readonly entries = new Map<string, PreparedWorkspace & { at: number; from: string }>();

  constructor(
    private readonly opts: { ttlMs: number; now?: () => number },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Keeps `read` of a workspace of `from`, a node whose lease had expired. */
  put(workspaceId: string, read: PreparedWorkspace, from: string): void {
    this.sweep();
    this.entries.set(workspaceId, { ...read, at: this.now(), from });
  }

  has(workspaceId: string): boolean {
    const e = this.entries.get(workspaceId);
    return !!e && this.now() - e.at <= this.opts.ttlMs;
  }

  /**
   * The workspace's read, if one was made within the TTL and the node it was made for is not
   * `alive` again; forgotten either way.
   */
  take(workspaceId: string, alive: (node: string) => boolean): PreparedWorkspace | undefined {
    const e = this.entries.get(workspaceId);
    this.entries.delete(workspaceId);
    if (!e || this.now() - e.at > this.opts.ttlMs || alive(e.from)) return undefined;
    const { at: _at, from: _from, ...read } = e;
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

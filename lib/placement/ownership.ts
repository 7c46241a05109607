// The session node's side of ownership: it acts for a workspace only while its lease is valid and
// the directory names it with the token it holds (DESIGN section 5). It adopts workspaces the
// directory gives it (restoring their sessions), drops those it lost, claims new ones on create,
// and releases on a handoff.
import { WafleetError } from "../errors";
import type { Assignment, Directory, DirectoryChange } from "./directory";
import type { DirectoryView } from "./view";

export interface OwnershipHost {
  /** Loads the workspace's sessions from storage and resumes those desired running. */
  adopt(workspaceId: string): Promise<void>;
  /** Stops the workspace's engines (desired state kept) and forgets its actors. */
  drop(workspaceId: string): Promise<void>;
  /** drop() for every local workspace. */
  dropAll(): Promise<void>;
  /**
   * Reads a workspace the coordinator plans to give this node (a dead node's, while its takeover
   * margin runs; `from` is that node), for adopt() to use: reads only, no engine, no write.
   * Absent: nothing read early.
   */
  prepare?(workspaceId: string, from: string): Promise<void>;
}

export interface OwnershipOptions {
  directory: Directory;
  view: DirectoryView;
  node: string;
  lease: { valid(): boolean };
  host: OwnershipHost;
  logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
  /** How long a released workspace answers WORKSPACE_MOVING before this node looks again. */
  releaseHoldMs?: number;
  reconcileEveryMs?: number;
  /** Workspaces adopted at once by a reconcile (default 16). */
  adoptConcurrency?: number;
}

export class Ownership {
  private readonly owned = new Map<string, number>();
  private readonly adopting = new Map<string, Promise<void>>();
  private readonly released = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private reconciling = false;
  /** What the next reconcile looks at: everything, or only the workspaces notifications named. */
  private pendingAll = false;
  private readonly pendingSome = new Set<string>();
  // a notification names its workspaces: only they are looked at (every workspace's creation
  // notifies every node, and a full pass each time grew with workspaces squared while linking);
  // anything else (node states, a reload, the timer) looks at everything
  private readonly onChanged = (c?: DirectoryChange) => {
    if (c?.type === "assign" || c?.type === "unassign") this.scheduleReconcile([c.workspaceId]);
    else if (c?.type === "assigned") this.scheduleReconcile(c.assignments.map((a) => a.workspaceId));
    else this.scheduleReconcile();
  };

  constructor(private readonly opts: OwnershipOptions) {}

  start(): void {
    this.opts.view.on("changed", this.onChanged);
    this.timer = setInterval(() => this.scheduleReconcile(), this.opts.reconcileEveryMs ?? 2000);
    this.scheduleReconcile();
  }

  stop(): void {
    clearInterval(this.timer);
    this.opts.view.off("changed", this.onChanged);
  }

  /** The fencing token this node holds for a workspace (0 = none); meta.json writes carry it. */
  tokenOf(workspaceId: string): number {
    return this.owned.get(workspaceId) ?? 0;
  }

  ownedWorkspaces(): string[] {
    return [...this.owned.keys()];
  }

  /**
   * Before acting for a workspace: returns the token when this node owns it (adopting it first if
   * the directory gives it to us), undefined when it is unassigned and `claim` is false; with
   * `claim`, an unassigned workspace becomes ours. Throws NOT_OWNER (naming the owner),
   * WORKSPACE_MOVING or LEASE_LOST otherwise.
   */
  async ensure(workspaceId: string, claim: boolean): Promise<number | undefined> {
    this.assertLease();
    const hold = this.released.get(workspaceId);
    if (hold !== undefined && hold > Date.now()) throw new WafleetError("WORKSPACE_MOVING", undefined, { workspaceId });
    const held = this.owned.get(workspaceId);
    if (held !== undefined) {
      const seen = this.opts.view.ownerOf(workspaceId);
      if (seen && seen.token > held && seen.node !== this.opts.node) {
        await this.dropOne(workspaceId, `now owned by ${seen.node}`);
        throw new WafleetError("NOT_OWNER", undefined, { workspaceId, owner: seen.node });
      }
      await this.adopting.get(workspaceId);
      return held;
    }
    let a = await this.opts.directory.owner(workspaceId);
    if (!a && claim) {
      a = (await this.opts.directory.assign(workspaceId, this.opts.node, null)) ?? (await this.opts.directory.owner(workspaceId));
      if (a?.node === this.opts.node) this.opts.logger.info(`workspace ${workspaceId} placed here (token ${a.token})`);
    }
    if (!a) return undefined;
    if (a.node !== this.opts.node) throw new WafleetError("NOT_OWNER", `Workspace ${workspaceId} is owned by node ${a.node}`, { workspaceId, owner: a.node });
    this.assertLease();
    await this.adoptOne(workspaceId, a.token);
    return a.token;
  }

  /**
   * The coordinator plans to give this node these workspaces when a dead node's takeover margin
   * ends: the host reads them now. Nothing is started or written, and a workspace this node
   * already holds is left alone; the adoption after the reassignment uses what was read.
   */
  async prepare(workspaceIds: readonly string[], from: string): Promise<number> {
    const prepare = this.opts.host.prepare;
    if (!prepare) return 0;
    let read = 0;
    for (const w of workspaceIds) {
      if (!this.opts.lease.valid()) break;
      if (this.owned.has(w) || this.adopting.has(w)) continue;
      await prepare(w, from).then(
        () => read++,
        (err: Error) => this.opts.logger.warn(`workspace ${w} not read ahead: ${err.message}`),
      );
    }
    return read;
  }

  /** Handoff, old owner's half: stop the workspace's engines and stop answering for it. */
  async release(workspaceId: string): Promise<void> {
    this.released.set(workspaceId, Date.now() + (this.opts.releaseHoldMs ?? 30000));
    await this.dropOne(workspaceId, "released for a move");
  }

  /** The lease is gone: nothing here may run. */
  async fence(): Promise<void> {
    this.owned.clear();
    await this.opts.host.dropAll();
  }

  /** Adopts what the directory gives this node; drops what it gave to another (only `workspaces`, when given). */
  scheduleReconcile(workspaces?: string[]): void {
    if (workspaces) for (const w of workspaces) this.pendingSome.add(w);
    else this.pendingAll = true;
    if (this.reconciling) return;
    this.reconciling = true;
    const only = this.pendingAll ? undefined : new Set(this.pendingSome);
    this.pendingAll = false;
    this.pendingSome.clear();
    void this.reconcile(only)
      .catch((err: Error) => this.opts.logger.warn(`reconcile failed: ${err.message}`))
      .finally(() => {
        this.reconciling = false;
        if (this.pendingAll || this.pendingSome.size) this.scheduleReconcile([]);
      });
  }

  private async reconcile(only?: Set<string>): Promise<void> {
    const now = Date.now();
    for (const [w, until] of this.released) {
      const seen = this.opts.view.ownerOf(w);
      if (until <= now || (seen && seen.node !== this.opts.node)) this.released.delete(w);
    }
    const held = only ? [...only].filter((w) => this.owned.has(w)) : [...this.owned.keys()];
    for (const w of held) {
      const token = this.owned.get(w);
      const seen = this.opts.view.ownerOf(w);
      if (token !== undefined && seen && seen.node !== this.opts.node && seen.token > token) await this.dropOne(w, `now owned by ${seen.node}`);
    }
    if (!this.opts.lease.valid()) return;
    const todo: string[] = [];
    const seen = only ? [...only].map((w) => this.opts.view.ownerOf(w)).filter((a): a is Assignment => !!a) : this.opts.view.assignments();
    for (const a of seen) {
      if (a.node !== this.opts.node || this.owned.get(a.workspaceId) === a.token || this.released.has(a.workspaceId)) continue;
      todo.push(a.workspaceId);
    }
    if (!todo.length) return;
    // the view may lag: start engines only on the directory's own word, read for all of them at
    // once (a failover gives a node hundreds of workspaces in one notification)
    const sure = await this.opts.directory.ownersOf(todo);
    const mine = sure.filter((a): a is Assignment => a?.node === this.opts.node);
    // adopted a few at a time: each reads its sessions from storage and queues their engines (the
    // launch queue paces the starts); one after another, the last workspace of a large failover
    // waited for every read before it
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.opts.adoptConcurrency ?? 16, mine.length) }, async () => {
        while (next < mine.length) {
          const a = mine[next++]!;
          if (!this.opts.lease.valid()) continue;
          await this.adoptOne(a.workspaceId, a.token).catch((err: Error) => this.opts.logger.warn(`workspace ${a.workspaceId} not adopted: ${err.message}`));
        }
      }),
    );
  }

  private async adoptOne(workspaceId: string, token: number): Promise<void> {
    const pending = this.adopting.get(workspaceId);
    if (this.owned.get(workspaceId) === token) return pending;
    this.owned.set(workspaceId, token);
    const p = (async () => {
      await pending;
      await this.opts.host.adopt(workspaceId);
    })();
    this.adopting.set(workspaceId, p);
    try {
      await p;
    } finally {
      if (this.adopting.get(workspaceId) === p) this.adopting.delete(workspaceId);
    }
  }

  private async dropOne(workspaceId: string, why: string): Promise<void> {
    const had = this.owned.delete(workspaceId);
    await this.adopting.get(workspaceId)?.catch(() => undefined);
    await this.opts.host.drop(workspaceId);
    if (had) this.opts.logger.info(`workspace ${workspaceId} dropped: ${why}`);
  }

  private assertLease(): void {
    if (!this.opts.lease.valid()) throw new WafleetError("LEASE_LOST");
  }
}

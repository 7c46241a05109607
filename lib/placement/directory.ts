// The ownership directory (DESIGN section 5): which node owns which workspace, under which fencing
// token; node liveness leases; the coordinator lease. Redis in a cluster, memory in embedded mode,
// one interface. Every mutation that decides ownership is a compare-and-set, so two coordinators
// (or a coordinator and a node claiming a new workspace) can never both win.

export interface Assignment {
  workspaceId: string;
  node: string;
  /** Strictly increasing across the cluster: every (re)assignment takes a new one. */
  token: number;
}

export interface NodeInfo {
  node: string;
  /** MAX_SESSIONS_PER_INSTANCE of that node. */
  capacity: number;
  /** Relative placement weight (capacity by default). */
  weight: number;
  /** A draining node takes no new workspaces and is being emptied. */
  draining: boolean;
  /** Changes each time the node (re)registers: a new lease epoch. */
  epoch: string;
  joinedAt: number;
  /** Sessions it runs (desired running), as last reported with its lease renewal. */
  sessions: number;
}

export interface NodeState extends NodeInfo {
  /** The lease is live (renewed within its TTL). */
  alive: boolean;
  /**
   * For a node whose lease is gone: how long before this read it expired, by the directory's own
   * clock (Redis's, which also expired the lease). Absent when the directory cannot tell (a record
   * written without the expiry, or by another epoch); the coordinator then counts from its own
   * first look.
   */
  expiredMs?: number;
}

export type DirectoryChange =
  | { type: "assign"; workspaceId: string; node: string; token: number }
  /** Several assignments made in one step (assignMany): one notification for all of them. */
  | { type: "assigned"; assignments: Assignment[] }
  | { type: "unassign"; workspaceId: string; token: number }
  | { type: "node"; node: string }
  /** The change feed was (re)connected: changes in between may have been missed, read it all again. */
  | { type: "resync" };

export interface Directory {
  /** Registers (or re-registers with a new epoch) this node and takes its liveness lease; a draining mark survives re-registration. */
  register(info: Omit<NodeInfo, "joinedAt">, ttlMs: number): Promise<void>;
  /** Extends the lease if it is still this epoch's; false = the lease is gone (expired or taken). */
  renew(node: string, epoch: string, ttlMs: number, sessions: number): Promise<boolean>;
  /** Drops the lease and the node record (clean shutdown). */
  deregister(node: string, epoch: string): Promise<void>;
  setDraining(node: string, draining: boolean): Promise<void>;
  /** Removes a dead node's record (its lease has expired). */
  forgetNode(node: string): Promise<void>;
  nodes(): Promise<NodeState[]>;

  owner(workspaceId: string): Promise<Assignment | undefined>;
  assignments(): Promise<Assignment[]>;
  /**
   * Assigns a workspace with a fresh token, only if its current token is `expected`
   * (`null` = only if unassigned). Returns the new assignment, or undefined when the check failed.
   */
  assign(workspaceId: string, node: string, expected: number | null): Promise<Assignment | undefined>;
  /**
   * assign() for many workspaces at once (a failover's reassignments): each is its own
   * compare-and-set, all in one round trip with one change notification. The results are in the
   * order of `moves`, undefined where the check failed.
   */
  assignMany(moves: Array<{ workspaceId: string; node: string; expected: number | null }>): Promise<Array<Assignment | undefined>>;
  /** owner() of several workspaces in one read, in the same order. */
  ownersOf(workspaceIds: string[]): Promise<Array<Assignment | undefined>>;
  /** Removes an assignment if its token is `expected` (the workspace was deleted). */
  unassign(workspaceId: string, expected: number): Promise<boolean>;

  /** Takes or extends the coordinator lease; true while `node` holds it. */
  lead(node: string, ttlMs: number): Promise<boolean>;
  resign(node: string): Promise<void>;
  coordinator(): Promise<string | undefined>;

  /** Directory changes as they happen (other nodes' too). Returns an unsubscribe function. */
  subscribe(listener: (change: DirectoryChange) => void): () => void;
  /** Rejects when the store cannot be reached (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

// The registry of this node's session actors: create, find, remove, capacity, and restoring every
// desired-running session at start through the launch queue.
import { ulid } from "../ids";
import { WafleetError } from "../errors";
import { engineFactoryFor, SessionActor, type ActorDeps, type SessionView } from "./actor";
import { sessionCost } from "../engines/weights";
import { assertId } from "./storage";
import type { SessionMeta, WorkspaceRead } from "./storage";

export interface CreateSessionInput {
  workspaceId: string;
  sessionId?: string;
  accountId?: string | null;
  start?: boolean;
  metadata?: Record<string, unknown>;
  /** The engine to run it on; absent: the node's default (WA_ENGINE). Must be installed on the node. */
  engine?: string;
}

export interface SessionManagerOptions extends ActorDeps {
  /** The node's capacity, in sessions of its default engine (MAX_SESSIONS_PER_INSTANCE). */
  maxSessions: number;
  /**
   * What a session of each engine weighs (lib/engines/weights.ts): one of another engine counts
   * weight(engine) / weight(default). Absent: every session counts 1.
   */
  engineWeights?: Readonly<Record<string, number>>;
  /** True while the node is above its memory watermark: it takes no new sessions. */
  overloaded?: () => boolean;
}

export interface NodeSessionStats {
  node: string;
  /** Sessions whose desired state is running: each holds (or will hold) an engine. */
  total: number;
  /** Those sessions by engine. */
  byEngine: Record<string, number>;
  /** What they weigh, in sessions of the node's default engine (engine weights); what capacity bounds. */
  load: number;
  capacity: number;
  /** load / capacity */
  utilization: number;
  byStatus: Record<string, number>;
  workspaces: number;
  sessions: number;
}

const key = (w: string, s: string) => `${w}\u0000${s}`;

/**
 * The actors by key, and by workspace as well: listing a workspace (polled by clients, and by
 * every failover check) and dropping one read only that workspace's actors, not the node's.
 */
class Actors extends Map<string, SessionActor> {
  private readonly byWorkspace = new Map<string, Map<string, SessionActor>>();

  override set(k: string, actor: SessionActor): this {
    super.set(k, actor);
    // constructed by Map's constructor before this class's fields exist: nothing to index then
    if (!this.byWorkspace) return this;
    let m = this.byWorkspace.get(actor.workspaceId);
    if (!m) this.byWorkspace.set(actor.workspaceId, (m = new Map()));
    m.set(k, actor);
    return this;
  }

  override delete(k: string): boolean {
    const actor = super.get(k);
    if (actor) {
      const m = this.byWorkspace.get(actor.workspaceId);
      m?.delete(k);
      if (m && !m.size) this.byWorkspace.delete(actor.workspaceId);
    }
    return super.delete(k);
  }

  override clear(): void {
    super.clear();
    this.byWorkspace.clear();
  }

  /** The workspace's actors, by key. */
  ofWorkspace(workspaceId: string): Array<[string, SessionActor]> {
    return [...(this.byWorkspace.get(workspaceId) ?? [])];
  }
}
const round4 = (x: number) => Math.round(x * 10000) / 10000;

export class SessionManager {
  private readonly actors = new Actors();

  constructor(private readonly opts: SessionManagerOptions) {}

  async create(input: CreateSessionInput): Promise<SessionView> {
    const { workspaceId } = input;
    assertId("workspaceId", workspaceId);
    // ULIDs fit the id pattern and sort by creation time
    const sessionId = input.sessionId ?? ulid();
    assertId("sessionId", sessionId);
    const k = key(workspaceId, sessionId);
    if (this.actors.has(k)) throw new WafleetError("SESSION_EXISTS", undefined, { workspaceId, sessionId });
    // stored always (a factory without a name, in unit tests, leaves it out): the session keeps its
    // engine when it moves to a node whose default differs
    const engine = input.engine ?? this.opts.engineFactory.engine;
    if (input.engine !== undefined && !engineFactoryFor(this.opts, input.engine)) {
      throw new WafleetError("ENGINE_NOT_INSTALLED", `The ${engine} engine is not installed on the session nodes (installed: ${this.installedEngines().join(", ")})`, { engine, installed: this.installedEngines() });
    }
    const start = input.start !== false;
    if (start) this.assertCapacity(engine ?? this.defaultEngine);
    const now = new Date().toISOString();
    const meta: SessionMeta = {
      workspaceId,
      sessionId,
      accountId: input.accountId ?? null,
      desired: start ? "running" : "stopped",
      metadata: input.metadata ?? {},
      ...(engine ? { engine } : {}),
      createdAt: now,
      updatedAt: now,
      fencingToken: this.opts.fencingToken(workspaceId),
    };
    const actor = new SessionActor(meta, this.opts);
    // reserved before the first await: a concurrent create of the same id sees it
    this.actors.set(k, actor);
    // the engine starts once the session's folder is ours, while meta.json is written: its
    // connection to WhatsApp overlaps the fsync (the actor holds its events until the commit)
    let started = false;
    const startEarly = start
      ? () => {
          started = true;
          actor.startWhileCreating();
        }
      : undefined;
    try {
      await this.opts.storage.create(meta, startEarly);
    } catch (err) {
      if (started) await actor.abandonCreate();
      this.actors.delete(k);
      throw err;
    }
    if (!start) return actor.view();
    return started ? actor.commitCreate() : actor.resume();
  }

  /** The node's default engine (WA_ENGINE). */
  get defaultEngine(): string {
    return this.opts.engineFactory.engine ?? "unknown";
  }

  /** The engines this node can run, the default first. */
  installedEngines(): string[] {
    return [...new Set([this.defaultEngine, ...(this.opts.engines?.keys() ?? [])])];
  }

  find(workspaceId: string, sessionId: string): SessionActor | undefined {
    return this.actors.get(key(workspaceId, sessionId));
  }

  get(workspaceId: string, sessionId: string): SessionActor {
    assertId("workspaceId", workspaceId);
    assertId("sessionId", sessionId);
    const actor = this.find(workspaceId, sessionId);
    if (!actor) throw new WafleetError("SESSION_NOT_FOUND", `Session ${sessionId} not found in workspace ${workspaceId}`);
    return actor;
  }

  list(workspaceId: string): SessionView[] {
    assertId("workspaceId", workspaceId);
    return this.actors.ofWorkspace(workspaceId).map(([, a]) => a.view());
  }

  all(): SessionActor[] {
    return [...this.actors.values()];
  }

  async start(workspaceId: string, sessionId: string): Promise<SessionView> {
    const actor = this.get(workspaceId, sessionId);
    if (actor.desired !== "running") this.assertCapacity(actor.engineName);
    return actor.start();
  }

  async restart(workspaceId: string, sessionId: string): Promise<SessionView> {
    const actor = this.get(workspaceId, sessionId);
    if (actor.desired !== "running") this.assertCapacity(actor.engineName);
    return actor.restart();
  }

  async remove(workspaceId: string, sessionId: string): Promise<void> {
    const actor = this.get(workspaceId, sessionId);
    await actor.remove();
    this.actors.delete(key(workspaceId, sessionId));
  }

  runningCount(): number {
    let n = 0;
    for (const a of this.actors.values()) if (a.desired === "running") n++;
    return n;
  }

  /** What one session of `engine` weighs on this node, in sessions of its default engine. */
  cost(engine: string): number {
    return this.opts.engineWeights ? sessionCost(this.opts.engineWeights, this.defaultEngine, engine) : 1;
  }

  /** What the running sessions weigh (see cost()); what MAX_SESSIONS_PER_INSTANCE bounds. */
  load(): number {
    let sum = 0;
    for (const a of this.actors.values()) if (a.desired === "running") sum += this.cost(a.engineName);
    return round4(sum);
  }

  stats(): NodeSessionStats {
    const byStatus: Record<string, number> = { STOPPED: 0, STARTING: 0, SCAN_QR_CODE: 0, WORKING: 0, FAILED: 0 };
    const byEngine: Record<string, number> = Object.fromEntries(this.installedEngines().map((e) => [e, 0]));
    const workspaces = new Set<string>();
    for (const a of this.actors.values()) {
      byStatus[a.status]++;
      workspaces.add(a.workspaceId);
      if (a.desired === "running") byEngine[a.engineName] = (byEngine[a.engineName] ?? 0) + 1;
    }
    const total = this.runningCount();
    const load = this.load();
    return {
      node: this.opts.node,
      total,
      byEngine,
      load,
      capacity: this.opts.maxSessions,
      utilization: round4(load / this.opts.maxSessions),
      byStatus,
      workspaces: workspaces.size,
      sessions: this.actors.size,
    };
  }

  /**
   * Loads every session of the given workspaces (all, in embedded mode) and resumes those whose
   * desired state is running; engines start through the launch queue, so this returns quickly.
   * `prepared` gives a workspace's folder as already read (during a failover's takeover margin):
   * then only its leftovers are swept.
   */
  async restore(workspaceIds?: string[], prepared?: (workspaceId: string) => WorkspaceRead | undefined): Promise<{ loaded: number; resumed: number }> {
    const ids = workspaceIds ?? (await this.opts.storage.listWorkspaces());
    let loaded = 0;
    let resumed = 0;
    const resuming: Array<Promise<unknown>> = [];
    for (const w of ids) {
      // one listing of the folder (leftovers of interrupted deletes swept) and its meta.json files
      const ready = prepared?.(w);
      let metas: SessionMeta[];
      if (ready) {
        await this.opts.storage.sweepLeftovers(w, ready.leftovers);
        metas = ready.metas;
      } else metas = await this.opts.storage.loadWorkspace(w);
      // what the node's sessions weigh, read after the await (other workspaces are restored at the
      // same time) and followed without another await until this workspace's are all placed
      let load = this.load();
      for (const meta of metas) {
        const k = key(meta.workspaceId, meta.sessionId);
        if (this.actors.has(k)) continue;
        const actor = new SessionActor(meta, this.opts);
        this.actors.set(k, actor);
        loaded++;
        if (meta.desired === "running") {
          const cost = this.cost(actor.engineName);
          if (load + cost > this.opts.maxSessions + 1e-9) {
            this.opts.logger.warn(`not resuming ${w}/${meta.sessionId}: node at capacity (${this.opts.maxSessions})`);
            continue;
          }
          load += cost;
          resumed++;
          // queued, not awaited one after another: resume() only queues the engine's start
          resuming.push(actor.resume());
        }
      }
    }
    await Promise.all(resuming);
    return { loaded, resumed };
  }

  /**
   * Reads a session again from its folder (after its files were replaced, e.g. by a restore):
   * stops its engine if it runs (no meta.json write), drops the actor, loads meta.json and resumes
   * the session if its desired state is running. Undefined when the folder holds no session.
   */
  async reload(workspaceId: string, sessionId: string): Promise<SessionView | undefined> {
    assertId("workspaceId", workspaceId);
    assertId("sessionId", sessionId);
    const k = key(workspaceId, sessionId);
    const current = this.actors.get(k);
    if (current) {
      this.actors.delete(k);
      await current.halt().catch(() => undefined);
    }
    const meta = await this.opts.storage.readMeta(workspaceId, sessionId);
    if (!meta) return undefined;
    const actor = new SessionActor(meta, this.opts);
    this.actors.set(k, actor);
    return meta.desired === "running" ? actor.resume() : actor.view();
  }

  /** Stops a workspace's engines (desired states kept) and forgets its actors: it left this node. */
  async dropWorkspace(workspaceId: string): Promise<void> {
    const actors = this.actors.ofWorkspace(workspaceId);
    for (const [k] of actors) this.actors.delete(k);
    await Promise.all(actors.map(([, a]) => a.halt().catch(() => undefined)));
  }

  /** dropWorkspace() for all: the node lost its lease. */
  async dropAll(): Promise<void> {
    const actors = [...this.actors.values()];
    this.actors.clear();
    await Promise.all(actors.map((a) => a.halt().catch(() => undefined)));
  }

  /** Stops every engine, keeping desired states, for a shutdown. */
  async haltAll(): Promise<void> {
    await Promise.all([...this.actors.values()].map((a) => a.halt().catch(() => undefined)));
  }

  /** Each running engine's memory, where the engine can tell. */
  async memorySamples(): Promise<Array<{ workspaceId: string; sessionId: string; bytes: number }>> {
    const out: Array<{ workspaceId: string; sessionId: string; bytes: number }> = [];
    for (const a of [...this.actors.values()]) {
      const bytes = await a.memoryUsage();
      if (bytes !== undefined) out.push({ workspaceId: a.workspaceId, sessionId: a.sessionId, bytes });
    }
    return out;
  }

  private assertCapacity(engine: string): void {
    if (this.opts.overloaded?.()) {
      throw new WafleetError("INSTANCE_AT_CAPACITY", "This node is above its memory watermark (NODE_MEMORY_WATERMARK) and takes no new sessions", { node: this.opts.node, reason: "memory" });
    }
    const load = this.load();
    if (load + this.cost(engine) > this.opts.maxSessions + 1e-9) {
      const weighed = this.opts.engineWeights && this.installedEngines().length > 1 ? ` (in ${this.defaultEngine} sessions; ENGINE_WEIGHTS)` : "";
      throw new WafleetError("INSTANCE_AT_CAPACITY", `This node's running sessions weigh ${load} of its ${this.opts.maxSessions}${weighed}: no room for another ${engine} session (MAX_SESSIONS_PER_INSTANCE)`, {
        node: this.opts.node,
        capacity: this.opts.maxSessions,
        load,
        engine,
      });
    }
  }
}

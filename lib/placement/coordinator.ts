// The coordinator (DESIGN section 5): one leader among the session nodes, by a lease in the
// directory. It reassigns a dead node's workspaces once that node's lease has expired plus a margin,
// places workspaces found in storage but unassigned, rebalances gradually when nodes join, drains
// nodes and moves single workspaces. Every reassignment is a compare-and-set on the fencing token;
// a live move is a handoff: the old owner stops its engines and releases, then the new owner is
// named with a new token and restores.
import type { Assignment, Directory, NodeState } from "./directory";
import { caps, placeOne, plan, rank, score, type Candidate, type Load } from "./hrw";

export interface CoordinatorLogger {
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
  error(...a: unknown[]): void;
  debug(...a: unknown[]): void;
}

export interface CoordinatorOptions {
  directory: Directory;
  node: string;
  leaseTtlMs: number;
  /** Extra wait after a lease expired before its workspaces are reassigned. */
  takeoverMarginMs: number;
  /** Handoffs in flight at once. */
  concurrency: number;
  /** The workspaces present in storage (a folder listing: cheap). */
  storedWorkspaceIds: () => Promise<string[]>;
  /** What a stored workspace weighs: its running sessions, each by its engine's cost (reads its sessions' meta). */
  weightOf: (workspaceId: string) => Promise<number>;
  /** Old owner's half of a handoff: it stops the workspace's engines. Rejects if it cannot. */
  release: (node: string, workspaceId: string) => Promise<void>;
  /** Tells the new owner to adopt now (it would notice by itself, a little later). */
  adoptHint: (node: string, workspaceId: string) => void;
  /**
   * Tells a live node, while a dead node's takeover margin runs, which of the dead node's
   * workspaces it is planned to get at the margin's end: it may read them from storage beforehand
   * (nothing else: it owns them only once reassigned). Absent: no early reads.
   */
  prepareHint?: (node: string, workspaceIds: string[], dead: string) => void;
  onFailover?: (node: string, workspaces: string[], seconds: number) => void;
  logger: CoordinatorLogger;
  tickMs?: number;
  /** How often storage is scanned for unassigned workspaces (each new or unowned one is weighed). Default 5000. */
  scanEveryMs?: number;
  /**
   * How often every stored workspace is weighed again (what joins, drains and the load relief plan
   * with). Reading every session's meta is proportional to all sessions, so it is not done at the
   * scan's pace. Default 60000.
   */
  weighEveryMs?: number;
}

export interface MoveResult {
  workspaceId: string;
  from: string | null;
  to: string;
  token: number;
}

export class Coordinator {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private ticking = false;
  /**
   * When each dead node's lease expired, on this process's clock: the directory's own reading of
   * the expiry when it has one (so a coordinator elected after the expiry does not wait a margin
   * more than its predecessor would have), else when this coordinator first saw the lease gone.
   */
  private readonly expiredSince = new Map<string, number>();
  /** Dead nodes whose planned new owners were told to prepare (once per death). */
  private readonly prepared = new Set<string>();
  /** Wakes the coordinator when a dead node's margin runs out, rather than at the next tick. */
  private wake: NodeJS.Timeout | undefined;
  /** A look was asked for while a tick ran: tick again when it ends. */
  private again = false;
  /** Nodes seen alive at the last tick, with their join time, to notice joins. */
  private known = new Map<string, number>();
  private lastScan = 0;
  private lastWeigh = 0;
  private lastRelief = 0;
  private readonly queue: Array<{ workspaceId: string; to: string; resolve: (r: MoveResult | undefined) => void }> = [];
  private inFlight = 0;
  private readonly moving = new Set<string>();
  private sessionsOf = new Map<string, number>();
  /** The registered nodes at the last tick: one leaving makes the tick look for orphans. */
  private membership = "";

  constructor(private readonly opts: CoordinatorOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.wake);
    this.wake = undefined;
    if (this.leading) await this.opts.directory.resign(this.opts.node).catch(() => undefined);
    this.leading = false;
  }

  /** A hint (e.g. Moleculer's $node.disconnected): look now instead of at the next tick. */
  poke(): void {
    if (this.ticking) this.again = true;
    else void this.tick();
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    this.again = false;
    try {
      const was = this.leading;
      this.leading = await this.opts.directory.lead(this.opts.node, this.opts.leaseTtlMs);
      if (this.leading && !was) {
        this.opts.logger.info(`coordinator: ${this.opts.node} leads`);
        this.expiredSince.clear();
        this.prepared.clear();
        this.known = new Map();
      }
      if (!this.leading) return;
      await this.work();
    } catch (err) {
      this.opts.logger.warn(`coordinator tick failed: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
      if (this.again && this.timer) {
        this.again = false;
        void this.tick();
      }
    }
  }

  private async work(): Promise<void> {
    const now = Date.now();
    const nodes = await this.opts.directory.nodes();
    // the directory's "expired x ms ago" was true when it answered, before this: counting back
    // from now puts the expiry no earlier than it was, so the margin is never cut short
    const read = Date.now();
    const live = nodes.filter((n) => n.alive);
    const candidates = toCandidates(live.filter((n) => !n.draining));
    const registered = new Set(nodes.map((n) => n.node));
    const every = this.opts.scanEveryMs ?? 5000;

    // dead nodes: lease expired longer than the margin ago -> their workspaces go to survivors
    const due: Array<{ node: string; since: number }> = [];
    // in their margin and not yet announced to their planned new owners
    const toPrepare: string[] = [];
    let wakeIn = Infinity;
    for (const n of nodes) {
      if (n.alive) {
        this.expiredSince.delete(n.node);
        this.prepared.delete(n.node);
        continue;
      }
      const since = this.expiredSince.get(n.node) ?? (n.expiredMs !== undefined ? read - n.expiredMs : now);
      this.expiredSince.set(n.node, since);
      if (now - since >= this.opts.takeoverMarginMs) due.push({ node: n.node, since });
      else {
        wakeIn = Math.min(wakeIn, since + this.opts.takeoverMarginMs - now);
        if (this.opts.prepareHint && !this.prepared.has(n.node)) toPrepare.push(n.node);
      }
    }
    // the margin's end is known: look again right then, not up to a tick later (once started)
    if (wakeIn < Infinity && this.timer) {
      clearTimeout(this.wake);
      this.wake = setTimeout(() => {
        this.wake = undefined;
        this.poke();
      }, wakeIn + 5);
    }
    const scanDue = now - this.lastScan >= every && candidates.length > 0;
    const joined = live.filter((n) => !n.draining && this.known.size > 0 && !this.known.has(n.node));
    this.known = new Map(live.map((n) => [n.node, n.joinedAt]));
    const draining = live.filter((x) => x.draining);
    const reliefDue = !this.queue.length && !this.inFlight && candidates.length > 1 && now - this.lastRelief >= every;
    const membership = [...registered].sort().join(",");
    const left = membership !== this.membership;
    this.membership = membership;
    // every owner is read (an HGETALL, proportional to all workspaces) only when this tick has
    // something to do with them, not every second: a failover, the scan, a join, a drain, the
    // load relief, or a node that left the node set (its workspaces are orphans)
    if (!due.length && !toPrepare.length && !scanDue && !(joined.length && candidates.length > 1) && !draining.length && !reliefDue && !left) return;
    const assignments = await this.opts.directory.assignments();

    // 0. the dead nodes in their margin: their planned new owners may read the workspaces now, so
    // that at the margin's end a reassignment only has engines left to start
    for (const dead of toPrepare) this.prepare(dead, assignments.filter((a) => a.node === dead), candidates, live, assignments);

    // 1. the dead nodes' workspaces
    for (const d of due) await this.failover(d.node, assignments.filter((a) => a.node === d.node), candidates, live, d.since, assignments);
    // workspaces naming a node that is not registered at all (it left without handing off)
    const orphans = assignments.filter((a) => !registered.has(a.node));
    if (orphans.length) {
      const byNode = new Map<string, Assignment[]>();
      for (const a of orphans) byNode.set(a.node, [...(byNode.get(a.node) ?? []), a]);
      for (const [node, list] of byNode) await this.failover(node, list, candidates, live, now, assignments);
    }

    // 2. workspaces in storage that nobody owns (first start, or created while Redis was empty)
    if (scanDue) {
      this.lastScan = now;
      const stored = await this.opts.storedWorkspaceIds();
      const owned = new Set(assignments.map((a) => a.workspaceId));
      // every workspace is weighed again only every weighEveryMs; an unowned or new one at once
      const reweigh = now - this.lastWeigh >= (this.opts.weighEveryMs ?? 60000);
      if (reweigh) this.lastWeigh = now;
      const weights = new Map<string, number>();
      for (const w of stored) {
        const known = this.sessionsOf.get(w);
        weights.set(w, reweigh || known === undefined || !owned.has(w) ? await this.opts.weightOf(w) : known);
      }
      this.sessionsOf = weights;
      const loads = loadsOf(live, assignments);
      let total = assignments.length;
      for (const w of stored) {
        if (owned.has(w)) continue;
        const sessions = weights.get(w)!;
        const to = placeOne(w, sessions, candidates, loads, ++total);
        if (!to) continue;
        const a = await this.opts.directory.assign(w, to, null);
        if (a) {
          bump(loads, to, sessions);
          this.opts.adoptHint(to, w);
        }
      }
    }

    // 3. joins: move to each new node the workspaces it now wins (about 1/(N+1)), throttled
    if (joined.length && candidates.length > 1) {
      const fresh = new Set(joined.map((n) => n.node));
      const target = plan(
        assignments.map((a) => ({ workspaceId: a.workspaceId, sessions: this.sessionsOf.get(a.workspaceId) ?? 1 })),
        candidates,
      );
      const moves = assignments.filter((a) => {
        const to = target.get(a.workspaceId);
        return to && to !== a.node && fresh.has(to) && live.some((n) => n.node === a.node);
      });
      if (moves.length) this.opts.logger.info(`coordinator: ${[...fresh].join(", ")} joined; moving ${moves.length} of ${assignments.length} workspaces`);
      for (const m of moves) void this.enqueue(m.workspaceId, target.get(m.workspaceId)!);
    }

    // 4. draining nodes: keep emptying them
    for (const n of draining) {
      const others = candidates.filter((c) => c.node !== n.node);
      if (!others.length) continue;
      const loads = loadsOf(live, assignments);
      for (const a of assignments.filter((x) => x.node === n.node && !this.moving.has(x.workspaceId))) {
        const to = placeOne(a.workspaceId, this.sessionsOf.get(a.workspaceId) ?? 1, others, loads, assignments.length);
        if (!to) continue;
        bump(loads, to, this.sessionsOf.get(a.workspaceId) ?? 1);
        void this.enqueue(a.workspaceId, to);
      }
    }

    // 5. the bounded load kept: creations place from each caller's view, so a burst racing through
    // several gateways can put a node above its cap, and a failover with every survivor at its cap
    // spills over it. Such a node hands its excess to nodes under theirs, a batch at a time and
    // only while nothing else moves, so it never fights a join, a drain or a failover. A move only
    // goes from above a cap to below one: the total excess shrinks with each, so this settles.
    if (!this.queue.length && !this.inFlight && candidates.length > 1 && now - this.lastRelief >= every) {
      this.lastRelief = now;
      this.relieve(candidates, live, assignments);
    }
  }

  private relieve(candidates: Candidate[], live: NodeState[], assignments: Assignment[]): void {
    const cap = caps(candidates, assignments.length);
    const loads = loadsOf(live, assignments);
    let budget = Math.max(1, this.opts.concurrency);
    for (const c of candidates) {
      const load = loads.get(c.node);
      if (!load) continue;
      const excess = load.workspaces - cap.get(c.node)!;
      if (excess <= 0) continue;
      const others = candidates.filter((x) => x.node !== c.node);
      // the workspaces that prefer this node least leave first
      const mine = assignments
        .filter((a) => a.node === c.node && !this.moving.has(a.workspaceId))
        .map((a) => ({ a, s: score(a.workspaceId, c.node, c.weight) }))
        .sort((x, y) => x.s - y.s);
      const moves: string[] = [];
      for (const { a } of mine) {
        if (moves.length >= excess || budget <= 0) break;
        const sessions = this.sessionsOf.get(a.workspaceId) ?? 1;
        // its best-ranked other node that is under its cap and has room for the sessions
        const to = rank(a.workspaceId, others).find((n) => (loads.get(n.node)?.workspaces ?? 0) < cap.get(n.node)! && (loads.get(n.node)?.sessions ?? 0) + sessions <= n.capacity)?.node;
        if (!to) continue;
        bump(loads, to, sessions);
        load.workspaces--;
        load.sessions = Math.max(0, load.sessions - sessions);
        budget--;
        moves.push(a.workspaceId);
        void this.enqueue(a.workspaceId, to);
      }
      if (moves.length) this.opts.logger.info(`coordinator: ${c.node} holds ${load.workspaces + moves.length} workspaces, above its cap of ${cap.get(c.node)}; moving ${moves.length}`);
    }
  }

  private async failover(dead: string, list: Assignment[], candidates: Candidate[], live: NodeState[], since: number, assignments: Assignment[]): Promise<void> {
    if (!candidates.length) {
      if (list.length) this.opts.logger.warn(`coordinator: ${dead} is gone but no live node can take its ${list.length} workspaces`);
      return;
    }
    // placed here, then reassigned in one step: one compare-and-set each, one round trip and one
    // change notification for all of them (a CAS per workspace cost a round trip and a
    // notification to every process each, in a row, proportional to the dead node's size)
    const plan = this.placeFailover(list, candidates, live, assignments);
    this.prepared.delete(dead);
    const results = plan.length ? await this.opts.directory.assignMany(plan) : [];
    const moved = results.filter((r): r is Assignment => !!r);
    // the tick's copy of the directory follows (another dead node's failover places against it)
    const at = new Map(assignments.map((a, i) => [a.workspaceId, i]));
    for (const b of moved) {
      const i = at.get(b.workspaceId);
      if (i !== undefined) assignments[i] = b;
    }
    // the new owners adopt on the notification; one hint per node makes it look now (a hint
    // makes the node reconcile everything the directory gives it, not one workspace)
    const hinted = new Set<string>();
    for (const b of moved) {
      if (hinted.has(b.node)) continue;
      hinted.add(b.node);
      this.opts.adoptHint(b.node, b.workspaceId);
    }
    // what still names the dead node (a failed compare-and-set, no room anywhere) is tried again next tick
    if (moved.length === list.length) {
      await this.opts.directory.forgetNode(dead);
      this.expiredSince.delete(dead);
    }
    if (moved.length) {
      const seconds = (Date.now() - since) / 1000;
      this.opts.logger.warn(`coordinator: failover of ${dead}: ${moved.length} workspaces reassigned`);
      this.opts.onFailover?.(dead, moved.map((b) => b.workspaceId), seconds);
    }
  }

  /** Where a dead node's workspaces go: placed one by one against the survivors' loads. */
  private placeFailover(list: Assignment[], candidates: Candidate[], live: NodeState[], assignments: Assignment[]): Array<{ workspaceId: string; node: string; expected: number | null }> {
    const loads = loadsOf(live, assignments);
    const total = assignments.length;
    const plan: Array<{ workspaceId: string; node: string; expected: number | null }> = [];
    for (const a of [...list].sort((x, y) => (x.workspaceId < y.workspaceId ? -1 : 1))) {
      const sessions = this.sessionsOf.get(a.workspaceId) ?? 1;
      const to = placeOne(a.workspaceId, sessions, candidates, loads, total);
      if (!to) continue;
      bump(loads, to, sessions);
      plan.push({ workspaceId: a.workspaceId, node: to, expected: a.token });
    }
    return plan;
  }

  /**
   * The dead node's margin runs: its planned new owners are told which workspaces to read. Only a
   * hint: the reassignment at the margin's end places again (the same plan unless the survivors
   * changed), and a node reads nothing it owns already and starts nothing until it is named.
   */
  private prepare(dead: string, list: Assignment[], candidates: Candidate[], live: NodeState[], assignments: Assignment[]): void {
    this.prepared.add(dead);
    if (!list.length || !candidates.length) return;
    const byNode = new Map<string, string[]>();
    for (const p of this.placeFailover(list, candidates, live, assignments)) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p.workspaceId]);
    for (const [node, workspaces] of byNode) this.opts.prepareHint!(node, workspaces, dead);
    this.opts.logger.info(`coordinator: ${dead}'s lease expired; ${list.length} workspaces planned on ${byNode.size} nodes, reassigned at the margin's end`);
  }

  /** Moves one workspace (a handoff); resolves when done, undefined if it could not. */
  move(workspaceId: string, to: string): Promise<MoveResult | undefined> {
    return this.enqueue(workspaceId, to);
  }

  /** Marks a node draining and waits until it owns nothing (or the deadline passes). */
  async drain(node: string, deadlineMs: number): Promise<{ node: string; moved: string[]; remaining: number }> {
    await this.opts.directory.setDraining(node, true);
    const before = (await this.opts.directory.assignments()).filter((a) => a.node === node).map((a) => a.workspaceId);
    const end = Date.now() + deadlineMs;
    await this.tick();
    for (;;) {
      const remaining = (await this.opts.directory.assignments()).filter((a) => a.node === node);
      if (!remaining.length || Date.now() >= end) {
        const left = new Set(remaining.map((a) => a.workspaceId));
        return { node, moved: before.filter((w) => !left.has(w)), remaining: remaining.length };
      }
      await new Promise((r) => setTimeout(r, 200));
      if (this.leading) await this.tick();
    }
  }

  private enqueue(workspaceId: string, to: string): Promise<MoveResult | undefined> {
    if (this.moving.has(workspaceId)) return Promise.resolve(undefined);
    this.moving.add(workspaceId);
    return new Promise((resolve) => {
      this.queue.push({ workspaceId, to, resolve });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length) {
      const job = this.queue.shift()!;
      this.inFlight++;
      void this.handoff(job.workspaceId, job.to)
        .then(job.resolve, (err: Error) => {
          this.opts.logger.warn(`move of ${job.workspaceId} to ${job.to} failed: ${err.message}`);
          job.resolve(undefined);
        })
        .finally(() => {
          this.inFlight--;
          this.moving.delete(job.workspaceId);
          this.pump();
        });
    }
  }

  private async handoff(workspaceId: string, to: string): Promise<MoveResult | undefined> {
    const a = await this.opts.directory.owner(workspaceId);
    if (a?.node === to) return { workspaceId, from: to, to, token: a.token };
    const target = (await this.opts.directory.nodes()).find((n) => n.node === to);
    if (!target?.alive || target.draining) throw new Error(`node ${to} cannot take workspaces now`);
    if (a) {
      const owner = (await this.opts.directory.nodes()).find((n) => n.node === a.node);
      // a live owner stops its engines first; a dead one is failover's business
      if (owner?.alive) await this.opts.release(a.node, workspaceId);
      else if (owner) return undefined;
    }
    const b = await this.opts.directory.assign(workspaceId, to, a ? a.token : null);
    if (!b) return undefined;
    this.opts.adoptHint(to, workspaceId);
    return { workspaceId, from: a?.node ?? null, to, token: b.token };
  }
}

function toCandidates(nodes: NodeState[]): Candidate[] {
  return nodes.map((n) => ({ node: n.node, weight: n.weight, capacity: n.capacity }));
}

function loadsOf(nodes: NodeState[], assignments: Assignment[]): Map<string, Load> {
  const loads = new Map<string, Load>(nodes.map((n) => [n.node, { workspaces: 0, sessions: n.sessions }]));
  for (const a of assignments) {
    const l = loads.get(a.node);
    if (l) l.workspaces++;
  }
  return loads;
}

function bump(loads: Map<string, Load>, node: string, sessions: number): void {
  const l = loads.get(node) ?? { workspaces: 0, sessions: 0 };
  l.workspaces++;
  l.sessions += sessions;
  loads.set(node, l);
}

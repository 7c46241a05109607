// One session's outbox on its owner: the queue (kept in an OutboxJournal), the client verbs
// (enqueue, list, cancel, pause, resume) and the drain, which sends one item at a time through
// the session's send path at the pace of the session's policy. Every state change is durable
// before it is acted on: an item is journaled `sending` before its send, and the send carries a
// message id derived from the item's id, so the owner that resumes after a crash re-sends it
// under the same id and the network (or the engine's intent record) recognises the repeat.
import { createHash } from "node:crypto";
import { monotonicFactory } from "ulid";
import { WafleetError } from "../errors";
import type { OutboxJournal, OutboxPause } from "./journal";
import { nextSendAt, type PaceState } from "./pacer";
import { DEFAULT_OUTBOX_GUARD, DEFAULT_OUTBOX_POLICY, GUARD_STUCK_WINDOW, type OutboxGuard, type OutboxItem, type OutboxMessage, type OutboxPolicy, type OutboxState } from "./types";

export interface OutboxClock {
  now(): number;
  /** Resolves after ms, or early when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random(): number;
}

export const realClock: OutboxClock = {
  now: () => Date.now(),
  random: () => Math.random(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    }),
};

/** What made the ban-risk guard pause an outbox. */
export type GuardTrigger = "refusals" | "stuck" | "restriction";

export interface OutboxEvents {
  sent(item: OutboxItem): void;
  failed(item: OutboxItem): void;
  /** `guard`: set when the ban-risk guard paused it. */
  paused(reason: string, guard?: GuardTrigger): void;
}

export interface OutboxDeps {
  journal: OutboxJournal;
  /** The session's current policy (meta.json). */
  policy: () => OutboxPolicy;
  /** The session's send path; `messageId` is the id the message must carry. */
  send: (message: OutboxMessage, messageId: string) => Promise<{ id: string }>;
  /** Seen + typing before a send, when the policy asks and the engine can; failures are ignored. */
  typing?: (to: string, ms: number, signal: AbortSignal) => Promise<void>;
  /** Whether the session can send now (WORKING); the drain waits while it cannot. */
  ready: () => boolean;
  events: OutboxEvents;
  clock?: OutboxClock;
  /** Terminal items are kept (listed, their keys remembered) this long (default 7 days). */
  retentionMs?: number;
  logger?: { warn(...args: unknown[]): void };
}

export interface EnqueueInput {
  message: OutboxMessage;
  key?: string;
  notBefore?: number;
}

export type EnqueueResult = { id: string; state: OutboxState; duplicate?: true };

/** Send failures that mean "not now" (the item stays queued); any other fails the item. */
const TRANSIENT = new Set(["SESSION_NOT_READY", "SESSION_NOT_FOUND", "NOT_OWNER", "WORKSPACE_MOVING", "LEASE_LOST", "ENGINE_TIMEOUT", "GATEWAY_BUSY", "REQUEST_TIMEOUT"]);
const RETRY_MS = 2000;
/** Unexpected errors (not a coded refusal) are retried this many times before the item fails. */
const MAX_UNKNOWN_ATTEMPTS = 5;

/** The message id an item is sent under: the same on every attempt, on every owner. */
export function outboxMessageId(workspaceId: string, sessionId: string, itemId: string): string {
  return `WFI${createHash("sha256").update(`outbox|${workspaceId}|${sessionId}|${itemId}`).digest("hex").slice(0, 29).toUpperCase()}`;
}

export class Outbox {
  private readonly items = new Map<string, OutboxItem>();
  private readonly keys = new Map<string, string>();
  private paused: OutboxPause | null = null;
  private readonly clock: OutboxClock;
  private wake = new AbortController();
  private running = false;
  private loop?: Promise<void>;
  /** The jitter drawn for the next send, kept until it goes (so waking early does not redraw it). */
  private jitter?: number;
  private closed = false;
  /** Sends refused for good in a row (the guard's count; a success resets it). */
  private failStreak = 0;
  /** Sends since the last resume only are the guard's evidence (a resume forgives what came before). */
  private resumedAt = 0;
  /** The ids an item's message is known by (the derived one it is sent under, the engine's): acks find their item. */
  private readonly byMessageId = new Map<string, string>();
  /** Ids acked DEVICE while their item was still `sending` (the ack beat the journal). */
  private readonly earlyDelivered = new Set<string>();
  /** Ids sort in enqueue order even within one millisecond (a batch). */
  private readonly ulid = monotonicFactory();

  private constructor(
    private readonly deps: OutboxDeps,
    private readonly messageIdOf: (itemId: string) => string,
  ) {
    this.clock = deps.clock ?? realClock;
  }

  static async open(deps: OutboxDeps, messageIdOf: (itemId: string) => string): Promise<Outbox> {
    const o = new Outbox(deps, messageIdOf);
    const snap = await deps.journal.load();
    for (const item of snap.items) {
      o.items.set(item.id, item);
      if (item.key) o.keys.set(item.key, item.id);
      if ((item.state === "sending" || item.state === "sent") && !item.delivered) o.watchAcks(item);
    }
    o.paused = snap.paused;
    if (snap.resumedAt === undefined) {
      // a new journal, or one written before the guard marked deliveries: its past sends carry no
      // DEVICE marks, so the guard starts judging from now (kept, so a next owner agrees)
      o.resumedAt = o.clock.now();
      await deps.journal.setPaused(snap.paused, o.resumedAt);
    } else o.resumedAt = snap.resumedAt;
    return o;
  }

  get pausedState(): OutboxPause | null {
    return this.paused;
  }

  counts(): Record<OutboxState, number> {
    const c: Record<OutboxState, number> = { queued: 0, sending: 0, sent: 0, failed: 0, cancelled: 0 };
    for (const i of this.items.values()) c[i.state]++;
    return c;
  }

  /** Queues items (already validated); a known key answers its item. Durable when it resolves. */
  async enqueue(inputs: EnqueueInput[]): Promise<EnqueueResult[]> {
    this.assertOpen();
    const now = this.clock.now();
    const out: EnqueueResult[] = [];
    const fresh: OutboxItem[] = [];
    for (const input of inputs) {
      const known = input.key !== undefined ? this.keys.get(input.key) : undefined;
      if (known) {
        out.push({ id: known, state: this.items.get(known)!.state, duplicate: true });
        continue;
      }
      const item: OutboxItem = { id: this.ulid(now), state: "queued", message: input.message, createdAt: now, updatedAt: now, attempts: 0 };
      if (input.key !== undefined) item.key = input.key;
      if (input.notBefore !== undefined) item.notBefore = input.notBefore;
      this.items.set(item.id, item);
      if (item.key) this.keys.set(item.key, item.id);
      fresh.push(item);
      out.push({ id: item.id, state: "queued" });
    }
    try {
      await Promise.all(fresh.map((i) => this.deps.journal.put(i)));
    } catch (err) {
      for (const i of fresh) {
        this.items.delete(i.id);
        if (i.key) this.keys.delete(i.key);
      }
      throw new WafleetError("OUTBOX_UNAVAILABLE", `The outbox could not be written: ${(err as Error).message}`);
    }
    this.poke();
    return out;
  }

  get(id: string): OutboxItem {
    const item = this.items.get(id);
    if (!item) throw new WafleetError("OUTBOX_ITEM_NOT_FOUND", `No outbox item ${id}`, { id });
    return structuredClone(item);
  }

  /** Newest first, paged by id (the cursor is the last id of the previous page). */
  list(opts: { state?: OutboxState; cursor?: string; limit: number }): { items: OutboxItem[]; nextCursor: string | null } {
    const all = [...this.items.values()].filter((i) => (opts.state ? i.state === opts.state : true) && (opts.cursor ? i.id < opts.cursor : true)).sort((a, b) => (a.id < b.id ? 1 : -1));
    const page = all.slice(0, opts.limit).map((i) => structuredClone(i));
    return { items: page, nextCursor: all.length > opts.limit ? page[page.length - 1].id : null };
  }

  /** Cancels a queued item; effective before the next send. CONFLICT when it already left the queue. */
  async cancel(id: string): Promise<OutboxItem> {
    this.assertOpen();
    const item = this.items.get(id);
    if (!item) throw new WafleetError("OUTBOX_ITEM_NOT_FOUND", `No outbox item ${id}`, { id });
    if (item.state === "cancelled") return structuredClone(item);
    if (item.state !== "queued") throw new WafleetError("OUTBOX_ITEM_NOT_QUEUED", `Outbox item ${id} is ${item.state}; only a queued item can be cancelled`, { id, state: item.state });
    await this.transition(item, { state: "cancelled" });
    this.poke();
    return structuredClone(item);
  }

  async pause(reason = "requested"): Promise<OutboxPause> {
    return this.pauseFor(reason);
  }

  private async pauseFor(reason: string, guard?: GuardTrigger): Promise<OutboxPause> {
    this.assertOpen();
    if (this.paused) return this.paused;
    const p = { reason, at: this.clock.now() };
    await this.deps.journal.setPaused(p);
    this.paused = p;
    this.poke();
    this.deps.events.paused(reason, guard);
    return p;
  }

  async resume(): Promise<void> {
    this.assertOpen();
    this.failStreak = 0;
    if (!this.paused) return;
    const at = this.clock.now();
    await this.deps.journal.setPaused(null, at);
    this.paused = null;
    this.resumedAt = at;
    this.poke();
  }

  /**
   * An ack of one of the session's messages (every wa.message.ack passes here): a DEVICE or READ
   * ack of an item's message marks it delivered, the evidence the guard's stuck check looks for.
   */
  ack(messageId: string, ack: string): void {
    if (this.closed || (ack !== "DEVICE" && ack !== "READ" && ack !== "PLAYED")) return;
    const id = this.byMessageId.get(messageId);
    if (id === undefined) return;
    const item = this.items.get(id);
    this.forgetMessageIds(id, item);
    if (!item || item.delivered || item.state !== "sent") {
      // acked before the send's own answer was journaled: remembered until then
      if (item?.state === "sending") this.earlyDelivered.add(id);
      return;
    }
    void this.transition(item, { delivered: true }).catch((err: Error) => this.deps.logger?.warn(`outbox item ${id}: delivery not journaled (${err.message})`));
  }

  /**
   * The session was disconnected for `reason`; the guard pauses the outbox when it is one WhatsApp
   * uses for restrictions (the caller knows which: lib/engines/types.ts RESTRICTION_REASONS).
   */
  async restricted(reason: string): Promise<void> {
    if (this.closed || !this.guard().restrictions) return;
    await this.pauseFor(`guard: disconnected by WhatsApp (${reason})`, "restriction");
  }

  /** Starts draining (the owner calls it once it holds the session). */
  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.loop = this.drain().catch((err) => this.deps.logger?.warn(`outbox drain stopped: ${err?.message ?? err}`));
  }

  /** Wakes the drain to look again (a state change, or the session became ready). */
  poke(): void {
    this.wake.abort();
  }

  /** Stops draining (a send in flight finishes first) and closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    this.poke();
    await this.loop;
    await this.deps.journal.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new WafleetError("OUTBOX_UNAVAILABLE", "The outbox is closed on this node (the session is moving)");
  }

  private policy(): OutboxPolicy {
    return { ...DEFAULT_OUTBOX_POLICY, ...this.deps.policy() };
  }

  private guard(): OutboxGuard {
    return { ...DEFAULT_OUTBOX_GUARD, ...this.policy().guard };
  }

  private watchAcks(item: OutboxItem): void {
    this.byMessageId.set(this.messageIdOf(item.id), item.id);
    if (item.messageId) this.byMessageId.set(item.messageId, item.id);
  }

  private forgetMessageIds(id: string, item?: OutboxItem): void {
    this.byMessageId.delete(this.messageIdOf(id));
    if (item?.messageId) this.byMessageId.delete(item.messageId);
  }

  /**
   * The guard's stuck check: of the last GUARD_STUCK_WINDOW sends since the last resume that are
   * older than stuckAfterMs, how many never reached a device. A number WhatsApp restricts keeps
   * accepting messages (one tick) and delivers none.
   */
  private stuckCount(now: number, guard: OutboxGuard): number {
    const aged: OutboxItem[] = [];
    for (const i of this.items.values()) {
      if (i.state === "sent" && i.sentAt !== undefined && i.sentAt >= this.resumedAt && i.sentAt <= now - guard.stuckAfterMs) aged.push(i);
    }
    aged.sort((a, b) => b.sentAt! - a.sentAt!);
    return aged.slice(0, GUARD_STUCK_WINDOW).filter((i) => !i.delivered).length;
  }

  private pace(now: number): PaceState {
    let last: number | undefined;
    const times: number[] = [];
    for (const i of this.items.values()) {
      if (i.sentAt === undefined) continue;
      if (last === undefined || i.sentAt > last) last = i.sentAt;
      if (i.sentAt > now - 86_400_000) times.push(i.sentAt);
    }
    return { lastSentAt: last, sentTimes: times };
  }

  /** The next item to send: one left `sending` by a crash first, then queued by notBefore/creation. */
  private next(): OutboxItem | undefined {
    let best: OutboxItem | undefined;
    const rank = (i: OutboxItem) => (i.state === "sending" ? 0 : 1);
    for (const i of this.items.values()) {
      if (i.state !== "queued" && i.state !== "sending") continue;
      if (!best) best = i;
      else if (rank(i) !== rank(best)) best = rank(i) < rank(best) ? i : best;
      else if ((i.notBefore ?? 0) !== (best.notBefore ?? 0)) best = (i.notBefore ?? 0) < (best.notBefore ?? 0) ? i : best;
      else if (i.id < best.id) best = i;
    }
    return best;
  }

  private async sleep(ms: number): Promise<void> {
    if (this.wake.signal.aborted) this.wake = new AbortController();
    await this.clock.sleep(ms, this.wake.signal);
  }

  private async drain(): Promise<void> {
    while (this.running) {
      this.forgetOld();
      const item = this.next();
      if (!item || this.paused || !this.deps.ready()) {
        // nothing to do: wait for a poke (enqueue, resume, session ready), with a slow re-check
        await this.sleep(item && !this.paused ? RETRY_MS : 60_000);
        continue;
      }
      const policy = this.policy();
      const now = this.clock.now();
      if (this.jitter === undefined) this.jitter = Math.floor(this.clock.random() * (policy.jitterMs + 1));
      const at = nextSendAt(now, policy, this.pace(now), this.jitter, item.state === "sending" ? 0 : item.notBefore);
      if (at > now) {
        await this.sleep(at - now);
        continue; // look again: a cancel, a pause or an earlier item may have come meanwhile
      }
      const guard = { ...DEFAULT_OUTBOX_GUARD, ...policy.guard };
      if (guard.stuck > 0 && item.state === "queued") {
        const stuck = this.stuckCount(now, guard);
        if (stuck >= guard.stuck) {
          await this.pauseFor(`guard: ${stuck} of the last sends older than ${Math.round(guard.stuckAfterMs / 1000)} s have no DEVICE ack`, "stuck");
          continue;
        }
      }
      this.jitter = undefined;
      await this.sendOne(item, policy);
    }
  }

  private async sendOne(item: OutboxItem, policy: OutboxPolicy): Promise<void> {
    const startedAt = this.clock.now();
    // durable before the send: a crash from here on re-sends under the same id
    await this.transition(item, { state: "sending", attempts: item.attempts + 1, sentAt: startedAt });
    this.watchAcks(item);
    if (policy.typing && this.deps.typing && policy.typingMs > 0) {
      await this.deps.typing(item.message.to, policy.typingMs, new AbortController().signal).catch(() => undefined);
    }
    try {
      const sent = await this.deps.send(item.message, this.messageIdOf(item.id));
      // sentAt becomes the moment the network acknowledged it: the next send waits the gap from
      // there, so the gap holds at the contacts whatever the send itself took
      await this.transition(item, { state: "sent", messageId: sent.id, sentAt: this.clock.now() });
      // the device's ack may have come while the send's answer was being journaled
      if (this.earlyDelivered.delete(item.id)) await this.transition(item, { delivered: true });
      else this.watchAcks(item);
      this.failStreak = 0;
      this.deps.events.sent(structuredClone(item));
    } catch (err: any) {
      const code: string = err?.type ?? err?.code ?? "SEND_FAILED";
      const unknown = !(err instanceof WafleetError || err?.type);
      if (TRANSIENT.has(code) || (unknown && item.attempts < MAX_UNKNOWN_ATTEMPTS)) {
        // not now: back in the queue, first in line, no pace slot spent
        await this.transition(item, { state: "queued", sentAt: undefined });
        if (!TRANSIENT.has(code)) this.deps.logger?.warn(`outbox item ${item.id}: send failed (${err?.message ?? err}); retrying`);
        await this.sleep(RETRY_MS);
        return;
      }
      this.forgetMessageIds(item.id, item);
      this.earlyDelivered.delete(item.id);
      await this.transition(item, { state: "failed", error: { code, message: String(err?.message ?? err) } });
      this.deps.events.failed(structuredClone(item));
      const limit = { ...DEFAULT_OUTBOX_GUARD, ...policy.guard }.refusals;
      if (limit > 0 && ++this.failStreak >= limit) {
        this.failStreak = 0;
        await this.pauseFor(`guard: ${limit} sends in a row refused (last: ${code})`, "refusals");
      }
    }
  }

  private async transition(item: OutboxItem, change: Partial<OutboxItem>): Promise<void> {
    const next: OutboxItem = { ...item, ...change, updatedAt: this.clock.now() };
    for (const k of Object.keys(change) as Array<keyof OutboxItem>) if (change[k] === undefined) delete next[k];
    await this.deps.journal.put(next);
    Object.assign(item, next);
    for (const k of Object.keys(item) as Array<keyof OutboxItem>) if (!(k in next)) delete item[k];
  }

  /** Terminal items past retention leave the journal (and their keys with them). */
  private forgetOld(): void {
    const horizon = this.clock.now() - (this.deps.retentionMs ?? 7 * 86_400_000);
    const old: string[] = [];
    for (const i of this.items.values()) if ((i.state === "sent" || i.state === "failed" || i.state === "cancelled") && i.updatedAt < horizon) old.push(i.id);
    if (!old.length) return;
    for (const id of old) {
      const item = this.items.get(id);
      if (item?.key) this.keys.delete(item.key);
      this.forgetMessageIds(id, item);
      this.items.delete(id);
    }
    void this.deps.journal.drop(old).catch(() => undefined);
  }
}

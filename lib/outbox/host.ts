// The outboxes of the sessions this node owns. An outbox opens (and starts draining) when its
// workspace is adopted or when a client first touches it, and closes, a send in flight finishing
// first, before its workspace leaves the node (move, drain, lost lease) or its session is deleted:
// so the drain moves with the session, and only the owner ever sends.
import { existsSync } from "node:fs";
import { FileOutboxJournal } from "./journal";
import { Outbox, outboxMessageId, type OutboxDeps } from "./outbox";

export interface OutboxHostOptions {
  /** The journal file of a session (in its folder). */
  fileOf(workspaceId: string, sessionId: string): string;
  /** The sessions of a workspace present on this node now. */
  sessionsOf(workspaceId: string): string[];
  /** What a session's outbox sends with and reports to. */
  depsOf(workspaceId: string, sessionId: string): Omit<OutboxDeps, "journal">;
  logger?: { warn(...args: unknown[]): void };
}

const key = (w: string, s: string) => `${w}\u0000${s}`;

export class OutboxHost {
  private readonly open = new Map<string, Promise<Outbox>>();

  constructor(private readonly opts: OutboxHostOptions) {}

  /** The session's outbox, opened (and draining) on first use. */
  get(workspaceId: string, sessionId: string): Promise<Outbox> {
    const k = key(workspaceId, sessionId);
    let o = this.open.get(k);
    if (!o) {
      o = Outbox.open({ ...this.opts.depsOf(workspaceId, sessionId), journal: new FileOutboxJournal(this.opts.fileOf(workspaceId, sessionId)) }, (id) => outboxMessageId(workspaceId, sessionId, id)).then((box) => {
        box.start();
        return box;
      });
      this.open.set(k, o);
      o.catch(() => this.open.delete(k));
    }
    return o;
  }

  /** Which of a workspace's sessions have a journal (a look at the disk each; no outbox opened). */
  journaled(workspaceId: string, sessionIds: readonly string[]): string[] {
    return sessionIds.filter((s) => existsSync(this.opts.fileOf(workspaceId, s)));
  }

  /**
   * Opens the outboxes of a workspace this node just took (those that have a journal; `journaled`:
   * the sessions journaled() found, when the workspace was read ahead during a takeover margin).
   */
  async adopt(workspaceId: string, journaled?: readonly string[]): Promise<void> {
    const had = journaled && new Set(journaled);
    for (const s of this.opts.sessionsOf(workspaceId)) {
      if (had ? !had.has(s) : !existsSync(this.opts.fileOf(workspaceId, s))) continue;
      await this.get(workspaceId, s).catch((err: Error) => this.opts.logger?.warn(`outbox of ${workspaceId}/${s} not opened: ${err.message}`));
    }
  }

  /** Wakes a session's drain (it became WORKING), if its outbox is open. */
  poke(workspaceId: string, sessionId: string): void {
    void this.open.get(key(workspaceId, sessionId))?.then((o) => o.poke(), () => undefined);
  }

  /** An ack of one of the session's messages, for the guard (only an open outbox listens). */
  ack(workspaceId: string, sessionId: string, messageId: string, ack: string): void {
    void this.open.get(key(workspaceId, sessionId))?.then((o) => o.ack(messageId, ack), () => undefined);
  }

  /** The session was disconnected for a restriction reason: the guard pauses its outbox (if it has one). */
  async restricted(workspaceId: string, sessionId: string, reason: string): Promise<void> {
    if (!this.open.has(key(workspaceId, sessionId)) && !existsSync(this.opts.fileOf(workspaceId, sessionId))) return;
    const box = await this.get(workspaceId, sessionId);
    await box.restricted(reason);
  }

  async close(workspaceId: string, sessionId: string): Promise<void> {
    const k = key(workspaceId, sessionId);
    const o = this.open.get(k);
    if (!o) return;
    this.open.delete(k);
    await o.then((box) => box.close(), () => undefined);
  }

  /** Closes a workspace's outboxes before it leaves this node. */
  async drop(workspaceId: string): Promise<void> {
    const prefix = `${workspaceId}\u0000`;
    await Promise.all([...this.open.keys()].filter((k) => k.startsWith(prefix)).map((k) => this.close(workspaceId, k.slice(prefix.length))));
  }

  async dropAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((k) => {
      const [w, s] = k.split("\u0000") as [string, string];
      return this.close(w, s);
    }));
  }

  /** Every open outbox (metrics). */
  async all(): Promise<Array<{ workspaceId: string; sessionId: string; outbox: Outbox }>> {
    const out: Array<{ workspaceId: string; sessionId: string; outbox: Outbox }> = [];
    for (const [k, o] of [...this.open]) {
      const box = await o.catch(() => undefined);
      if (!box) continue;
      const [workspaceId, sessionId] = k.split("\u0000") as [string, string];
      out.push({ workspaceId, sessionId, outbox: box });
    }
    return out;
  }
}

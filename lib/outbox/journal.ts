// The outbox's durable store: one append-only JSON-lines file per session, `outbox.jsonl` in the
// session's folder (shared storage in a cluster, DATA_DIR in embedded mode), written the way the
// embedded event log's journal is (lib/events/log-file.ts): every write is fsynced before it
// resolves (writes that arrive together share one fsync), a torn last line from a crash is
// ignored, and the file is rewritten atomically (temp + fsync + rename) with only the live state.
// Only the session's owner opens it (fenced like meta.json), so there is one writer at a time.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { readJsonLines } from "../json-lines";
import type { OutboxItem } from "./types";

export interface OutboxPause {
  reason: string;
  at: number;
}

/** What the journal holds: every item it still keeps, whether the outbox is paused, and its last resume. */
export interface OutboxSnapshot {
  items: OutboxItem[];
  paused: OutboxPause | null;
  /** Epoch ms of the last resume: the guard judges only sends after it. */
  resumedAt?: number;
}

export interface OutboxJournal {
  load(): Promise<OutboxSnapshot>;
  /** Records an item's new state; resolves once it is durable. */
  put(item: OutboxItem): Promise<void>;
  /** Forgets items (terminal ones past retention). */
  drop(ids: string[]): Promise<void>;
  /** Pauses (p), or resumes (null, at resumedAt). */
  setPaused(p: OutboxPause | null, resumedAt?: number): Promise<void>;
  close(): Promise<void>;
}

type Line = { i: OutboxItem } | { x: string } | { p: OutboxPause | null; r?: number };

export class MemoryOutboxJournal implements OutboxJournal {
  readonly items = new Map<string, OutboxItem>();
  paused: OutboxPause | null = null;
  resumedAt?: number;
  async load(): Promise<OutboxSnapshot> {
    return { items: [...this.items.values()].map((i) => structuredClone(i)), paused: this.paused, ...(this.resumedAt !== undefined ? { resumedAt: this.resumedAt } : {}) };
  }
  async put(item: OutboxItem): Promise<void> {
    this.items.set(item.id, structuredClone(item));
  }
  async drop(ids: string[]): Promise<void> {
    for (const id of ids) this.items.delete(id);
  }
  async setPaused(p: OutboxPause | null, resumedAt?: number): Promise<void> {
    this.paused = p;
    if (resumedAt !== undefined) this.resumedAt = resumedAt;
  }
  async close(): Promise<void> {}
}

export class FileOutboxJournal implements OutboxJournal {
  /** Each live item as its JSON (what a rewrite writes): a string costs far less than a second object graph. */
  private readonly items = new Map<string, string>();
  private paused: OutboxPause | null = null;
  private resumedAt?: number;
  private fh?: FileHandle;
  private buffer: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private flushing?: Promise<void>;
  private linesInFile = 0;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly compactAfterLines = 5000,
  ) {}

  async load(): Promise<OutboxSnapshot> {
    for (const line of await readJsonLines<Line>(this.file)) this.apply(line);
    await this.rewrite();
    return { items: [...this.items.values()].map((json) => JSON.parse(json) as OutboxItem), paused: this.paused, ...(this.resumedAt !== undefined ? { resumedAt: this.resumedAt } : {}) };
  }

  put(item: OutboxItem): Promise<void> {
    const json = JSON.stringify(item);
    this.items.set(item.id, json);
    return this.write(`{"i":${json}}`);
  }

  drop(ids: string[]): Promise<void> {
    if (!ids.length) return Promise.resolve();
    for (const id of ids) this.items.delete(id);
    return this.write(ids.map((x) => JSON.stringify({ x })).join("\n"));
  }

  setPaused(p: OutboxPause | null, resumedAt?: number): Promise<void> {
    const line: Line = { p, ...(resumedAt !== undefined ? { r: resumedAt } : {}) };
    this.apply(line);
    return this.write(JSON.stringify(line));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushing?.catch(() => undefined);
    if (this.buffer.length) await this.flush().catch(() => undefined);
    this.closed = true;
    await this.fh?.close();
    this.fh = undefined;
  }

  private apply(line: Line): void {
    if ("i" in line) this.items.set(line.i.id, JSON.stringify(line.i));
    else if ("x" in line) this.items.delete(line.x);
    else if ("p" in line) {
      this.paused = line.p;
      if (line.r !== undefined) this.resumedAt = line.r;
    }
  }

  private write(raw: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`outbox journal ${this.file} is closed`));
    return new Promise((resolve, reject) => {
      this.buffer.push(raw);
      this.waiters.push({ resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.buffer.length) await this.flush();
    } finally {
      this.flushing = undefined;
    }
  }

  private async flush(): Promise<void> {
    const lines = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    try {
      if (!this.fh) throw new Error("not open");
      await this.fh.write(lines.join("\n") + "\n");
      await this.fh.datasync();
      this.linesInFile += lines.length;
    } catch (err) {
      const e = new Error(`outbox journal ${this.file}: ${(err as Error).message}`);
      for (const w of waiters) w.reject(e);
      return;
    }
    for (const w of waiters) w.resolve();
    if (this.linesInFile > this.compactAfterLines + 2 * this.items.size) await this.rewrite().catch(() => undefined);
  }

  private async rewrite(): Promise<void> {
    const lines = [JSON.stringify({ p: this.paused, ...(this.resumedAt !== undefined ? { r: this.resumedAt } : {}) })];
    for (const id of [...this.items.keys()].sort()) lines.push(`{"i":${this.items.get(id)!}}`);
    const tmp = `${this.file}.tmp-${randomBytes(6).toString("hex")}`;
    const out = await fs.open(tmp, "w", 0o600);
    try {
      await out.write(lines.join("\n") + "\n");
      await out.sync();
    } finally {
      await out.close();
    }
    await fs.rename(tmp, this.file);
    const d = await fs.open(path.dirname(this.file), "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    await this.fh?.close();
    this.fh = await fs.open(this.file, "a", 0o600);
    this.linesInFile = lines.length;
  }
}

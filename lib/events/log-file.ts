// The durable event log of embedded mode: the memory log (log-memory.ts) with a journal in
// DATA_DIR, so events not yet delivered survive a kill -9 of the single process, as JetStream's
// file storage does in a cluster. The journal is one append-only file of JSON lines: appends are
// fsynced before they resolve (appends that arrive together share one fsync); settlements and
// delivery counts ride along (one lost to a crash only means a repeat, and receivers deduplicate
// on webhook-id). At open, and whenever settled lines outweigh live ones, the file is rewritten
// atomically with only the entries some consumer still needs.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { readJsonLines } from "../json-lines";
import { MemoryEventLog, type EventLogJournal, type LogEntry, type MemoryEventLogOptions, type RestoredLog } from "./log-memory";

/** One journal line: an append, a consumer opened, a settlement, a delivery count, a retention drop. */
type Line = { a: number; r: number; e: LogEntry["event"] } | { o: string } | { d: number; c: string } | { n: number; c: string; k: number } | { x: number };

interface ConsumerMirror {
  settled: Set<number>;
  attempts: Map<number, number>;
}

export interface FileEventLogOptions extends Omit<MemoryEventLogOptions, "journal" | "restored"> {
  /** Rewrite the journal once it holds this many lines more than the live state needs (default 20,000). */
  compactAfterLines?: number;
}

/** Opens (or creates) the journal under `dir` and the log over it, with every unsettled event back in place. */
export async function openFileEventLog(dir: string, opts: FileEventLogOptions = {}): Promise<MemoryEventLog> {
  const journal = new FileEventJournal(path.join(dir, "events.jsonl"), opts.compactAfterLines ?? 20_000);
  const restored = await journal.open();
  return new MemoryEventLog({ ...opts, journal, restored });
}

export class FileEventJournal implements EventLogJournal {
  /** What the file must keep: live entries (their lines) and each consumer's state about them. */
  private readonly live = new Map<number, string>();
  private readonly consumers = new Map<string, ConsumerMirror>();
  private fh?: FileHandle;
  private buffer: string[] = [];
  private waiters: Array<{ seq: number; resolve: () => void; reject: (err: Error) => void }> = [];
  private flushing?: Promise<void>;
  private linesInFile = 0;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly compactAfterLines: number,
  ) {}

  /** Reads the file (a torn last line, from a crash mid-write, is ignored), rewrites it compactly and opens it for appends. */
  async open(): Promise<RestoredLog> {
    for (const line of await readJsonLines<Line>(this.file)) this.apply(line);
    await this.rewrite();
    const entries: LogEntry[] = [];
    for (const [seq, raw] of [...this.live].sort((a, b) => a[0] - b[0])) {
      const l = JSON.parse(raw) as { a: number; r: number; e: LogEntry["event"] };
      entries.push({ seq, event: l.e, replay: l.r });
    }
    const consumers = new Map([...this.consumers].map(([name, m]) => [name, { settled: new Set(m.settled), attempts: new Map(m.attempts) }]));
    return { entries, consumers };
  }

  appended(entry: LogEntry): Promise<void> {
    if (this.closed) return Promise.reject(new Error("event log closed"));
    const raw = JSON.stringify({ a: entry.seq, r: entry.replay, e: entry.event });
    this.live.set(entry.seq, raw);
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq: entry.seq, resolve, reject });
      this.write(raw);
    });
  }

  opened(consumer: string): void {
    if (this.consumers.has(consumer)) return;
    this.consumers.set(consumer, { settled: new Set(), attempts: new Map() });
    this.write(JSON.stringify({ o: consumer }));
  }

  settled(consumer: string, seq: number): void {
    this.apply({ d: seq, c: consumer });
    this.write(JSON.stringify({ d: seq, c: consumer }));
  }

  attempted(consumer: string, seq: number, attempt: number): void {
    this.apply({ n: seq, c: consumer, k: attempt });
    this.write(JSON.stringify({ n: seq, c: consumer, k: attempt }));
  }

  forgotten(seq: number): void {
    this.apply({ x: seq });
    this.write(JSON.stringify({ x: seq }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing?.catch(() => undefined);
    if (this.buffer.length) await this.flush().catch(() => undefined);
    await this.fh?.close();
    this.fh = undefined;
  }

  /** The file keeps an entry until every known consumer settled it (or retention dropped it). */
  private drop(seq: number): void {
    this.live.delete(seq);
    for (const m of this.consumers.values()) {
      m.settled.delete(seq);
      m.attempts.delete(seq);
    }
  }

  private apply(line: Line, raw?: string): void {
    if ("a" in line) this.live.set(line.a, raw ?? JSON.stringify(line));
    else if ("o" in line) {
      if (!this.consumers.has(line.o)) this.consumers.set(line.o, { settled: new Set(), attempts: new Map() });
    } else if ("d" in line) {
      if (!this.live.has(line.d)) return;
      const m = this.mirror(line.c);
      m.settled.add(line.d);
      m.attempts.delete(line.d);
      if ([...this.consumers.values()].every((c) => c.settled.has(line.d))) this.drop(line.d);
    } else if ("n" in line) {
      if (this.live.has(line.n)) this.mirror(line.c).attempts.set(line.n, line.k);
    } else if ("x" in line) this.drop(line.x);
  }

  private mirror(consumer: string): ConsumerMirror {
    let m = this.consumers.get(consumer);
    if (!m) this.consumers.set(consumer, (m = { settled: new Set(), attempts: new Map() }));
    return m;
  }

  private write(raw: string): void {
    if (this.closed) return;
    this.buffer.push(raw);
    if (!this.flushing) this.flushing = this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.buffer.length && !this.closed) await this.flush();
    } finally {
      this.flushing = undefined;
    }
  }

  /** Writes the buffered lines and fsyncs them, then resolves the appends they carried. */
  private async flush(): Promise<void> {
    const lines = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    try {
      if (!this.fh) throw new Error(`the event journal ${this.file} is not open`);
      await this.fh.write(lines.join("\n") + "\n");
      await this.fh.datasync();
      this.linesInFile += lines.length;
      for (const w of waiters) w.resolve();
    } catch (err) {
      // a refused append is not in the log: a later rewrite must not bring it back
      for (const w of waiters) {
        this.live.delete(w.seq);
        w.reject(new Error(`event journal ${this.file}: ${(err as Error).message}`));
      }
      return;
    }
    if (this.linesInFile > this.compactAfterLines + 2 * this.live.size) await this.rewrite().catch(() => undefined);
  }

  /** Replaces the file with the live state (temp file, fsync, rename, fsync of the folder) and reopens it for appends. */
  private async rewrite(): Promise<void> {
    const lines: string[] = [];
    for (const name of this.consumers.keys()) lines.push(JSON.stringify({ o: name }));
    for (const [seq, raw] of [...this.live].sort((a, b) => a[0] - b[0])) {
      lines.push(raw);
      for (const [name, m] of this.consumers) {
        if (m.settled.has(seq)) lines.push(JSON.stringify({ d: seq, c: name }));
        const k = m.attempts.get(seq);
        if (k !== undefined) lines.push(JSON.stringify({ n: seq, c: name, k }));
      }
    }
    const tmp = `${this.file}.tmp-${randomBytes(6).toString("hex")}`;
    const out = await fs.open(tmp, "w", 0o600);
    try {
      if (lines.length) await out.write(lines.join("\n") + "\n");
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

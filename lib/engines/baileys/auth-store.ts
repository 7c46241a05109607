// The Baileys engine's auth state (creds and Signal keys) in `auth/baileys/`, written by wafleet,
// not by Baileys' multi-file helper (its docs warn against it in production): one JSON file for the
// creds and one per key type, each replaced atomically (temp file, fsync, rename, fsync of the
// folder), writes coalesced per file. Closing finishes the writes already asked for (a creds update
// Baileys made before the stop is part of the device: dropped, a restore would find the device
// unlinked) and takes no new one; a close after the node lost its lease drops those not yet under
// way instead (another node may own the session now).
// One-time prekeys (812 a login uploads, each read once when a peer starts a session with it) are
// not kept in memory: they are read from their file when asked for, and only the changes not yet
// written are held, so a linked session costs a few hundred KB of heap less (docs/benchmarks.md,
// "Baileys density").
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { loadBaileys } from "./library";

export const AUTH_SUBDIR = "baileys";
const CREDS_FILE = "creds.json";

type KeyMap = Record<string, Record<string, unknown>>;

/**
 * The group notifications the engine heard (`<group>/<stanza id>`), oldest first: kept with the keys
 * (as Baileys keeps its own non-key state, e.g. `sender-key-memory`), so a restart, a failover and a
 * backup carry them. Baileys never asks for this type.
 */
export const NOTIFICATIONS_TYPE = "group-notifications";

/** Key types read from disk when asked for instead of being held in memory: many, rarely read. */
const COLD_TYPES = new Set(["pre-key"]);

/** Writes `text` to `file` so a crash leaves the old content or the new, and the new survives power loss. */
export async function writeDurable(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const h = await fs.open(tmp, "w", 0o600);
    try {
      await h.writeFile(text);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  const d = await fs.open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** One file whose writes are coalesced: a write asked for during another waits and covers them all. */
export class CoalescedFile {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly file: string,
    private readonly render: () => string | Promise<string>,
    /** Writes not yet under way are dropped (the store was closed after its node lost its lease). */
    private readonly isDiscarded: () => boolean,
    private readonly written: () => void = () => undefined,
  ) {}

  write(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return (this.running = this.run());
    this.queued = this.running.then(
      () => this.next(),
      () => this.next(),
    );
    return this.queued;
  }

  private next(): Promise<void> {
    this.queued = undefined;
    return (this.running = this.run());
  }

  private async run(): Promise<void> {
    try {
      if (this.isDiscarded()) return;
      const text = await this.render();
      // rendering may read the file: the store may have been discarded meanwhile
      if (this.isDiscarded()) return;
      await writeDurable(this.file, text);
      this.written();
    } finally {
      this.running = undefined;
    }
  }

  /** A write is under way or asked for. */
  get busy(): boolean {
    return this.running !== undefined || this.queued !== undefined;
  }

  idle(): Promise<void> {
    return Promise.all([this.running, this.queued]).then(
      () => undefined,
      () => undefined,
    );
  }
}

/**
 * A key type kept on disk: its file is read when a key is asked for, changes wait in `pending` until
 * a write carrying them has reached the disk (so a read in between still sees them).
 */
class ColdKeys {
  private readonly pending = new Map<string, unknown>();
  private inWrite: Map<string, unknown> | undefined;
  readonly file: CoalescedFile;

  constructor(
    private readonly path: string,
    isDiscarded: () => boolean,
  ) {
    const { BufferJSON } = loadBaileys();
    this.file = new CoalescedFile(path, async () => JSON.stringify(await this.merged(), BufferJSON.replacer), isDiscarded, () => this.committed());
  }

  /** Entries held in memory (the changes not yet on disk). */
  get size(): number {
    return this.pending.size;
  }

  async get(ids: string[]): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    const missing = ids.filter((id) => !this.pending.has(id));
    const onDisk = missing.length ? await this.read() : {};
    for (const id of ids) {
      const v = this.pending.has(id) ? this.pending.get(id) : onDisk[id];
      if (v !== undefined && v !== null) out[id] = v;
    }
    return out;
  }

  set(entries: Record<string, unknown>): Promise<void> {
    for (const [id, v] of Object.entries(entries)) this.pending.set(id, v ?? null);
    return this.file.write();
  }

  private async read(): Promise<Record<string, unknown>> {
    const { BufferJSON } = loadBaileys();
    try {
      return JSON.parse(await fs.readFile(this.path, "utf8"), BufferJSON.reviver) ?? {};
    } catch (err: any) {
      if (err?.code === "ENOENT") return {};
      throw err;
    }
  }

  /** The file's content with the pending changes applied; remembers which changes it carries. */
  private async merged(): Promise<Record<string, unknown>> {
    const all = await this.read();
    this.inWrite = new Map(this.pending);
    for (const [id, v] of this.inWrite) {
      if (v === null) delete all[id];
      else all[id] = v;
    }
    return all;
  }

  /** The changes the last write carried are on disk: drop them (unless changed again meanwhile). */
  private committed(): void {
    for (const [id, v] of this.inWrite ?? []) if (this.pending.get(id) === v) this.pending.delete(id);
    this.inWrite = undefined;
  }
}

export class BaileysAuthStore {
  /** No write is taken any more. */
  private closed = false;
  /** Writes asked for but not yet under way are dropped too (see close()). */
  private discarded = false;
  private readonly dir: string;
  private readonly files = new Map<string, CoalescedFile>();
  creds: any;
  private keys: KeyMap = {};
  private readonly cold = new Map<string, ColdKeys>();

  private constructor(authDir: string) {
    this.dir = path.join(authDir, AUTH_SUBDIR);
  }

  /** Loads the folder's state, or fresh credentials (a new device, to be linked) when there is none. */
  static async open(authDir: string): Promise<BaileysAuthStore> {
    const store = new BaileysAuthStore(authDir);
    const { BufferJSON, initAuthCreds } = loadBaileys();
    const read = async (file: string) => {
      try {
        return JSON.parse(await fs.readFile(path.join(store.dir, file), "utf8"), BufferJSON.reviver);
      } catch (err: any) {
        if (err?.code === "ENOENT") return undefined;
        throw err;
      }
    };
    store.creds = (await read(CREDS_FILE)) ?? initAuthCreds();
    let names: string[] = [];
    try {
      names = await fs.readdir(store.dir);
    } catch (err: any) {
      if (err?.code !== "ENOENT") throw err;
    }
    for (const name of names) {
      const m = /^keys-([a-z0-9-]+)\.json$/.exec(name);
      if (m && !COLD_TYPES.has(m[1])) store.keys[m[1]] = (await read(name)) ?? {};
    }
    return store;
  }

  /** Whether these credentials belong to a linked device (read from disk, no connection). */
  static async linked(authDir: string): Promise<boolean> {
    try {
      const { BufferJSON } = loadBaileys();
      const creds = JSON.parse(await fs.readFile(path.join(authDir, AUTH_SUBDIR, CREDS_FILE), "utf8"), BufferJSON.reviver);
      return Boolean(creds?.me?.id && creds?.account);
    } catch {
      return false;
    }
  }

  get linked(): boolean {
    return Boolean(this.creds?.me?.id && this.creds?.account);
  }

  /** The object Baileys takes as `auth`. */
  state(): { creds: any; keys: { get(type: string, ids: string[]): Promise<Record<string, unknown>>; set(data: KeyMap): Promise<void> } } {
    const { proto } = loadBaileys();
    return {
      creds: this.creds,
      keys: {
        get: async (type, ids) => {
          if (COLD_TYPES.has(type)) return this.coldKeys(type).get(ids);
          const all = this.keys[type] ?? {};
          const out: Record<string, unknown> = {};
          for (const id of ids) {
            let v = all[id];
            if (v === undefined) continue;
            if (type === "app-state-sync-key") v = proto.Message.AppStateSyncKeyData.fromObject(v);
            out[id] = v;
          }
          return out;
        },
        set: async (data) => {
          if (this.closed) return;
          const writes: Promise<void>[] = [];
          for (const [type, entries] of Object.entries(data)) {
            if (!/^[a-z0-9-]+$/.test(type)) continue;
            if (COLD_TYPES.has(type)) {
              writes.push(this.coldKeys(type).set(entries ?? {}));
              continue;
            }
            const all = (this.keys[type] ??= {});
            for (const [id, v] of Object.entries(entries ?? {})) {
              if (v === null || v === undefined) delete all[id];
              else all[id] = v;
            }
            writes.push(this.file(`keys-${type}.json`, () => this.keys[type]).write());
          }
          await Promise.all(writes);
        },
      },
    };
  }

  /** Persists the creds (Baileys mutates the object it was given; `update` is merged first). */
  async saveCreds(update?: object): Promise<void> {
    if (this.closed) return;
    if (update) Object.assign(this.creds, update);
    await this.file(CREDS_FILE, () => this.creds).write();
  }

  /** Whether a group notification (`<group>/<stanza id>`) was heard before, on any connection since the device linked. */
  heardNotification(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.keys[NOTIFICATIONS_TYPE] ?? {}, key);
  }

  /**
   * Notes a group notification as heard (the `keep` latest are remembered, the oldest forgotten first),
   * written like a key (atomic, coalesced); nothing once the store is closed.
   */
  noteNotification(key: string, keep: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    const all = (this.keys[NOTIFICATIONS_TYPE] ??= {});
    // (true, not a number: Baileys' JSON reviver reads an object of numbers under digit-led keys as a Buffer)
    all[key] = true;
    const keys = Object.keys(all);
    for (let i = 0; i < keys.length - keep; i++) delete all[keys[i]];
    return this.file(`keys-${NOTIFICATIONS_TYPE}.json`, () => this.keys[NOTIFICATIONS_TYPE]).write();
  }

  /** How many keys of `type` are held in memory (for a cold type: only those not yet written). */
  keysInMemory(type: string): number {
    return COLD_TYPES.has(type) ? (this.cold.get(type)?.size ?? 0) : Object.keys(this.keys[type] ?? {}).length;
  }

  private coldKeys(type: string): ColdKeys {
    let c = this.cold.get(type);
    if (!c) {
      c = new ColdKeys(path.join(this.dir, `keys-${type}.json`), () => this.discarded);
      this.cold.set(type, c);
      this.files.set(`keys-${type}.json`, c.file);
    }
    return c;
  }

  private file(name: string, value: () => unknown): CoalescedFile {
    let f = this.files.get(name);
    if (!f) {
      const { BufferJSON } = loadBaileys();
      f = new CoalescedFile(path.join(this.dir, name), () => JSON.stringify(value(), BufferJSON.replacer), () => this.discarded);
      this.files.set(name, f);
    }
    return f;
  }

  /** Resolves once the creds written so far are on disk (or their write failed, which is logged where it was asked for). */
  credsWritten(): Promise<void> {
    return this.files.get(CREDS_FILE)?.idle() ?? Promise.resolve();
  }

  /** Resolves once every write asked for so far is on disk (or has failed). */
  async flushed(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.idle()));
  }

  /**
   * Takes no write after this; resolves once the writes asked for before it are on disk. "discard"
   * (the node lost its lease: another node may own the session now) drops those not yet under way.
   */
  async close(mode: "flush" | "discard" = "flush"): Promise<void> {
    this.closed = true;
    if (mode === "discard") this.discarded = true;
    await this.flushed();
  }
}

// The webhook store of embedded mode: the memory store, kept in DATA_DIR so webhook settings and
// delivery records (dead letters with their events) survive a kill -9 or a SIGTERM. Each change is
// on disk before the call resolves: the whole file is rewritten atomically (temp file, fsync,
// rename, fsync of the folder), and changes that arrive during a write share the next one.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { readJsonFile } from "../json-file";
import { DELIVERY_STATUSES, MemoryWebhookStore, type DeliveryRecord, type WebhookConfig } from "./store";

/** A JSON file replaced atomically; writes asked for while one runs are coalesced into one. */
export class AtomicJsonFile<T> {
  private running?: Promise<void>;
  private queued?: Promise<void>;

  constructor(
    readonly file: string,
    /** What to write, read at write time so the newest state goes to disk. */
    private readonly snapshot: () => T,
  ) {}

  /** The stored value, undefined when there is none. A corrupt file is an error, never silently an empty state. */
  async read(): Promise<T | undefined> {
    return readJsonFile<T>(this.file, (err) => {
      throw new Error(`${this.file} is corrupt (${err.message}); move it aside to start without it`, { cause: err });
    });
  }

  /** Resolves once a write that started after this call has reached the disk. */
  save(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return (this.running = this.writeNow().finally(() => (this.running = undefined)));
    const after = this.running.catch(() => undefined);
    this.queued = after.then(() => {
      this.queued = undefined;
      return (this.running = this.writeNow().finally(() => (this.running = undefined)));
    });
    return this.queued;
  }

  private async writeNow(): Promise<void> {
    const dir = path.dirname(this.file);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${randomBytes(6).toString("hex")}`;
    const fh = await fs.open(tmp, "w", 0o600);
    try {
      await fh.writeFile(JSON.stringify(this.snapshot()));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    // the rename itself is durable only once the folder is
    const d = await fs.open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}

interface SavedConfigs {
  version: 1;
  configs: WebhookConfig[];
}

interface SavedDeliveries {
  version: 1;
  /** Oldest update first, as the memory store orders them. */
  records: DeliveryRecord[];
}

/** `<dir>/config.json` (settings, secrets included: mode 0600) and `<dir>/deliveries.json`. */
export class FileWebhookStore extends MemoryWebhookStore {
  private readonly configFile: AtomicJsonFile<SavedConfigs>;
  private readonly deliveryFile: AtomicJsonFile<SavedDeliveries>;

  constructor(readonly dir: string) {
    super();
    this.configFile = new AtomicJsonFile(path.join(dir, "config.json"), () => ({ version: 1, configs: [...this.configs.values()] }));
    this.deliveryFile = new AtomicJsonFile(path.join(dir, "deliveries.json"), () => ({ version: 1, records: [...this.records.values()].flatMap((m) => [...m.values()]) }));
  }

  /** Reads what an earlier run left. Call once, before the store is used. */
  async load(): Promise<this> {
    const configs = await this.configFile.read();
    for (const c of configs?.configs ?? []) if (c && typeof c.workspaceId === "string") this.configs.set(c.workspaceId, c);
    const deliveries = await this.deliveryFile.read();
    for (const r of deliveries?.records ?? []) {
      if (!r || typeof r.workspaceId !== "string" || typeof r.id !== "string" || !DELIVERY_STATUSES.includes(r.status)) continue;
      let m = this.records.get(r.workspaceId);
      if (!m) this.records.set(r.workspaceId, (m = new Map()));
      m.delete(r.id);
      m.set(r.id, r);
    }
    return this;
  }

  override async setConfig(config: WebhookConfig) {
    await super.setConfig(config);
    await this.configFile.save();
  }

  override async removeConfig(workspaceId: string) {
    const removed = await super.removeConfig(workspaceId);
    if (removed) await this.configFile.save();
    return removed;
  }

  override async recordDelivery(record: DeliveryRecord) {
    await super.recordDelivery(record);
    await this.deliveryFile.save();
  }

  override async close() {
    // every change was awaited by its caller; a write still running finishes before exit
    await Promise.all([this.configFile.save(), this.deliveryFile.save()]).catch(() => undefined);
  }
}

// Where webhook configuration and delivery records live: Redis in cluster mode (redis-store.ts),
// memory (below; file-store.ts keeps it in DATA_DIR for embedded mode), one interface. Delivery records are what the deliveries route
// lists: recent successes, events waiting for a retry, and dead letters (which keep the event, so
// they can be replayed).
import type { WafleetEvent } from "../events";

export interface WebhookConfig {
  workspaceId: string;
  url: string;
  /** Event types to deliver; `*` is every type. */
  events: string[];
  /** `whsec_...`; never shown after it is set. */
  secret: string;
  headers: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export type DeliveryStatus = "delivered" | "pending" | "failed";
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["delivered", "pending", "failed"];

export interface DeliveryRecord {
  /** The event's ULID: the `webhook-id` the receiver saw. */
  id: string;
  workspaceId: string;
  sessionId: string;
  event: string;
  status: DeliveryStatus;
  /** Attempts of the current run (a replay starts a new run). */
  attempts: number;
  /** How many times it was replayed from the dead letters. */
  replays: number;
  lastStatus?: number;
  lastError?: string;
  lastResponse?: string;
  durationMs?: number;
  url?: string;
  updatedAt: string;
  /** Kept while the event may still need sending (pending, failed) for replays. */
  payload?: WafleetEvent;
}

/** How many records of each status a workspace keeps (oldest dropped first). */
export const RECORD_CAPS: Record<DeliveryStatus, number> = { delivered: 1000, pending: 10_000, failed: 10_000 };

export interface WebhookStore {
  getConfig(workspaceId: string): Promise<WebhookConfig | undefined>;
  setConfig(config: WebhookConfig): Promise<void>;
  /** False when there was nothing to remove. */
  removeConfig(workspaceId: string): Promise<boolean>;
  /** Upserts the record under its id, moving it to its status's list. */
  recordDelivery(record: DeliveryRecord): Promise<void>;
  getDelivery(workspaceId: string, id: string): Promise<DeliveryRecord | undefined>;
  /** Newest first. */
  listDeliveries(workspaceId: string, status: DeliveryStatus | undefined, limit: number): Promise<DeliveryRecord[]>;
  /** The dead letters (status failed) of every workspace, newest first; `before` (ms) pages back. */
  listDeadLetters(limit: number, before?: number): Promise<DeliveryRecord[]>;
  close(): Promise<void>;
}

const timeOf = (r: DeliveryRecord) => Date.parse(r.updatedAt) || 0;
/** Newest first; ties by workspace and id, newest id first (ULIDs sort by time). */
export const newestFirst = (a: DeliveryRecord, b: DeliveryRecord) => timeOf(b) - timeOf(a) || (a.workspaceId < b.workspaceId ? -1 : a.workspaceId > b.workspaceId ? 1 : 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export class MemoryWebhookStore implements WebhookStore {
  protected readonly configs = new Map<string, WebhookConfig>();
  /** Per workspace: id -> record, in update order (re-inserted on update). */
  protected readonly records = new Map<string, Map<string, DeliveryRecord>>();

  async getConfig(workspaceId: string) {
    const c = this.configs.get(workspaceId);
    return c && structuredClone(c);
  }

  async setConfig(config: WebhookConfig) {
    this.configs.set(config.workspaceId, structuredClone(config));
  }

  async removeConfig(workspaceId: string) {
    return this.configs.delete(workspaceId);
  }

  async recordDelivery(record: DeliveryRecord) {
    let m = this.records.get(record.workspaceId);
    if (!m) this.records.set(record.workspaceId, (m = new Map()));
    m.delete(record.id);
    m.set(record.id, structuredClone(record));
    const same = [...m.values()].filter((r) => r.status === record.status);
    for (let i = 0; i < same.length - RECORD_CAPS[record.status]; i++) m.delete(same[i]!.id);
  }

  async getDelivery(workspaceId: string, id: string) {
    const r = this.records.get(workspaceId)?.get(id);
    return r && structuredClone(r);
  }

  async listDeliveries(workspaceId: string, status: DeliveryStatus | undefined, limit: number) {
    const all = [...(this.records.get(workspaceId)?.values() ?? [])].reverse();
    return all.filter((r) => !status || r.status === status).slice(0, limit).map((r) => structuredClone(r));
  }

  async listDeadLetters(limit: number, before?: number) {
    const all: DeliveryRecord[] = [];
    for (const m of this.records.values()) for (const r of m.values()) if (r.status === "failed" && (before === undefined || timeOf(r) < before)) all.push(r);
    return all.sort(newestFirst).slice(0, limit).map((r) => structuredClone(r));
  }

  async close() {}
}

// The backup job's whole life in one place: a run (snapshot, verify it, apply retention), verify
// on demand, list, restore; one job at a time; what happened last, for metrics and events.
import { readFileSync } from "node:fs";
import path from "node:path";
import { WafleetError } from "../errors";
import type { BlobStore } from "./blob-store";
import { SnapshotCatalog, type SnapshotListing } from "./catalog";
import type { SnapshotManifest } from "./manifest";
import { applyRetention, planRetention, type RetentionPolicy } from "./retention";
import { restoreSnapshot, type RestoreReport, type SessionControl } from "./restore";
import type { CaptureOptions } from "./restore-set";
import { takeSnapshot } from "./snapshot";
import type { BackupKeyring } from "./encryption";
import { verifySnapshot, type VerifyResult } from "./verify";

export interface BackupHooks {
  snapshotSucceeded?(manifest: SnapshotManifest): void;
  snapshotFailed?(error: Error, durationMs: number): void;
  verified?(result: VerifyResult): void;
  pruned?(result: PruneResult): void;
  restored?(report: RestoreReport): void;
}

export interface BackupManagerOptions {
  store: BlobStore;
  sessionsDir: string;
  node: string;
  engine: string;
  retention: RetentionPolicy;
  /** Keys per delete request (at most the store's limit). */
  deleteBatch?: number;
  control: SessionControl;
  logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void };
  hooks?: BackupHooks;
  now?: () => Date;
  capture?: CaptureOptions;
  wafleetVersion?: string;
  /** BACKUP_ENCRYPTION_KEY: snapshots sealed and signed with its first key; restore and verify need one of its keys. */
  keyring?: BackupKeyring;
}

export interface PruneResult {
  kept: number;
  deleted: string[];
  objects: number;
  batches: number;
}

export interface RunResult {
  snapshot: SnapshotManifest;
  verify: VerifyResult;
  prune: PruneResult;
}

export interface BackupStatus {
  target: string;
  running: string | null;
  lastSuccess: { snapshot: string; at: string; durationMs: number; bytes: number; sessions: number } | null;
  lastFailure: { at: string; error: string } | null;
  lastVerify: { snapshot: string; at: string; ok: boolean } | null;
  failures: number;
}

export interface SnapshotSummary {
  id: string;
  time: string;
  complete: boolean;
  verified: boolean;
  objects: number;
  bytes: number;
}

export class BackupManager {
  readonly catalog: SnapshotCatalog;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly state: BackupStatus;
  private readonly now: () => Date;
  private readonly version: string;

  constructor(private readonly opts: BackupManagerOptions) {
    this.catalog = new SnapshotCatalog(opts.store);
    this.now = opts.now ?? (() => new Date());
    this.version = opts.wafleetVersion ?? wafleetVersion();
    this.state = { target: opts.store.description, running: null, lastSuccess: null, lastFailure: null, lastVerify: null, failures: 0 };
  }

  status(): BackupStatus {
    return structuredClone(this.state);
  }

  /** Whether a job is running or queued. */
  get busy(): boolean {
    return this.state.running !== null;
  }

  /**
   * The newest complete and verified snapshot already in the target, taken as the last success
   * when this process has none yet: after a restart the status and the last-success metric (and
   * so a stale-backup alert) start from what the target holds, not from nothing.
   */
  async recallLastSuccess(): Promise<{ manifest: SnapshotManifest; verifiedAt?: string } | undefined> {
    const newest = (await this.catalog.list()).filter((s) => s.complete && s.verified).at(-1);
    if (!newest) return undefined;
    const manifest = await this.catalog.manifest(newest.id);
    const marker = await this.catalog.verifiedMarker(newest.id).catch(() => undefined);
    this.state.lastSuccess ??= { snapshot: manifest.id, at: manifest.finishedAt, durationMs: manifest.durationMs, bytes: manifest.totals.bytes, sessions: manifest.totals.sessions };
    return { manifest, verifiedAt: marker?.verifiedAt };
  }

  /** The scheduled job: snapshot, verify what was written, apply retention. */
  run(): Promise<RunResult> {
    return this.exclusive("snapshot", async () => {
      const t0 = performance.now();
      let snapshot: SnapshotManifest;
      try {
        snapshot = await takeSnapshot({ store: this.opts.store, sessionsDir: this.opts.sessionsDir, node: this.opts.node, engine: this.opts.engine, wafleetVersion: this.version, now: this.now, capture: this.opts.capture, keyring: this.opts.keyring });
      } catch (err) {
        const error = storeError(err, "snapshot");
        const durationMs = Math.round(performance.now() - t0);
        this.state.failures++;
        this.state.lastFailure = { at: this.now().toISOString(), error: error.message };
        this.opts.logger.error(`backup snapshot failed after ${durationMs} ms: ${error.message}`);
        this.opts.hooks?.snapshotFailed?.(error, durationMs);
        throw error;
      }
      this.state.lastSuccess = { snapshot: snapshot.id, at: snapshot.finishedAt, durationMs: snapshot.durationMs, bytes: snapshot.totals.bytes, sessions: snapshot.totals.sessions };
      this.opts.logger.info(`backup snapshot ${snapshot.id}: ${snapshot.totals.workspaces} workspaces, ${snapshot.totals.sessions} sessions, ${snapshot.totals.bytes} bytes in ${snapshot.durationMs} ms`);
      this.opts.hooks?.snapshotSucceeded?.(snapshot);
      const verify = await this.verifyNow(snapshot.id);
      const prune = await this.pruneNow();
      return { snapshot, verify, prune };
    });
  }

  /** Checks a snapshot (default: the newest complete one) against its manifest. */
  verify(snapshotId?: string): Promise<VerifyResult> {
    return this.exclusive("verify", async () => {
      const id = snapshotId ?? (await this.catalog.latest());
      if (!id) throw new WafleetError("SNAPSHOT_NOT_FOUND", "There is no complete snapshot to verify");
      return this.verifyNow(id);
    });
  }

  prune(): Promise<PruneResult> {
    return this.exclusive("prune", () => this.pruneNow());
  }

  async list(): Promise<SnapshotSummary[]> {
    return (await this.catalog.list()).map((s) => ({ id: s.id, time: new Date(s.time).toISOString(), complete: s.complete, verified: s.verified, objects: s.objects, bytes: s.bytes })).reverse();
  }

  manifest(snapshotId: string): Promise<SnapshotManifest> {
    return this.catalog.manifest(snapshotId);
  }

  /** Restores one workspace, or every workspace of the snapshot (disaster recovery). */
  restore(snapshotId: string, workspaceId?: string): Promise<RestoreReport> {
    return this.exclusive("restore", async () => {
      const report = await restoreSnapshot({ store: this.opts.store, catalog: this.catalog, sessionsDir: this.opts.sessionsDir, control: this.opts.control, logger: this.opts.logger, keyring: this.opts.keyring }, snapshotId, workspaceId);
      const n = report.workspaces.reduce((k, w) => k + w.sessions.length, 0);
      this.opts.logger.info(`restored ${n} sessions of ${report.workspaces.length} workspaces from ${snapshotId} in ${report.durationMs} ms`);
      this.opts.hooks?.restored?.(report);
      return report;
    });
  }

  private async verifyNow(id: string): Promise<VerifyResult> {
    const result = await verifySnapshot(this.opts.store, this.catalog, id, this.opts.node, this.now, this.opts.keyring);
    this.state.lastVerify = { snapshot: id, at: result.checkedAt, ok: result.ok };
    if (!result.ok) this.opts.logger.error(`backup verify of ${id} FAILED: ${result.archives.filter((a) => !a.ok).map((a) => `${a.workspaceId}: ${a.error}`).join("; ")}`);
    this.opts.hooks?.verified?.(result);
    return result;
  }

  private async pruneNow(): Promise<PruneResult> {
    const all: SnapshotListing[] = await this.catalog.list();
    const plan = planRetention(all, this.opts.retention);
    const applied = await applyRetention(this.opts.store, plan.remove, this.opts.deleteBatch);
    const result: PruneResult = { kept: plan.keep.length, deleted: plan.remove.map((s) => s.id), objects: applied.objects, batches: applied.batches };
    if (result.deleted.length) this.opts.logger.info(`backup retention: deleted ${result.deleted.length} snapshots (${result.objects} objects, ${result.batches} batches), kept ${result.kept}`);
    this.opts.hooks?.pruned?.(result);
    return result;
  }

  private exclusive<T>(job: string, op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      this.state.running = job;
      try {
        return await op();
      } finally {
        this.state.running = null;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** A failure of the store or the source folder, as a stable error. */
function storeError(err: unknown, what: string): WafleetError {
  if (err instanceof WafleetError) return err;
  const e = err as Error & { name?: string };
  return new WafleetError("BACKUP_FAILED", `The ${what} failed: ${e?.name && e.name !== "Error" ? `${e.name}: ` : ""}${e?.message ?? String(err)}`);
}

let cachedVersion: string | undefined;
/** wafleet's version from its package.json (found upwards from this file, in src or dist). */
export function wafleetVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
      if (pkg?.name === "wafleet") return (cachedVersion = String(pkg.version));
    } catch {
      // not here
    }
    dir = path.dirname(dir);
  }
  return (cachedVersion = "unknown");
}

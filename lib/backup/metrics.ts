// Backup metrics as wafleet_backup_* in Moleculer's registry, when the broker has metrics enabled.
/** The slice of Moleculer's MetricRegistry used here. */
export interface MetricRegistryLike {
  register(opts: { type: string; name: string; description?: string; labelNames?: string[]; unit?: string }): unknown;
  increment(name: string, labels?: Record<string, string>, value?: number): void;
  set(name: string, value: number, labels?: Record<string, string>): void;
}

export const BACKUP_METRIC = {
  lastSuccess: "wafleet_backup_last_success_timestamp_seconds",
  lastDuration: "wafleet_backup_last_duration_seconds",
  lastBytes: "wafleet_backup_last_size_bytes",
  lastSessions: "wafleet_backup_last_sessions",
  failures: "wafleet_backup_failures_total",
  verifyOk: "wafleet_backup_verify_ok",
  lastVerify: "wafleet_backup_last_verify_timestamp_seconds",
  snapshots: "wafleet_backup_snapshots_kept",
} as const;

export class BackupMetrics {
  constructor(private readonly registry?: MetricRegistryLike) {
    if (!registry) return;
    registry.register({ type: "gauge", name: BACKUP_METRIC.lastSuccess, description: "When the last snapshot completed (unix seconds)", unit: "seconds" });
    registry.register({ type: "gauge", name: BACKUP_METRIC.lastDuration, description: "How long the last successful snapshot took", unit: "seconds" });
    registry.register({ type: "gauge", name: BACKUP_METRIC.lastBytes, description: "Total archive bytes of the last snapshot", unit: "bytes" });
    registry.register({ type: "gauge", name: BACKUP_METRIC.lastSessions, description: "Sessions in the last snapshot" });
    registry.register({ type: "counter", name: BACKUP_METRIC.failures, description: "Snapshots that failed (store or sessions folder errors)" });
    registry.register({ type: "gauge", name: BACKUP_METRIC.verifyOk, description: "1 if the last verify found every archive intact, 0 if not" });
    registry.register({ type: "gauge", name: BACKUP_METRIC.lastVerify, description: "When the last verify ran (unix seconds)", unit: "seconds" });
    registry.register({ type: "gauge", name: BACKUP_METRIC.snapshots, description: "Snapshots kept after the last retention run" });
    // at 0 from the start: increase() misses the first failure of a series that appears with it
    registry.increment(BACKUP_METRIC.failures, undefined, 0);
  }

  succeeded(atMs: number, durationMs: number, bytes: number, sessions: number): void {
    this.registry?.set(BACKUP_METRIC.lastSuccess, Math.floor(atMs / 1000));
    this.registry?.set(BACKUP_METRIC.lastDuration, durationMs / 1000);
    this.registry?.set(BACKUP_METRIC.lastBytes, bytes);
    this.registry?.set(BACKUP_METRIC.lastSessions, sessions);
  }

  failed(): void {
    this.registry?.increment(BACKUP_METRIC.failures);
  }

  verified(ok: boolean, atMs: number): void {
    this.registry?.set(BACKUP_METRIC.verifyOk, ok ? 1 : 0);
    this.registry?.set(BACKUP_METRIC.lastVerify, Math.floor(atMs / 1000));
  }

  kept(n: number): void {
    this.registry?.set(BACKUP_METRIC.snapshots, n);
  }
}

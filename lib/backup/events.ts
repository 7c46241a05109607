// Backup events, broadcast by the backup service. Every payload also carries id (ULID), node and
// timestamp, like the session events of lib/events.
export const BACKUP_EVENTS = {
  /** {snapshot, durationMs, totals} */
  succeeded: "wa.backup.succeeded",
  /** {error, durationMs}: the store or the sessions folder failed; the next run tries again. */
  failed: "wa.backup.failed",
  /** {snapshot, ok, archives[]}: the verify job's result. */
  verified: "wa.backup.verified",
  /** {snapshot, workspaces[]} */
  restored: "wa.backup.restored",
} as const;

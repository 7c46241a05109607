// `backup` role: scheduled snapshots of session storage (BACKUP_CRON, hourly by default) to
// BACKUP_TARGET, verify, retention and restore as actions. Its own node in a cluster (with the
// shared sessions folder mounted), in-process in embedded mode. Logic lives in lib/backup.
import { BackupKeyring, parseBackupKeys } from "../lib/backup/encryption";
import type { Context, ServiceSchema } from "moleculer";
import { Cron } from "croner";
import { ulid } from "../lib/ids";
import type { Config } from "../lib/config";
import type { BlobStore } from "../lib/backup/blob-store";
import { BackupManager, type BackupHooks } from "../lib/backup/manager";
import { BackupMetrics, type MetricRegistryLike } from "../lib/backup/metrics";
import { BACKUP_EVENTS } from "../lib/backup/events";
import type { SessionControl } from "../lib/backup/restore";
import { openBackupTarget } from "../lib/backup/target";
import type { RetentionPolicy } from "../lib/backup/retention";
import { backupEmptyParams, restoreParams, snapshotParams, verifyParams } from "../lib/backup/params";

export interface BackupServiceDeps {
  config: Config;
  /** A store to use instead of the one BACKUP_TARGET names (tests). */
  store?: BlobStore;
  /** The clock for snapshot times (tests simulate days of snapshots). */
  now?: () => Date;
  /** Retention instead of BACKUP_KEEP_HOURLY / BACKUP_KEEP_DAILY. */
  retention?: RetentionPolicy;
  /** Keys per delete request. Default: the store's limit (1000 for S3). */
  deleteBatch?: number;
  /** false: no cron schedule (snapshots only through backup.now). Default true. */
  schedule?: boolean;
}


export default function backupService({ config, store, now, retention, deleteBatch, schedule = true }: BackupServiceDeps): ServiceSchema {
  let manager: BackupManager;
  let cron: Cron | undefined;
  let blobs: BlobStore;
  let metrics: BackupMetrics;
  /** A snapshot of this process succeeded: newer than anything recalled from the target. */
  let succeededHere = false;

  return {
    name: "backup",

    actions: {
      /** Takes a snapshot now, verifies it and applies retention (what the schedule runs). */
      now: {
        params: backupEmptyParams,
        async handler() {
          const r = await manager.run();
          return { snapshot: r.snapshot.id, createdAt: r.snapshot.createdAt, durationMs: r.snapshot.durationMs, totals: r.snapshot.totals, verified: r.verify.ok, pruned: r.prune.deleted.length };
        },
      },
      /** Snapshots, newest first (incomplete ones flagged complete: false). */
      list: {
        params: backupEmptyParams,
        handler() {
          return manager.list();
        },
      },
      /** A snapshot's manifest. */
      get: {
        params: snapshotParams,
        handler(ctx: Context<{ snapshot: string }>) {
          return manager.manifest(ctx.params.snapshot);
        },
      },
      /** Checks every archive of a snapshot (default: the newest) against its manifest. */
      verify: {
        params: verifyParams,
        handler(ctx: Context<{ snapshot?: string }>) {
          return manager.verify(ctx.params.snapshot);
        },
      },
      /** Restores one workspace, or all the snapshot holds (disaster recovery) when none is named. */
      restore: {
        params: restoreParams,
        handler(ctx: Context<{ snapshot: string; workspaceId?: string }>) {
          return manager.restore(ctx.params.snapshot, ctx.params.workspaceId);
        },
      },
      /** Applies retention now. */
      prune: {
        handler() {
          return manager.prune();
        },
      },
      status: {
        handler() {
          return { ...manager.status(), cron: config.backupCron, scheduled: cron ? (cron.nextRun()?.toISOString() ?? null) : null };
        },
      },
    },

    created() {
      const target = config.backupTarget || `file://${config.dataDir}/backups`;
      blobs = store ?? openBackupTarget(target, { s3Endpoint: config.s3Endpoint, partSize: config.backupPartSize, s3Sse: config.backupS3Sse, s3KmsKeyId: config.backupS3KmsKeyId });
      const node = this.broker.nodeID;
      const emit = (event: string, payload: Record<string, unknown>) => {
        Promise.resolve(this.broker.broadcast(event, { id: ulid(), node, timestamp: new Date().toISOString(), ...payload })).catch((err: Error) => this.logger.warn(`could not publish ${event}: ${err.message}`));
      };
      metrics = new BackupMetrics(this.broker.isMetricsEnabled() ? (this.broker.metrics as unknown as MetricRegistryLike) : undefined);
      const hooks: BackupHooks = {
        snapshotSucceeded: (m) => {
          succeededHere = true;
          metrics.succeeded(Date.parse(m.finishedAt), m.durationMs, m.totals.bytes, m.totals.sessions);
          emit(BACKUP_EVENTS.succeeded, { snapshot: m.id, durationMs: m.durationMs, totals: m.totals });
        },
        snapshotFailed: (err, durationMs) => {
          metrics.failed();
          emit(BACKUP_EVENTS.failed, { error: err.message, durationMs });
        },
        verified: (r) => {
          metrics.verified(r.ok, Date.parse(r.checkedAt));
          emit(BACKUP_EVENTS.verified, { snapshot: r.snapshot, ok: r.ok, archives: r.archives });
        },
        pruned: (r) => metrics.kept(r.kept),
        restored: (r) => emit(BACKUP_EVENTS.restored, { snapshot: r.snapshot, workspaces: r.workspaces.map((w) => ({ workspaceId: w.workspaceId, sessions: w.sessions.length })) }),
      };
      const callOpts = { timeout: config.engineStartTimeoutMs + 30_000 };
      const control: SessionControl = {
        list: (workspaceId) => this.broker.call("sessions.list", { workspaceId }, callOpts) as Promise<Array<{ sessionId: string; status: string; desired: string }>>,
        stop: (workspaceId, sessionId) => this.broker.call("sessions.stop", { workspaceId, sessionId }, callOpts),
        start: (workspaceId, sessionId) => this.broker.call("sessions.start", { workspaceId, sessionId }, callOpts),
        reload: (workspaceId, sessionId) => this.broker.call("sessions.reload", { workspaceId, sessionId }, callOpts),
      };
      manager = new BackupManager({
        store: blobs,
        sessionsDir: config.sessionsDir,
        node,
        engine: config.engine,
        retention: retention ?? { keepHourly: config.backupKeepHourly, keepDaily: config.backupKeepDaily },
        deleteBatch,
        control,
        logger: this.logger,
        hooks,
        now,
        keyring: config.backupEncryptionKey ? new BackupKeyring(parseBackupKeys(config.backupEncryptionKey)) : undefined,
      });
      if (!config.backupTarget) this.logger.warn(`BACKUP_TARGET is not set: snapshots go to ${target}, on the same disk as the sessions. Set BACKUP_TARGET=s3://bucket/prefix for disaster recovery.`);
    },

    started() {
      // the last success from the target, so WafleetBackupStale can fire after a restart too
      void manager
        .recallLastSuccess()
        .then((last) => {
          if (!last || succeededHere) return;
          metrics.succeeded(Date.parse(last.manifest.finishedAt), last.manifest.durationMs, last.manifest.totals.bytes, last.manifest.totals.sessions);
          if (last.verifiedAt) metrics.verified(true, Date.parse(last.verifiedAt));
          this.logger.info(`backup: last verified snapshot in the target is ${last.manifest.id} (${last.manifest.finishedAt})`);
        })
        .catch((err: Error) => this.logger.warn(`backup: cannot read the target's snapshots at start: ${err.message}`));
      if (!schedule) return;
      // protect: a run still going when the next tick comes is not doubled (the tick is skipped)
      cron = new Cron(config.backupCron, { protect: true, catch: true, name: "wafleet-backup" }, async () => {
        await manager.run().catch(() => undefined); // reported through the failed hook, the log and the metric
      });
      this.logger.info(`backup: snapshots of ${config.sessionsDir} to ${blobs.description} on '${config.backupCron}' (next ${cron.nextRun()?.toISOString() ?? "never"})`);
    },

    async stopped() {
      cron?.stop();
      await blobs?.close?.();
    },
  };
}

#!/usr/bin/env node
// wafleet's entry point: one broker hosting the roles in SERVICES. With no TRANSPORTER this is
// embedded mode: every role in one process, and the simulated WhatsApp network in-process too.
import { promises as fs } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { buildBrokerOptions } from "../moleculer.config";
import { loadAdminKeys } from "../lib/api/keys";
import { ConfigError, loadConfig, type Config, type Role } from "../lib/config";
import { natsConnectionOptions, redisConnectionOptions } from "../lib/config/connections";
import { createEngineSet } from "../lib/engines";
import { asyncContextFrameEnabled, nodeFlags } from "../lib/node-flags";
import { sweepOrphanChromium } from "../lib/engines/wwebjs/chromium";
import { startSimNetwork } from "../lib/simulator/network";
import { DataDirLockedError, lockDataDir } from "../lib/sessions/data-dir-lock";
import { createClusterRuntime } from "../lib/placement/runtime";
import { OpsReporter, Readiness } from "../lib/ops/ops-server";
import healthService from "../services/health.service";
import apiService from "../services/api.service";
import backupService from "../services/backup.service";
import placementService from "../services/placement.service";
import sessionsService from "../services/sessions.service";
import webhooksService from "../services/webhooks.service";
import type { EventLog, RejectedEvent } from "../lib/events/log";
import { openMediaStore } from "../lib/media/target";
import type { MediaStore } from "../lib/media/store";
import { M, registerEventLogMetrics, type MetricRegistryLike } from "../lib/ops/metrics";
import { openFileEventLog } from "../lib/events/log-file";
import { JetStreamEventLog } from "../lib/events/log-jetstream";
import { FileWebhookStore } from "../lib/webhooks/file-store";
import { MemoryWebhookStore } from "../lib/webhooks/store";
import { RedisWebhookStore } from "../lib/webhooks/redis-store";

async function main(config: Config): Promise<void> {
  await fs.mkdir(config.dataDir, { recursive: true });
  // embedded mode has no directory of leases: one process per DATA_DIR is what keeps a session on one node
  const dataDirLock = config.embedded
    ? await lockDataDir(config.dataDir, {
        onCompromised: (err) => {
          process.stderr.write(`wafleet: lost the lock of DATA_DIR ${config.dataDir} (${err.message}); stopping so that no two processes run the same sessions\n`);
          process.exit(75);
        },
      })
    : undefined;
  // the ops endpoint (OPS_PORT): /metrics, /healthz, /readyz (and /health on the health node)
  const readiness = new Readiness();
  const reporter = new OpsReporter({ port: config.opsPort, host: config.opsHost }, readiness);
  const broker = new ServiceBroker(buildBrokerOptions(config, { reporter }));
  const log = broker.getLogger("wafleet");
  const closers: Array<() => Promise<void>> = [];
  // the ownership directory and its in-memory view: session nodes own through it, every caller of
  // sessions.* routes by it (the Workspace strategy reads the view)
  // (backup calls sessions.* to stop and start the sessions a restore touches)
  // (health reads it to tell a dead node that is gone for good from one that is unreachable)
  const needsDirectory = ["sessions", "api", "backup", "health"].some((r) => config.services.includes(r as Role));
  const cluster = needsDirectory ? createClusterRuntime(config, (err) => log.warn(`directory: ${err.message}`)) : undefined;
  if (!config.embedded) readiness.add("transporter", () => ((broker as any).transit?.connected ? { ok: true } : { ok: false, detail: "not connected to NATS" }));
  if (cluster && config.redisUrl) {
    readiness.add("redis", async () => {
      await cluster.directory.ping();
      return { ok: true };
    });
  }
  if (cluster && config.services.includes("sessions")) readiness.add("lease", () => (cluster.lease?.valid() ? { ok: true } : { ok: false, detail: "this node holds no valid cluster lease" }));
  if (config.services.includes("api")) {
    readiness.add("api", () => ((broker.getLocalService("api") as any)?.server?.listening ? { ok: true } : { ok: false, detail: "the REST API is not listening" }));
  }
  if (cluster) {
    await cluster.view.start();
    closers.push(async () => {
      cluster.view.stop();
      await cluster.directory.close();
    });
  }

  // the event log: session nodes append, webhooks nodes consume (memory in embedded mode, JetStream
  // on the transporter's NATS in cluster mode)
  let eventLog: EventLog | undefined;
  if (config.services.includes("sessions") || config.services.includes("webhooks")) {
    const metrics = broker.isMetricsEnabled() ? (broker.metrics as unknown as MetricRegistryLike) : undefined;
    if (metrics) registerEventLogMetrics(metrics);
    const onRejected = (r: RejectedEvent) => metrics?.increment(M.eventLogRejected, { event: r.event });
    // embedded: the memory log with a journal in DATA_DIR, so undelivered events survive a kill -9
    if (config.embedded) eventLog = await openFileEventLog(path.join(config.dataDir, "events"), { maxEventBytes: config.eventMaxBytes, onRejected, logger: log, onError: (err) => log.warn(`event log: ${err.message}`) });
    else {
      const js = new JetStreamEventLog({
        connection: natsConnectionOptions(config),
        maxAgeMs: config.eventLogMaxAgeMs,
        maxBytes: config.eventLogMaxBytes,
        replicas: config.eventLogReplicas,
        ackWaitMs: config.webhookAckWaitMs,
        maxEventBytes: config.eventMaxBytes,
        onRejected,
        name: `wafleet-${config.nodeId}`,
        logger: log,
      });
      js.start().catch((err: Error) => log.warn(`event log: ${err.message}`));
      eventLog = js;
    }
    const l = eventLog;
    closers.push(() => l.close());
  }

  // the media store (MEDIA_TARGET): session nodes write received media and read uploads to send;
  // gateways stream uploads in and downloads out
  let media: MediaStore | undefined;
  if (config.services.includes("sessions") || config.services.includes("api")) {
    const m = openMediaStore(config.mediaTarget, { s3Endpoint: config.s3Endpoint, partSize: config.backupPartSize, maxBytes: Math.max(config.mediaMaxBytes, config.apiMediaMaxBytes), logger: log });
    media = m;
    closers.push(() => m.close());
  }

  // the simulated network the sessions talk to: WA_SIM_URL, or the embedded one started below
  let simUrl = config.simUrl;
  if (config.services.includes("sessions")) {
    if ((config.engine === "simulator" || config.engines?.includes("simulator")) && !simUrl) {
      const sim = await startSimNetwork({
        port: config.simPort,
        host: "127.0.0.1",
        keepaliveMs: config.simKeepaliveMs,
        qrRotateMs: config.simQrRotateMs,
        stateFile: path.join(config.dataDir, "simnet", "state.json"),
        log: (level: "info" | "warn" | "error", msg: string) => log[level](`[sim] ${msg}`),
      });
      simUrl = sim.url;
      closers.push(() => sim.close());
      log.info(`Simulated WhatsApp network listening on ${sim.url} (admin API under ${sim.url}/sim)`);
    }
    const engineSet = createEngineSet(config, simUrl);
    log.info(`engines installed: ${[...engineSet.engines.keys()].join(", ")} (default ${config.engine})`);
    if (engineSet.engines.has("baileys")) {
      // Baileys makes an AsyncLocalStorage per socket: on async hooks each promise visits them all
      const flags = nodeFlags();
      if (asyncContextFrameEnabled()) log.info("AsyncLocalStorage: AsyncContextFrame (a promise costs the same with any number of baileys sessions)");
      else
        log.warn(
          `AsyncLocalStorage: async hooks on Node ${process.versions.node}, so every promise costs O(baileys sessions this process has started): ` +
            (flags.length ? `start the node with ${flags.join(" ")} (npm start and the container's entry point do)` : "use Node 22.7 or later"),
        );
    }
    if (engineSet.engines.has("wwebjs")) {
      // browsers a killed run of this node left behind still hold session profiles: end them first
      const orphans = await sweepOrphanChromium(config.sessionsDir);
      if (orphans.length) log.warn(`killed ${orphans.length} orphaned Chromium browsers left under ${config.sessionsDir} (pids ${orphans.map((o) => o.pid).join(", ")})`);
    }
    broker.createService(sessionsService({ config, engineFactory: engineSet.default, engines: engineSet.engines, cluster: cluster!, eventLog, media }));
    broker.createService(placementService({ config, cluster: cluster! }));
  }
  if (config.services.includes("api")) {
    const keys = await loadAdminKeys(config.apiKeyHashes, config.dataDir);
    if (keys.generated) {
      // shown once: only its hash is kept
      process.stdout.write(
        `\n  No API_KEYS set: generated an admin API key. It is shown only now; store it safely.\n\n    ${keys.generated}\n\n  (its sha256 is kept in ${keys.file})\n\n`,
      );
    }
    broker.createService(apiService({ config, keys, simUrl, media }));
  }
  if (config.services.includes("backup")) broker.createService(backupService({ config }));
  if (config.services.includes("health")) broker.createService(healthService({ config, reporter, cluster }));

  if (config.services.includes("webhooks")) {
    // embedded: settings and delivery records in DATA_DIR (they must survive restarts like the API keys)
    const store = config.redisUrl
      ? new RedisWebhookStore({ url: config.redisUrl, prefix: config.redisPrefix, redisOptions: redisConnectionOptions(config) })
      : config.embedded
        ? await new FileWebhookStore(path.join(config.dataDir, "webhooks")).load()
        : new MemoryWebhookStore();
    if (!config.embedded && !config.redisUrl) log.warn("webhooks: no REDIS_URL, so webhook configuration and dead letters live in this process only; set REDIS_URL when running more than one webhooks node");
    closers.push(() => store.close());
    broker.createService(webhooksService({ config, eventLog: eventLog!, store }));
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    try {
      if (cluster?.coordinator && !config.embedded) {
        // hand this node's workspaces to the others before leaving (zero downtime beyond the handoff)
        const started = Date.now();
        const r: any = await broker.call("placement.drain", { node: broker.nodeID }, { timeout: 130_000 }).catch((err: Error) => log.warn(`drain before stop failed: ${err.message}`));
        if (r) log.info(`drained in ${Date.now() - started} ms: ${r.moved?.length ?? 0} workspaces handed off, ${r.remaining ?? 0} left`);
      }
      await broker.stop();
      for (const close of closers) await close();
      await dataDirLock?.release();
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  // one session's failure must never take down a node holding hundreds
  process.on("unhandledRejection", (reason) => log.error("unhandled rejection (contained):", reason));

  await broker.start();
  log.info(`wafleet ${config.embedded ? "embedded" : "cluster"} node ${broker.nodeID} up: roles ${config.services.join(", ")}, engine ${config.engine}, data ${config.dataDir}`);
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
  throw err;
}
main(config).catch((err) => {
  if (err instanceof DataDirLockedError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(73);
  }
  process.stderr.write(`wafleet failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

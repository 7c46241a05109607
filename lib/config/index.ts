// Typed configuration: the environment is read once, validated with fastest-validator, and turned
// into one Config object. A bad value stops the process at start with the variable named.
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import Validator from "fastest-validator";
import { ConfigError } from "./error";
import { natsConnectionOptions, redactUrl, redisConnectionOptions } from "./connections";
import { parseBackupKeys } from "../backup/encryption";
import { parseEngineWeights } from "../engines/weights";

export const ROLES = ["sessions", "api", "webhooks", "health", "backup"] as const;
export type Role = (typeof ROLES)[number];
export const ENGINES = ["simulator", "wwebjs", "baileys"] as const;
export type EngineName = (typeof ENGINES)[number];
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** Roles this process hosts (SERVICES). */
  services: Role[];
  nodeId: string;
  /** Empty = embedded mode (one process, no transporter). */
  transporter: string;
  /** NATS_CA: PEM file of the CA of the NATS servers' certificates (implies TLS); empty = none. */
  natsCa: string;
  /** NATS_CREDS: a NATS creds file or an nkey seed file; empty = none (or credentials in TRANSPORTER). */
  natsCreds: string;
  redisUrl: string;
  /** REDIS_CA: PEM file of the CA of Redis's certificate (rediss://). */
  redisCa: string;
  /** REDIS_PASSWORD: Redis's password when REDIS_URL carries none (kept out of every message). */
  redisPassword: string;
  embedded: boolean;
  dataDir: string;
  sessionsDir: string;
  engine: EngineName;
  /**
   * WA_ENGINES: the engines this node's sessions may run (`engine` at create), WA_ENGINE among them;
   * undefined = every engine the node can run (lib/engines: baileys always, wwebjs with an
   * executable Chromium, the simulator with a simulated network).
   */
  engines: EngineName[] | undefined;
  /** A separate simulated network; empty = start one in-process (embedded, simulator engine). */
  simUrl: string;
  simPort: number;
  simKeepaliveMs: number;
  simQrRotateMs: number;
  /** Where `npm run sim` listens (WA_SIM_HOST); the in-process network is always on loopback. */
  simHost: string;
  /** `npm run sim` keeps linked devices in this file across restarts (WA_SIM_STATE_FILE); empty = in memory. */
  simStateFile: string;
  chromePath: string;
  /** Chromium flags for the wwebjs engine (CHROME_ARGS, whitespace-separated); empty = the measured lean set. */
  chromeArgs: string;
  /** Chromium's own sandbox: auto (on unless root), on, off (CHROME_SANDBOX). */
  chromeSandbox: "auto" | "on" | "off";
  maxSessionsPerInstance: number;
  /**
   * ENGINE_WEIGHTS over lib/engines/weights.ts's defaults: what one session of each engine costs
   * relative to the others; MAX_SESSIONS_PER_INSTANCE counts sessions of WA_ENGINE.
   */
  engineWeights: Record<string, number>;
  /** The browser launch queue (wwebjs): starts at once and their spacing (LAUNCH_CONCURRENCY, LAUNCH_STAGGER_MS). */
  launchConcurrency: number;
  launchStaggerMs: number;
  /** The socket launch queue (baileys, simulator): LAUNCH_CONCURRENCY_SOCKET, LAUNCH_STAGGER_SOCKET_MS. */
  launchConcurrencySocket: number;
  launchStaggerSocketMs: number;
  engineStartTimeoutMs: number;
  /** How long a send to a STARTING session (its engine connecting after a move, a failover or a drop) waits for WORKING before SESSION_NOT_READY (0 = refuse at once). */
  sendReadyWaitMs: number;
  leaseTtlMs: number;
  /** How long past a dead node's lease expiry the coordinator waits before reassigning its workspaces. */
  takeoverMarginMs: number;
  /** At most this many workspace handoffs in flight during a rebalance or drain. */
  rebalanceConcurrency: number;
  moveWaitMs: number;
  /** Key prefix for everything wafleet keeps in Redis. */
  redisPrefix: string;
  /** Per-node ops endpoint: /healthz, /readyz, /metrics (Prometheus), and /health on the health node. 0 = a free port. */
  opsHost: string;
  opsPort: number;
  /** A session whose engine uses more than this is restarted by the watchdog (0 = off). */
  sessionMaxMemoryBytes: number;
  watchdogIntervalMs: number;
  /** Above this share of the node's memory limit it takes no new sessions (at_capacity). */
  nodeMemoryWatermark: number;
  /** How often the health service polls the session nodes. */
  healthPollMs: number;
  apiHost: string;
  apiPort: number;
  /** sha256 hex digests of the admin keys from API_KEYS (plain keys are hashed on read). */
  apiKeyHashes: string[];
  backupTarget: string;
  /** Where media lives: s3://bucket/prefix or file:///absolute/path (default file://$DATA_DIR/media). */
  mediaTarget: string;
  /** Media older than this many days is deleted by the sweeper (0 = kept until its session goes). */
  mediaRetentionDays: number;
  /** The largest received media stored (an engine's download above it is not stored; the event says so). */
  mediaMaxBytes: number;
  /** How often the media sweeper runs, ms. */
  mediaSweepIntervalMs: number;
  /** Events' media descriptors carry a presigned S3 URL valid this many seconds (0 = none; S3 stores only). */
  mediaPresignSeconds: number;
  backupCron: string;
  s3Endpoint: string;
  /** Retention: the newest snapshot of each of the last N hours, then of each of N days before them. */
  backupKeepHourly: number;
  backupKeepDaily: number;
  /** Multipart part size of S3 uploads, bytes (S3's minimum is 5 MiB). */
  backupPartSize: number;
  /** BACKUP_ENCRYPTION_KEY: `id:base64[,id:base64]`, the first seals new snapshots (never shown in errors); empty = not sealed. */
  backupEncryptionKey: string;
  /** S3 server-side encryption of backup objects. */
  backupS3Sse: "AES256" | "aws:kms" | "none";
  backupS3KmsKeyId: string;
  logLevel: LogLevel;
  /** Webhooks may target private, loopback and link-local addresses (tests, on-premises receivers). */
  webhookAllowPrivate: boolean;
  webhookTimeoutMs: number;
  /** Delivery attempts per event, the first included, before it is dead-lettered. */
  webhookMaxAttempts: number;
  /** Delay before the second attempt; each later one is 3x longer, up to webhookBackoffMaxMs (with jitter). */
  webhookBackoffMs: number;
  webhookBackoffMaxMs: number;
  /** Deliveries one webhooks node works on at once. */
  webhookConcurrency: number;
  /** How long a delivery held by a process that died waits before another process gets it. */
  webhookAckWaitMs: number;
  /** Event log retention: age and size of the JetStream stream (oldest discarded first). */
  eventLogMaxAgeMs: number;
  eventLogMaxBytes: number;
  /** JetStream replicas of the event stream (3 on a clustered NATS). */
  eventLogReplicas: number;
  /** The largest encoded event the event log accepts; larger ones are refused (EVENT_TOO_LARGE). */
  eventMaxBytes: number;
  /** Requests per key per apiRateWindowMs (0 = no limit). */
  apiRateLimit: number;
  apiRateWindowMs: number;
  /** Failed authentications per client address per apiRateWindowMs before that address gets 429 (0 = off). */
  apiAuthFailureLimit: number;
  /** Proxies in front of the gateway whose X-Forwarded-For entries are believed (0 = the socket's peer). */
  apiTrustedProxyHops: number;
  /** Largest JSON body on ordinary routes, bytes (message routes allow base64 media up to apiMediaMaxBytes). */
  apiBodyLimit: number;
  /** Deepest nesting of objects and arrays accepted in a body. */
  apiJsonMaxDepth: number;
  /** Largest media a message may carry (decoded bytes), inline or fetched from media.url. */
  apiMediaMaxBytes: number;
  /** CURSOR_SECRET: the key list cursors are signed with, the same on every node ("" = a built-in key: integrity-checked, but forgeable by whoever reads the source). */
  cursorSecret: string;
  apiMediaFetchTimeoutMs: number;
  /** media.url may point at private, loopback and link-local addresses. */
  apiMediaAllowPrivate: boolean;
  /** The api role serves the operator dashboard at `/` (API_DASHBOARD; default true). */
  apiDashboard: boolean;
  /** How long an Idempotency-Key is remembered. */
  apiIdempotencyTtlMs: number;
  /** Connections one gateway holds at once; more are dropped on accept (server.maxConnections). */
  apiMaxConnections: number;
  /** A client gets this long to send a request's headers, then 408. */
  apiHeadersTimeoutMs: number;
  /** A client gets this long to send a whole request (headers and body), then 408. */
  apiRequestTimeoutMs: number;
  /** A body that sends no byte for this long gets 408. */
  apiBodyIdleTimeoutMs: number;
  /** JSON bodies above API_BODY_LIMIT (media) one gateway holds in memory at once; more wait, then 503. */
  apiMaxLargeBodies: number;
  /** media.url fetches one gateway runs at once; more wait, then 503 GATEWAY_BUSY. */
  apiMediaFetchConcurrency: number;
  /** Event streams one key may hold open on one gateway (0 = no limit); more get 429 TOO_MANY_STREAMS. */
  apiStreamsPerKey: number;
  /** Event streams one gateway holds open at once (0 = no limit). */
  apiStreamsMax: number;
  /** A stream whose client leaves more than this many bytes unread is dropped. */
  apiStreamMaxBufferBytes: number;
}

export { ConfigError };

type Env = Record<string, string | undefined>;

const num = (min: number, max: number) => ({ type: "number", integer: true, min, max, convert: true, optional: true }) as const;

const schema = {
  NODE_ID: { type: "string", pattern: /^[A-Za-z0-9._-]{1,64}$/, optional: true, messages: { stringPattern: "expected 1-64 characters of A-Z a-z 0-9 . _ -" } },
  TRANSPORTER: { type: "string", pattern: /^((nats|tls):\/\/.+)?$/, optional: true, messages: { stringPattern: "expected a NATS URL like nats://127.0.0.1:4222 or tls://nats:4222 (a comma list for several servers), or empty for embedded mode" } },
  NATS_CA: { type: "string", optional: true },
  NATS_CREDS: { type: "string", optional: true },
  REDIS_URL: { type: "string", pattern: /^(rediss?:\/\/.+)?$/, optional: true, messages: { stringPattern: "expected redis://host:port[/db] or rediss:// (TLS), or empty" } },
  REDIS_CA: { type: "string", optional: true },
  REDIS_PASSWORD: { type: "string", optional: true },
  WA_ENGINE: { type: "enum", values: [...ENGINES], optional: true },
  ENGINE_WEIGHTS: { type: "string", optional: true },
  WA_ENGINES: { type: "string", pattern: new RegExp(`^\\s*(${ENGINES.join("|")})\\s*(,\\s*(${ENGINES.join("|")})\\s*)*$`), optional: true, messages: { stringPattern: `expected a comma list of engines among ${ENGINES.join(", ")}` } },
  WA_SIM_URL: { type: "string", pattern: /^(https?:\/\/[^\s/]+\/?)?$/, optional: true, messages: { stringPattern: "expected http://host:port of a simulated network, or empty" } },
  WA_SIM_PORT: num(0, 65535),
  WA_SIM_KEEPALIVE_MS: num(100, 600_000),
  WA_SIM_QR_ROTATE_MS: num(100, 600_000),
  WA_SIM_HOST: { type: "string", pattern: /^[A-Za-z0-9.:[\]-]{1,253}$/, optional: true, messages: { stringPattern: "expected a host name or an IP address to listen on" } },
  WA_SIM_STATE_FILE: { type: "string", optional: true },
  MAX_SESSIONS_PER_INSTANCE: num(1, 100_000),
  LAUNCH_CONCURRENCY: num(1, 256),
  LAUNCH_STAGGER_MS: num(0, 60_000),
  LAUNCH_CONCURRENCY_SOCKET: num(1, 1024),
  LAUNCH_STAGGER_SOCKET_MS: num(0, 60_000),
  ENGINE_START_TIMEOUT_MS: num(1000, 600_000),
  SEND_READY_WAIT_MS: num(0, 25_000),
  LEASE_TTL_MS: num(1000, 600_000),
  MOVE_WAIT_MS: num(0, 600_000),
  TAKEOVER_MARGIN_MS: num(0, 600_000),
  REBALANCE_CONCURRENCY: num(1, 1000),
  REDIS_PREFIX: { type: "string", pattern: /^[A-Za-z0-9:_.-]{1,64}$/, optional: true, messages: { stringPattern: "expected 1-64 characters of A-Z a-z 0-9 : _ . -" } },
  OPS_HOST: { type: "string", min: 1, optional: true },
  OPS_PORT: num(0, 65535),
  SESSION_MAX_MEMORY_MB: num(0, 1_000_000),
  WATCHDOG_INTERVAL_MS: num(100, 3_600_000),
  NODE_MEMORY_WATERMARK: { type: "number", min: 0.1, max: 1, convert: true, optional: true },
  HEALTH_POLL_MS: num(100, 600_000),
  API_HOST: { type: "string", min: 1, optional: true },
  API_PORT: num(0, 65535),
  API_KEYS: { type: "string", optional: true },
  BACKUP_TARGET: { type: "string", pattern: /^((s3:\/\/[a-z0-9.-]{3,63}(\/.*)?)|(file:\/\/\/.*))?$/, optional: true, messages: { stringPattern: "expected s3://bucket/prefix or file:///absolute/path" } },
  BACKUP_CRON: { type: "string", pattern: /^(\S+\s+){4,5}\S+$/, optional: true, messages: { stringPattern: "expected a cron expression with 5 or 6 fields, e.g. '0 * * * *'" } },
  MEDIA_TARGET: { type: "string", pattern: /^((s3:\/\/[a-z0-9.-]{3,63}(\/.*)?)|(file:\/\/\/.*)|(\/.*))?$/, optional: true, messages: { stringPattern: "expected s3://bucket/prefix, file:///absolute/path or /absolute/path" } },
  MEDIA_RETENTION_DAYS: num(0, 36_500),
  MEDIA_MAX_BYTES: num(1024, 2 * 1024 * 1024 * 1024),
  MEDIA_SWEEP_INTERVAL_MS: num(1000, 7 * 86_400_000),
  MEDIA_PRESIGN_SECONDS: num(0, 7 * 86_400),
  S3_ENDPOINT: { type: "string", pattern: /^(https?:\/\/.+)?$/, optional: true, messages: { stringPattern: "expected an http(s) URL" } },
  BACKUP_KEEP_HOURLY: num(0, 100_000),
  BACKUP_KEEP_DAILY: num(0, 100_000),
  BACKUP_PART_SIZE_MB: num(5, 5120),
  BACKUP_ENCRYPTION_KEY: { type: "string", optional: true },
  BACKUP_S3_SSE: { type: "enum", values: ["AES256", "aws:kms", "none"], optional: true },
  BACKUP_S3_KMS_KEY_ID: { type: "string", optional: true },
  LOG_LEVEL: { type: "enum", values: [...LOG_LEVELS], optional: true },
  CHROME_ARGS: { type: "string", optional: true },
  CHROME_SANDBOX: { type: "enum", values: ["auto", "on", "off"], optional: true },
  WEBHOOK_ALLOW_PRIVATE: { type: "enum", values: ["true", "false", "1", "0"], optional: true },
  WEBHOOK_TIMEOUT_MS: num(100, 120_000),
  WEBHOOK_MAX_ATTEMPTS: num(1, 50),
  WEBHOOK_BACKOFF_MS: num(10, 86_400_000),
  WEBHOOK_BACKOFF_MAX_MS: num(10, 86_400_000),
  WEBHOOK_CONCURRENCY: num(1, 4096),
  WEBHOOK_ACK_WAIT_MS: num(500, 600_000),
  EVENT_LOG_MAX_AGE_MS: num(60_000, 365 * 86_400_000),
  EVENT_LOG_MAX_BYTES: num(1_048_576, Number.MAX_SAFE_INTEGER),
  EVENT_LOG_REPLICAS: num(1, 5),
  EVENT_MAX_BYTES: num(4096, 1_048_576),
  API_RATE_LIMIT: num(0, 10_000_000),
  API_RATE_WINDOW_MS: num(100, 86_400_000),
  API_AUTH_FAILURE_LIMIT: num(0, 10_000_000),
  API_TRUSTED_PROXY_HOPS: num(0, 10),
  API_BODY_LIMIT: num(1024, 64 * 1024 * 1024),
  API_JSON_MAX_DEPTH: num(2, 1000),
  API_MEDIA_MAX_BYTES: num(1024, 64 * 1024 * 1024),
  API_MEDIA_FETCH_TIMEOUT_MS: num(100, 300_000),
  API_MEDIA_ALLOW_PRIVATE: { type: "enum", values: ["true", "false", "1", "0"], optional: true },
  API_DASHBOARD: { type: "enum", values: ["true", "false", "1", "0"], optional: true },
  API_IDEMPOTENCY_TTL_MS: num(1000, 30 * 86_400_000),
  API_MAX_CONNECTIONS: num(1, 1_000_000),
  API_HEADERS_TIMEOUT_MS: num(100, 600_000),
  API_REQUEST_TIMEOUT_MS: num(100, 3_600_000),
  API_BODY_IDLE_TIMEOUT_MS: num(100, 3_600_000),
  API_MAX_LARGE_BODIES: num(1, 10_000),
  API_MEDIA_FETCH_CONCURRENCY: num(1, 10_000),
  API_STREAMS_PER_KEY: num(0, 1_000_000),
  API_STREAMS_MAX: num(0, 10_000_000),
  API_STREAM_MAX_BUFFER_BYTES: num(1024, 1024 * 1024 * 1024),
  CURSOR_SECRET: { type: "string", min: 16, max: 1024, optional: true },
} as const;

/** Never echoed in an error; URL variables are echoed with their password replaced. */
const SECRET_VARIABLES = new Set(["API_KEYS", "REDIS_PASSWORD", "BACKUP_ENCRYPTION_KEY"]);
const URL_VARIABLES = new Set(["TRANSPORTER", "REDIS_URL"]);

const check = new Validator({ useNewCustomCheckerFunction: true }).compile({ $$root: false, ...schema } as any);

function parseServices(raw: string | undefined): Role[] {
  if (!raw || !raw.trim()) return [...ROLES];
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(ROLES as readonly string[]).includes(n)) {
      throw new ConfigError("SERVICES", `unknown role "${n}"; expected a comma list of: ${ROLES.join(", ")}`);
    }
  }
  if (!names.length) throw new ConfigError("SERVICES", `expected a comma list of: ${ROLES.join(", ")}`);
  return [...new Set(names)] as Role[];
}

/** Hashes API_KEYS entries: `sha256:<64 hex>` is taken as is, anything else is a plain key. */
export function parseApiKeys(raw: string | undefined, hash: (s: string) => string): string[] {
  if (!raw) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((k, i) => {
      if (k.startsWith("sha256:")) {
        const hex = k.slice(7).toLowerCase();
        if (!/^[0-9a-f]{64}$/.test(hex)) throw new ConfigError("API_KEYS", `entry ${i + 1} starts with sha256: but is not 64 hex digits`);
        return hex;
      }
      if (k.length < 16) throw new ConfigError("API_KEYS", `entry ${i + 1} is shorter than 16 characters; use a long random key`);
      return hash(k);
    });
}

export function sha256Hex(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const input: Record<string, unknown> = {};
  for (const k of Object.keys(schema)) {
    const v = env[k];
    if (v !== undefined && v !== "") input[k] = v;
  }
  const result = check(input);
  if (result !== true) {
    const first = (result as any[])[0];
    const field: string = first.field;
    const shown = SECRET_VARIABLES.has(field) ? "" : ` (got ${JSON.stringify(URL_VARIABLES.has(field) ? redactUrl(String(env[field])) : String(env[field]))})`;
    throw new ConfigError(field, `${first.message}${shown}`);
  }
  const v = input as any;
  const services = parseServices(env.SERVICES);
  const transporter: string = v.TRANSPORTER ?? "";
  const embedded = transporter === "";
  const dataDir = path.resolve(cwd, env.DATA_DIR || "./data");
  const sessionsDir = path.resolve(cwd, env.SESSIONS_DIR || path.join(dataDir, "sessions"));
  const engine: EngineName = v.WA_ENGINE ?? (embedded ? "simulator" : "wwebjs");
  const engines: EngineName[] | undefined = v.WA_ENGINES ? [...new Set(String(v.WA_ENGINES).split(",").map((e) => e.trim() as EngineName))] : undefined;
  let engineWeights: Record<string, number>;
  try {
    engineWeights = parseEngineWeights(v.ENGINE_WEIGHTS, ENGINES);
  } catch (err) {
    throw new ConfigError("ENGINE_WEIGHTS", (err as Error).message);
  }
  if (engines && !engines.includes(engine)) throw new ConfigError("WA_ENGINES", `must include the default engine WA_ENGINE=${engine} (got ${JSON.stringify(v.WA_ENGINES)})`);
  if (!embedded && !v.REDIS_URL && (services.includes("sessions") || services.includes("api"))) {
    throw new ConfigError("REDIS_URL", "cluster mode (TRANSPORTER set) needs the ownership directory: set REDIS_URL=redis://host:6379 on session and api nodes");
  }

  if (v.BACKUP_ENCRYPTION_KEY) {
    try {
      parseBackupKeys(v.BACKUP_ENCRYPTION_KEY);
    } catch (err) {
      throw new ConfigError("BACKUP_ENCRYPTION_KEY", (err as Error).message);
    }
  }
  const connections = {
    transporter,
    natsCa: v.NATS_CA ? path.resolve(cwd, v.NATS_CA) : "",
    natsCreds: v.NATS_CREDS ? path.resolve(cwd, v.NATS_CREDS) : "",
    redisUrl: v.REDIS_URL ?? "",
    redisCa: v.REDIS_CA ? path.resolve(cwd, v.REDIS_CA) : "",
    redisPassword: v.REDIS_PASSWORD ?? "",
  };
  if (embedded && (connections.natsCa || connections.natsCreds)) throw new ConfigError(connections.natsCa ? "NATS_CA" : "NATS_CREDS", "is set but TRANSPORTER is empty (embedded mode has no NATS)");
  // fail fast: unreadable files, a bad URL or mixed credentials stop the process here, named
  if (!embedded) natsConnectionOptions(connections);
  redisConnectionOptions(connections);

  const apiHeadersTimeoutMs: number = v.API_HEADERS_TIMEOUT_MS ?? 20_000;
  const apiRequestTimeoutMs: number = v.API_REQUEST_TIMEOUT_MS ?? 120_000;
  // Node refuses a server whose headers deadline is longer than its whole-request deadline
  if (apiHeadersTimeoutMs > apiRequestTimeoutMs) throw new ConfigError("API_HEADERS_TIMEOUT_MS", `must not be longer than API_REQUEST_TIMEOUT_MS (${apiRequestTimeoutMs})`);

  return {
    services,
    nodeId: v.NODE_ID ?? `${os.hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40)}-${process.pid}`,
    transporter,
    natsCa: connections.natsCa,
    natsCreds: connections.natsCreds,
    redisUrl: connections.redisUrl,
    redisCa: connections.redisCa,
    redisPassword: connections.redisPassword,
    embedded,
    dataDir,
    sessionsDir,
    engine,
    engines,
    simUrl: (v.WA_SIM_URL ?? "").replace(/\/$/, ""),
    simPort: v.WA_SIM_PORT ?? 3100,
    simKeepaliveMs: v.WA_SIM_KEEPALIVE_MS ?? 5000,
    simQrRotateMs: v.WA_SIM_QR_ROTATE_MS ?? 20000,
    simHost: v.WA_SIM_HOST || "127.0.0.1",
    simStateFile: v.WA_SIM_STATE_FILE ?? "",
    chromePath: env.CHROME_PATH || "/usr/bin/chromium",
    chromeArgs: v.CHROME_ARGS ?? "",
    chromeSandbox: v.CHROME_SANDBOX ?? "auto",
    maxSessionsPerInstance: v.MAX_SESSIONS_PER_INSTANCE ?? 750,
    engineWeights,
    // one launch queue per kind of engine: a Chromium start costs ~1 s of CPU and 100+ MB, a
    // socket's (baileys, simulator) a few milliseconds
    launchConcurrency: v.LAUNCH_CONCURRENCY ?? 2,
    launchStaggerMs: v.LAUNCH_STAGGER_MS ?? 200,
    launchConcurrencySocket: v.LAUNCH_CONCURRENCY_SOCKET ?? 32,
    launchStaggerSocketMs: v.LAUNCH_STAGGER_SOCKET_MS ?? 0,
    engineStartTimeoutMs: v.ENGINE_START_TIMEOUT_MS ?? 60000,
    sendReadyWaitMs: v.SEND_READY_WAIT_MS ?? 5000,
    leaseTtlMs: v.LEASE_TTL_MS ?? 10000,
    takeoverMarginMs: v.TAKEOVER_MARGIN_MS ?? 3000,
    rebalanceConcurrency: v.REBALANCE_CONCURRENCY ?? 8,
    moveWaitMs: v.MOVE_WAIT_MS ?? 10000,
    redisPrefix: v.REDIS_PREFIX ?? "wafleet:",
    opsHost: v.OPS_HOST ?? "0.0.0.0",
    opsPort: v.OPS_PORT ?? 9090,
    sessionMaxMemoryBytes: (v.SESSION_MAX_MEMORY_MB ?? (engine === "wwebjs" ? 1024 : 0)) * 1024 * 1024,
    watchdogIntervalMs: v.WATCHDOG_INTERVAL_MS ?? 30_000,
    nodeMemoryWatermark: v.NODE_MEMORY_WATERMARK ?? 0.9,
    healthPollMs: v.HEALTH_POLL_MS ?? 5000,
    apiHost: v.API_HOST ?? "0.0.0.0",
    apiPort: v.API_PORT ?? 3000,
    apiKeyHashes: parseApiKeys(env.API_KEYS, sha256Hex),
    backupTarget: v.BACKUP_TARGET ?? "",
    mediaTarget: !v.MEDIA_TARGET ? `file://${path.join(dataDir, "media")}` : v.MEDIA_TARGET.startsWith("/") ? `file://${v.MEDIA_TARGET}` : v.MEDIA_TARGET,
    mediaRetentionDays: v.MEDIA_RETENTION_DAYS ?? 30,
    mediaMaxBytes: v.MEDIA_MAX_BYTES ?? 128 * 1024 * 1024,
    mediaSweepIntervalMs: v.MEDIA_SWEEP_INTERVAL_MS ?? 3_600_000,
    mediaPresignSeconds: v.MEDIA_PRESIGN_SECONDS ?? 0,
    backupCron: v.BACKUP_CRON ?? "0 * * * *",
    s3Endpoint: v.S3_ENDPOINT ?? "",
    backupKeepHourly: v.BACKUP_KEEP_HOURLY ?? 24,
    backupKeepDaily: v.BACKUP_KEEP_DAILY ?? 7,
    backupPartSize: (v.BACKUP_PART_SIZE_MB ?? 8) * 1024 * 1024,
    backupEncryptionKey: v.BACKUP_ENCRYPTION_KEY ?? "",
    backupS3Sse: v.BACKUP_S3_SSE ?? "AES256",
    backupS3KmsKeyId: v.BACKUP_S3_KMS_KEY_ID ?? "",
    logLevel: v.LOG_LEVEL ?? "info",
    webhookAllowPrivate: v.WEBHOOK_ALLOW_PRIVATE === "true" || v.WEBHOOK_ALLOW_PRIVATE === "1",
    webhookTimeoutMs: v.WEBHOOK_TIMEOUT_MS ?? 10000,
    webhookMaxAttempts: v.WEBHOOK_MAX_ATTEMPTS ?? 10,
    webhookBackoffMs: v.WEBHOOK_BACKOFF_MS ?? 2000,
    webhookBackoffMaxMs: v.WEBHOOK_BACKOFF_MAX_MS ?? 3_600_000,
    webhookConcurrency: v.WEBHOOK_CONCURRENCY ?? 64,
    webhookAckWaitMs: v.WEBHOOK_ACK_WAIT_MS ?? 30000,
    eventLogMaxAgeMs: v.EVENT_LOG_MAX_AGE_MS ?? 7 * 86_400_000,
    eventLogMaxBytes: v.EVENT_LOG_MAX_BYTES ?? 1024 ** 3,
    eventLogReplicas: v.EVENT_LOG_REPLICAS ?? 1,
    eventMaxBytes: v.EVENT_MAX_BYTES ?? 256 * 1024,
    apiRateLimit: v.API_RATE_LIMIT ?? 6000,
    apiRateWindowMs: v.API_RATE_WINDOW_MS ?? 60_000,
    apiAuthFailureLimit: v.API_AUTH_FAILURE_LIMIT ?? 100,
    apiTrustedProxyHops: v.API_TRUSTED_PROXY_HOPS ?? 0,
    apiBodyLimit: v.API_BODY_LIMIT ?? 1024 * 1024,
    apiJsonMaxDepth: v.API_JSON_MAX_DEPTH ?? 32,
    apiMediaMaxBytes: v.API_MEDIA_MAX_BYTES ?? 16 * 1024 * 1024,
    apiMediaFetchTimeoutMs: v.API_MEDIA_FETCH_TIMEOUT_MS ?? 15_000,
    apiMediaAllowPrivate: v.API_MEDIA_ALLOW_PRIVATE === "true" || v.API_MEDIA_ALLOW_PRIVATE === "1",
    apiDashboard: v.API_DASHBOARD !== "false" && v.API_DASHBOARD !== "0",
    apiIdempotencyTtlMs: v.API_IDEMPOTENCY_TTL_MS ?? 86_400_000,
    apiMaxConnections: v.API_MAX_CONNECTIONS ?? 10_000,
    apiHeadersTimeoutMs,
    apiRequestTimeoutMs,
    apiBodyIdleTimeoutMs: v.API_BODY_IDLE_TIMEOUT_MS ?? 30_000,
    apiMaxLargeBodies: v.API_MAX_LARGE_BODIES ?? 8,
    apiMediaFetchConcurrency: v.API_MEDIA_FETCH_CONCURRENCY ?? 8,
    apiStreamsPerKey: v.API_STREAMS_PER_KEY ?? 10,
    apiStreamsMax: v.API_STREAMS_MAX ?? 1000,
    apiStreamMaxBufferBytes: v.API_STREAM_MAX_BUFFER_BYTES ?? 1024 * 1024,
    cursorSecret: v.CURSOR_SECRET ?? "",
  };
}

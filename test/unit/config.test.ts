import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, loadConfig, sha256Hex } from "../../lib/config";
import { natsConnectionOptions, redactUrl, redisConnectionOptions } from "../../lib/config/connections";

const base = { PATH: "/usr/bin" };

function expectConfigError(env: Record<string, string>, variable: string, fragment?: RegExp) {
  try {
    loadConfig({ ...base, ...env }, "/srv/app");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message).toContain(variable);
    if (fragment) expect((err as Error).message).toMatch(fragment);
    return;
  }
  throw new Error(`expected a ConfigError naming ${variable}`);
}

describe("configuration", () => {
  it("defaults to embedded mode with every role, the simulator engine and ./data", () => {
    const c = loadConfig(base, "/srv/app");
    expect(c.embedded).toBe(true);
    expect(c.transporter).toBe("");
    expect(c.services).toEqual(["sessions", "api", "webhooks", "health", "backup"]);
    expect(c.engine).toBe("simulator");
    expect(c.dataDir).toBe("/srv/app/data");
    expect(c.sessionsDir).toBe("/srv/app/data/sessions");
    expect(c.apiPort).toBe(3000);
    expect(c.simPort).toBe(3100);
    expect(c.simKeepaliveMs).toBe(5000);
    expect(c.maxSessionsPerInstance).toBe(750);
    expect(c.apiKeyHashes).toEqual([]);
  });

  it("derives SESSIONS_DIR from DATA_DIR unless it is set", () => {
    expect(loadConfig({ ...base, DATA_DIR: "/var/wafleet" }).sessionsDir).toBe("/var/wafleet/sessions");
    expect(loadConfig({ ...base, DATA_DIR: "/var/wafleet", SESSIONS_DIR: "/mnt/efs/sessions" }).sessionsDir).toBe("/mnt/efs/sessions");
    expect(loadConfig({ ...base, DATA_DIR: "rel" }, "/x").dataDir).toBe(path.resolve("/x", "rel"));
  });

  it("turns numbers from strings and checks their range", () => {
    const c = loadConfig({ ...base, API_PORT: "8080", MAX_SESSIONS_PER_INSTANCE: "500", LAUNCH_CONCURRENCY: "3" });
    expect(c.apiPort).toBe(8080);
    expect(c.maxSessionsPerInstance).toBe(500);
    expect(c.launchConcurrency).toBe(3);
    expectConfigError({ API_PORT: "eighty" }, "API_PORT", /number/);
    expectConfigError({ API_PORT: "70000" }, "API_PORT");
    expectConfigError({ MAX_SESSIONS_PER_INSTANCE: "0" }, "MAX_SESSIONS_PER_INSTANCE");
    expectConfigError({ LAUNCH_CONCURRENCY: "1.5" }, "LAUNCH_CONCURRENCY");
  });

  it("names the variable and what it expected for bad strings", () => {
    expectConfigError({ WA_ENGINE: "noweb" }, "WA_ENGINE", /simulator/);
    expectConfigError({ TRANSPORTER: "redis://x" }, "TRANSPORTER", /nats:\/\//);
    expectConfigError({ BACKUP_TARGET: "ftp://x" }, "BACKUP_TARGET", /s3:\/\/bucket/);
    expectConfigError({ SERVICES: "sessions,frontend" }, "SERVICES", /unknown role "frontend"/);
    expectConfigError({ LOG_LEVEL: "loud" }, "LOG_LEVEL");
    expectConfigError({ NODE_ID: "a/b" }, "NODE_ID");
    expectConfigError({ WA_SIM_HOST: "0.0.0.0 --evil" }, "WA_SIM_HOST", /host name or an IP address/);
  });

  it("reads the standalone simulator's host and state file, and the API's abuse limits", () => {
    expect(loadConfig(base)).toMatchObject({ simHost: "127.0.0.1", simStateFile: "", apiAuthFailureLimit: 100, apiTrustedProxyHops: 0 });
    expect(loadConfig({ ...base, WA_SIM_HOST: "0.0.0.0", WA_SIM_STATE_FILE: "/var/sim.json", API_AUTH_FAILURE_LIMIT: "0", API_TRUSTED_PROXY_HOPS: "1" })).toMatchObject({ simHost: "0.0.0.0", simStateFile: "/var/sim.json", apiAuthFailureLimit: 0, apiTrustedProxyHops: 1 });
    expectConfigError({ API_TRUSTED_PROXY_HOPS: "11" }, "API_TRUSTED_PROXY_HOPS");
  });

  it("reads the gateway's connection, deadline and large-body bounds, and refuses a headers deadline past the request's", () => {
    expect(loadConfig(base)).toMatchObject({ apiMaxConnections: 10000, apiHeadersTimeoutMs: 20000, apiRequestTimeoutMs: 120000, apiBodyIdleTimeoutMs: 30000, apiMaxLargeBodies: 8 });
    expect(loadConfig({ ...base, API_MAX_CONNECTIONS: "64", API_HEADERS_TIMEOUT_MS: "5000", API_REQUEST_TIMEOUT_MS: "5000", API_BODY_IDLE_TIMEOUT_MS: "1000", API_MAX_LARGE_BODIES: "2" })).toMatchObject({
      apiMaxConnections: 64,
      apiHeadersTimeoutMs: 5000,
      apiRequestTimeoutMs: 5000,
      apiBodyIdleTimeoutMs: 1000,
      apiMaxLargeBodies: 2,
    });
    expectConfigError({ API_HEADERS_TIMEOUT_MS: "60000", API_REQUEST_TIMEOUT_MS: "30000" }, "API_HEADERS_TIMEOUT_MS", /API_REQUEST_TIMEOUT_MS/);
    expectConfigError({ API_MAX_CONNECTIONS: "0" }, "API_MAX_CONNECTIONS");
  });

  it("accepts the baileys engine, with the browserless memory defaults", () => {
    const c = loadConfig({ ...base, WA_ENGINE: "baileys" });
    expect(c.engine).toBe("baileys");
    expect(c.sessionMaxMemoryBytes).toBe(0);
  });

  it("has one launch queue per kind of engine, whatever WA_ENGINE is", () => {
    for (const WA_ENGINE of ["wwebjs", "baileys", "simulator"]) {
      const c = loadConfig({ ...base, WA_ENGINE });
      expect([c.launchConcurrency, c.launchStaggerMs, c.launchConcurrencySocket, c.launchStaggerSocketMs]).toEqual([2, 200, 32, 0]);
    }
    const c = loadConfig({ ...base, LAUNCH_CONCURRENCY_SOCKET: "64", LAUNCH_STAGGER_SOCKET_MS: "5" });
    expect([c.launchConcurrencySocket, c.launchStaggerSocketMs]).toEqual([64, 5]);
    expectConfigError({ LAUNCH_CONCURRENCY_SOCKET: "0" }, "LAUNCH_CONCURRENCY_SOCKET");
    expectConfigError({ LAUNCH_CONCURRENCY_SOCKET: "many" }, "LAUNCH_CONCURRENCY_SOCKET", /number/);
    expectConfigError({ LAUNCH_STAGGER_SOCKET_MS: "-1" }, "LAUNCH_STAGGER_SOCKET_MS");
  });

  it("reads WA_ENGINES as the node's engines, the default among them", () => {
    expect(loadConfig(base).engines).toBeUndefined();
    expect(loadConfig({ ...base, WA_ENGINES: " simulator , baileys,baileys" }).engines).toEqual(["simulator", "baileys"]);
    expectConfigError({ WA_ENGINES: "simulator,noweb" }, "WA_ENGINES", /comma list of engines among simulator, wwebjs, baileys/);
    expectConfigError({ WA_ENGINES: "simulator," }, "WA_ENGINES");
    expectConfigError({ WA_ENGINE: "wwebjs", WA_ENGINES: "simulator,baileys" }, "WA_ENGINES", /must include the default engine WA_ENGINE=wwebjs/);
  });

  it("reads ENGINE_WEIGHTS over the measured defaults", () => {
    expect(loadConfig(base).engineWeights).toEqual({ wwebjs: 1, baileys: 0.15, simulator: 0.005 });
    expect(loadConfig({ ...base, ENGINE_WEIGHTS: "baileys=0.1, wwebjs=2" }).engineWeights).toEqual({ wwebjs: 2, baileys: 0.1, simulator: 0.005 });
    expectConfigError({ ENGINE_WEIGHTS: "baileys" }, "ENGINE_WEIGHTS", /engine=weight pairs/);
    expectConfigError({ ENGINE_WEIGHTS: "noweb=1" }, "ENGINE_WEIGHTS", /unknown engine "noweb"/);
    expectConfigError({ ENGINE_WEIGHTS: "baileys=0" }, "ENGINE_WEIGHTS", /above 0/);
  });

  it("uses wwebjs by default in cluster mode", () => {
    const c = loadConfig({ ...base, TRANSPORTER: "nats://127.0.0.1:4222", REDIS_URL: "redis://127.0.0.1:6379", SERVICES: "api" });
    expect(c.embedded).toBe(false);
    expect(c.engine).toBe("wwebjs");
    expect(c.services).toEqual(["api"]);
    expect(c.redisPrefix).toBe("wafleet:");
  });

  it("refuses cluster mode without the ownership directory on session and api nodes", () => {
    expectConfigError({ TRANSPORTER: "nats://127.0.0.1:4222", SERVICES: "sessions" }, "REDIS_URL");
    expectConfigError({ TRANSPORTER: "nats://127.0.0.1:4222" }, "REDIS_URL");
    expect(loadConfig({ ...base, TRANSPORTER: "nats://127.0.0.1:4222", SERVICES: "webhooks" }).services).toEqual(["webhooks"]);
  });

  it("hashes plain API keys and takes sha256: entries as they are, never echoing them in errors", () => {
    const hex = sha256Hex("another-long-admin-key");
    const c = loadConfig({ ...base, API_KEYS: `a-very-long-admin-key-1, sha256:${hex.toUpperCase()}` });
    expect(c.apiKeyHashes).toEqual([sha256Hex("a-very-long-admin-key-1"), hex]);
    try {
      loadConfig({ ...base, API_KEYS: "short-secret" });
      throw new Error("expected failure");
    } catch (err) {
      expect((err as ConfigError).variable).toBe("API_KEYS");
      expect((err as Error).message).not.toContain("short-secret");
    }
    expectConfigError({ API_KEYS: "sha256:abc" }, "API_KEYS", /64 hex/);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ ...base, API_PORT: "", TRANSPORTER: "" }).apiPort).toBe(3000);
  });

  it("takes tls:// transporters with credentials in the URL, a CA and a creds file, and builds the nats.js options", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "wafleet-config-"));
    try {
      const ca = path.join(dir, "ca.pem");
      writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
      const c = loadConfig({ ...base, TRANSPORTER: "tls://wafleet:p%40ss@nats-0:4222,tls://wafleet:p%40ss@nats-1", NATS_CA: ca, SERVICES: "webhooks" });
      const o = natsConnectionOptions(c);
      expect(o.servers).toEqual(["nats-0:4222", "nats-1:4222"]);
      expect([o.user, o.pass]).toEqual(["wafleet", "p@ss"]);
      expect(o.tls).toEqual({ ca: expect.stringContaining("BEGIN CERTIFICATE") });
      // a token: user info without a password
      expect(natsConnectionOptions({ transporter: "nats://s3cret@nats:4222", natsCa: "", natsCreds: "" })).toMatchObject({ token: "s3cret", servers: ["nats:4222"] });
      expect(natsConnectionOptions({ transporter: "nats://nats:4222", natsCa: "", natsCreds: "" }).tls).toBeUndefined();
      // a seed file and a creds file become authenticators
      const seed = path.join(dir, "user.nk");
      writeFileSync(seed, `SU${"A".repeat(56)}\n`);
      expect(typeof natsConnectionOptions({ transporter: "tls://nats:4222", natsCa: "", natsCreds: seed }).authenticator).toBe("function");
      const junk = path.join(dir, "junk");
      writeFileSync(junk, "not a credential");
      expectConfigError({ TRANSPORTER: "tls://nats:4222", NATS_CREDS: junk, SERVICES: "webhooks" }, "NATS_CREDS", /creds file|nkey seed/);
      expectConfigError({ TRANSPORTER: "tls://nats:4222", NATS_CA: path.join(dir, "missing.pem"), SERVICES: "webhooks" }, "NATS_CA", /ENOENT/);
      expectConfigError({ TRANSPORTER: "tls://a:1,nats://b:2", SERVICES: "webhooks" }, "TRANSPORTER", /all or nothing/);
      expectConfigError({ TRANSPORTER: "tls://u:p@a:1", NATS_CREDS: seed, SERVICES: "webhooks" }, "NATS_CREDS", /one of them/);
      expectConfigError({ NATS_CA: ca }, "NATS_CA", /embedded/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes rediss:// with a CA and REDIS_PASSWORD, and refuses a CA without TLS", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "wafleet-config-"));
    try {
      const ca = path.join(dir, "ca.pem");
      writeFileSync(ca, "PEM");
      const c = loadConfig({ ...base, TRANSPORTER: "nats://n:4222", REDIS_URL: "rediss://redis:6380", REDIS_CA: ca, REDIS_PASSWORD: "pw-123" });
      expect(redisConnectionOptions(c)).toEqual({ tls: { ca: "PEM" }, password: "pw-123" });
      expect(redisConnectionOptions({ redisUrl: "redis://r:6379", redisCa: "", redisPassword: "" })).toEqual({});
      expectConfigError({ TRANSPORTER: "nats://n:4222", REDIS_URL: "redis://redis:6379", REDIS_CA: ca }, "REDIS_CA", /rediss:\/\//);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never echoes a password or token of a bad REDIS_URL or TRANSPORTER", () => {
    for (const [variable, value] of [
      ["REDIS_URL", "http://:hunter2-secret@redis:6379"],
      ["TRANSPORTER", "nats+x://user:hunter2-secret@nats:4222"],
    ]) {
      try {
        loadConfig({ ...base, SERVICES: "webhooks", [variable]: value });
        throw new Error(`expected ${variable}=${value} to be refused`);
      } catch (err) {
        expect((err as ConfigError).variable).toBe(variable);
        expect((err as Error).message).not.toContain("hunter2");
        expect((err as Error).message).toContain("***");
      }
    }
    expectConfigError({ TRANSPORTER: "tls://hunter2-secret@nats:4222/path", SERVICES: "webhooks" }, "TRANSPORTER", /^(?!.*hunter2).*no path/);
    expect(redactUrl("redis://:pw@r:6379,redis://u:pw@s")).toBe("redis://:***@r:6379,redis://u:***@s");
  });
});

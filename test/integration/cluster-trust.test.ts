// The cluster's trust boundary (DESIGN 8a, issue 16 finding 1): whoever reaches NATS can call every
// action, so NATS requires credentials and TLS, and Redis a password and TLS. A node configured with
// the right ones (TRANSPORTER tls://, NATS_CA, NATS_CREDS, user/token in the URL; rediss://, REDIS_CA,
// REDIS_PASSWORD) joins; a bare client (the reviewer's plain Moleculer broker) is refused.
import { promises as fs } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { connect, type ConnectionOptions } from "nats";
import { buildBrokerOptions } from "../../moleculer.config";
import { loadConfig, type Config } from "../../lib/config";
import { natsConnectionOptions, redisConnectionOptions } from "../../lib/config/connections";
import { makeEvent } from "../../lib/events";
import { JetStreamEventLog } from "../../lib/events/log-jetstream";
import { RedisDirectory } from "../../lib/placement/redis-directory";
import { openApiStore } from "../../lib/api/store";
import { RedisWebhookStore } from "../../lib/webhooks/redis-store";
import { freePort, tempDir, waitFor } from "../helpers/processes";
import { NatsServer, RedisServer } from "../helpers/servers";
import { makePki, nkeyUser, operatorSetup, type TestPki } from "../helpers/tls";

jest.setTimeout(60_000);

let root: string;
let pki: TestPki;

beforeAll(async () => {
  root = await tempDir("trust");
  pki = await makePki(path.join(root, "pki"));
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function nodeConfig(env: Record<string, string>): Config {
  return loadConfig({ SERVICES: "health", DATA_DIR: path.join(root, "data"), ...env }, root);
}

/** Two brokers built exactly as bin/wafleet builds them; resolves once one has called the other. */
async function joinTwo(env: Record<string, string>): Promise<string> {
  const a = new ServiceBroker({ ...buildBrokerOptions(nodeConfig({ ...env, NODE_ID: "node-a" })), logger: false });
  const b = new ServiceBroker({ ...buildBrokerOptions(nodeConfig({ ...env, NODE_ID: "node-b" })), logger: false });
  b.createService({ name: "probe", actions: { hello: (ctx: any) => `hello from ${ctx.broker.nodeID}` } });
  try {
    await Promise.all([a.start(), b.start()]);
    await a.waitForServices("probe", 20_000);
    return (await a.call("probe.hello")) as string;
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
  }
}

/** A connection attempt with the options a node would use; resolves with the refusal's text. */
async function refusal(opts: ConnectionOptions): Promise<string> {
  try {
    const nc = await connect({ ...opts, maxReconnectAttempts: 0, reconnect: false, timeout: 5000 });
    await nc.close();
  } catch (err) {
    return `${(err as any).code ?? ""} ${(err as Error).message}`;
  }
  throw new Error("the server accepted a client it should have refused");
}

async function nats(config: string, jetstream = true): Promise<NatsServer> {
  return new NatsServer(await freePort(), await tempDir("trust-nats"), { config, jetstream }).start();
}

const tlsBlock = () => `tls {\n  cert_file: "${pki.cert}"\n  key_file: "${pki.key}"\n  timeout: 5\n}\n`;

describe("NATS with TLS and a user/password", () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await nats(`${tlsBlock()}authorization {\n  users: [ { user: "wafleet", password: "n@ts pass/1" } ]\n}\n`);
  });
  afterAll(() => server.destroy());

  const url = () => `tls://wafleet:${encodeURIComponent("n@ts pass/1")}@127.0.0.1:${server.port}`;

  it("a node with the CA and the password joins, and its event log works over the same connection settings", async () => {
    expect(await joinTwo({ TRANSPORTER: url(), NATS_CA: pki.ca })).toBe("hello from node-b");
    const log = new JetStreamEventLog({ connection: natsConnectionOptions({ transporter: url(), natsCa: pki.ca, natsCreds: "" }), maxAgeMs: 3600_000, stream: "TRUST", subjectPrefix: "trust" });
    try {
      await log.start();
      await log.append(makeEvent("wa.session.qr", { workspaceId: "acme", sessionId: "main", node: "node-a" }, { qr: "q", expiresAt: 1 }));
    } finally {
      await log.close();
    }
  });

  it("refuses the bare client of the review (nats://, no credentials), a wrong password, and a server certificate from another CA", async () => {
    const port = server.port;
    // a client that trusts no CA cannot even finish the handshake; one that skips verification
    // (what an intruder would do) meets the authorization check
    expect(await refusal({ servers: `127.0.0.1:${port}` })).toMatch(/certificate|verify/i);
    expect(await refusal({ servers: `127.0.0.1:${port}`, tls: { rejectUnauthorized: false } as any })).toMatch(/AUTHORIZATION/i);
    expect(await refusal(natsConnectionOptions({ transporter: `tls://127.0.0.1:${port}`, natsCa: pki.ca, natsCreds: "" }))).toMatch(/AUTHORIZATION_VIOLATION|Authorization/i);
    expect(await refusal(natsConnectionOptions({ transporter: `tls://wafleet:wrong@127.0.0.1:${port}`, natsCa: pki.ca, natsCreds: "" }))).toMatch(/AUTHORIZATION_VIOLATION|Authorization/i);
    expect(await refusal(natsConnectionOptions({ transporter: url(), natsCa: pki.otherCa, natsCreds: "" }))).toMatch(/certificate|self.signed|verify/i);
  });

  it("the plain Moleculer broker of the review never joins: its transporter reports the refusal", async () => {
    const bare = new ServiceBroker({ namespace: "wafleet", nodeID: "intruder", transporter: { type: "NATS", options: { url: `nats://127.0.0.1:${server.port}`, maxReconnectAttempts: 0, tls: { rejectUnauthorized: false } } as any }, logger: false });
    const transporter: any = (bare as any).transit.tx;
    await expect(transporter.connect()).rejects.toThrow(/Authorization/i);
    await bare.stop().catch(() => undefined);
  });
});

describe("NATS with a token in the URL", () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await nats(`authorization {\n  token: "tok-0123456789abcdef"\n}\n`, false);
  });
  afterAll(() => server.destroy());

  it("joins with nats://<token>@host and is refused without it", async () => {
    expect(await joinTwo({ TRANSPORTER: `nats://tok-0123456789abcdef@127.0.0.1:${server.port}` })).toBe("hello from node-b");
    expect(await refusal(natsConnectionOptions({ transporter: `nats://127.0.0.1:${server.port}`, natsCa: "", natsCreds: "" }))).toMatch(/AUTHORIZATION/i);
    expect(await refusal(natsConnectionOptions({ transporter: `nats://tok-wrong@127.0.0.1:${server.port}`, natsCa: "", natsCreds: "" }))).toMatch(/AUTHORIZATION/i);
  });
});

describe("NATS with nkey users over TLS (NATS_CREDS holding a seed)", () => {
  let server: NatsServer;
  const member = nkeyUser();
  const stranger = nkeyUser();
  beforeAll(async () => {
    server = await nats(`${tlsBlock()}authorization {\n  users: [ { nkey: "${member.publicKey}" } ]\n}\n`, false);
    await fs.writeFile(path.join(root, "member.nk"), `${member.seed}\n`, { mode: 0o600 });
    await fs.writeFile(path.join(root, "stranger.nk"), `${stranger.seed}\n`, { mode: 0o600 });
  });
  afterAll(() => server.destroy());

  it("the member's seed joins; another seed is refused", async () => {
    const transporter = `tls://127.0.0.1:${server.port}`;
    expect(await joinTwo({ TRANSPORTER: transporter, NATS_CA: pki.ca, NATS_CREDS: path.join(root, "member.nk") })).toBe("hello from node-b");
    expect(await refusal(natsConnectionOptions({ transporter, natsCa: pki.ca, natsCreds: path.join(root, "stranger.nk") }))).toMatch(/AUTHORIZATION/i);
  });
});

describe("NATS in operator mode (NATS_CREDS holding a creds file)", () => {
  let server: NatsServer;
  beforeAll(async () => {
    const op = operatorSetup();
    await fs.writeFile(path.join(root, "node.creds"), op.creds, { mode: 0o600 });
    server = await nats(`${tlsBlock()}${op.serverConfig}`, false);
  });
  afterAll(() => server.destroy());

  it("a node with the creds file joins; one without is refused", async () => {
    const transporter = `tls://127.0.0.1:${server.port}`;
    expect(await joinTwo({ TRANSPORTER: transporter, NATS_CA: pki.ca, NATS_CREDS: path.join(root, "node.creds") })).toBe("hello from node-b");
    expect(await refusal(natsConnectionOptions({ transporter, natsCa: pki.ca, natsCreds: "" }))).toMatch(/AUTHORIZATION/i);
  });
});

describe("Redis with a password and TLS (rediss://, REDIS_CA, REDIS_PASSWORD)", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = new RedisServer(await freePort(), await tempDir("trust-redis"), false, { password: "r3dis-secret", tls: { cert: pki.cert, key: pki.key, ca: pki.ca } });
    await redis.prepare();
    await redis.start();
  });
  afterAll(() => redis.destroy());

  it("the directory, the API store and the webhook store connect with the CA and the password", async () => {
    const config = nodeConfig({ TRANSPORTER: "nats://127.0.0.1:4222", SERVICES: "api", REDIS_URL: redis.url, REDIS_CA: pki.ca, REDIS_PASSWORD: "r3dis-secret" });
    const dir = new RedisDirectory({ url: config.redisUrl, prefix: "t:", connection: redisConnectionOptions(config) });
    const { store } = openApiStore(config);
    const hooks = new RedisWebhookStore({ url: config.redisUrl, prefix: "t:", redisOptions: redisConnectionOptions(config) });
    try {
      await dir.ping();
      await store.set("k", "v");
      expect(await store.get("k")).toBe("v");
      expect(await hooks.getConfig("w1")).toBeUndefined();
    } finally {
      await dir.close();
      await store.close();
      await hooks.close();
    }
  });

  it("refuses a client without the password, and one that trusts another CA", async () => {
    // disconnectTimeout: ioredis waits that long for a TLS stream that failed its handshake to close
    const noPassword = new RedisDirectory({ url: redis.url, prefix: "t:", commandTimeoutMs: 300, connection: { ...redisConnectionOptions({ redisUrl: redis.url, redisCa: pki.ca, redisPassword: "" }), retryStrategy: () => null, disconnectTimeout: 100 } });
    try {
      await expect(noPassword.ping()).rejects.toThrow(/NOAUTH|Authentication/i);
    } finally {
      await noPassword.close();
    }
    const errors: Error[] = [];
    const wrongCa = new RedisDirectory({ url: redis.url, prefix: "t:", commandTimeoutMs: 300, onError: (e) => errors.push(e), connection: { ...redisConnectionOptions({ redisUrl: redis.url, redisCa: pki.otherCa, redisPassword: "r3dis-secret" }), retryStrategy: () => null, disconnectTimeout: 100 } });
    try {
      await expect(wrongCa.ping()).rejects.toThrow();
      // the ping may give up on its 300 ms command timeout before the handshake has failed (a loaded
      // machine takes longer than that for a TLS handshake): the refusal is reported when it comes
      await waitFor("the TLS refusal reported", () => (errors.length ? errors : undefined), 10000, 20).catch(() => undefined);
      expect(errors.map((e) => e.message).join(" ")).toMatch(/certificate|self.signed|verify/i);
    } finally {
      await wrongCa.close();
    }
  });
});

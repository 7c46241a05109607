// The trust boundary with real wafleet processes (dist/bin/wafleet.js): NATS requires TLS and an
// nkey (with JetStream for the event log), Redis TLS and a password, certificates made by the test.
// A gateway and a webhooks node configured with them join and answer each other over NATS; a node
// without the nkey never joins, and its log says why.
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "../helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../helpers/processes";
import { NatsServer, RedisServer } from "../helpers/servers";
import { makePki, nkeyUser } from "../helpers/tls";

jest.setTimeout(120_000);

const ADMIN = "trust-test-admin-key-0123456789";
let root: string;
let nats: NatsServer;
let redis: RedisServer;
const procs: NodeProcess[] = [];
let base: Record<string, string>;

beforeAll(async () => {
  root = await tempDir("e2e-trust");
  const pki = await makePki(path.join(root, "pki"));
  const member = nkeyUser();
  await fs.writeFile(path.join(root, "wafleet.nk"), `${member.seed}\n`, { mode: 0o600 });
  nats = await new NatsServer(await freePort(), path.join(root, "nats"), {
    config: `tls {\n  cert_file: "${pki.cert}"\n  key_file: "${pki.key}"\n  timeout: 5\n}\nauthorization {\n  users: [ { nkey: "${member.publicKey}" } ]\n}\n`,
  }).start();
  redis = new RedisServer(await freePort(), path.join(root, "redis"), false, { password: "e2e-redis-password", tls: { cert: pki.cert, key: pki.key, ca: pki.ca } });
  await redis.prepare();
  await redis.start();
  base = {
    TRANSPORTER: `tls://127.0.0.1:${nats.port}`,
    NATS_CA: pki.ca,
    NATS_CREDS: path.join(root, "wafleet.nk"),
    REDIS_URL: redis.url,
    REDIS_CA: pki.ca,
    REDIS_PASSWORD: "e2e-redis-password",
    API_KEYS: ADMIN,
    WA_ENGINE: "simulator",
  };
});

afterAll(async () => {
  for (const p of procs) await p.kill();
  await nats?.destroy();
  await redis?.destroy();
  await fs.rm(root, { recursive: true, force: true });
});

function start(name: string, env: Record<string, string>): NodeProcess {
  const p = new NodeProcess(name, "dist/bin/wafleet.js", { NODE_ID: name, DATA_DIR: path.join(root, name), ...env });
  procs.push(p);
  return p;
}

it("a gateway and a webhooks node with the CA, the nkey and Redis's password join and serve each other", async () => {
  const apiPort = await freePort();
  const gw = start("gw", { ...base, SERVICES: "api", API_PORT: String(apiPort), API_DASHBOARD: "false" });
  // a receiver on loopback (this machine has no public DNS)
  const hooks = start("hooks", { ...base, SERVICES: "webhooks", WEBHOOK_ALLOW_PRIVATE: "true" });
  await gw.waitForOutput(/wafleet cluster node gw up/, 60_000);
  await hooks.waitForOutput(/wafleet cluster node hooks up/, 60_000);
  const api = `http://127.0.0.1:${apiPort}`;
  // the gateway's call reaches the webhooks node over NATS (TLS, nkey); its store is Redis (TLS, password)
  const res = await waitFor("the webhooks node to answer through the gateway", async () => {
    const r = await request(api, "GET", "/api/v1/workspaces/acme/webhook", { key: ADMIN });
    return r.status === 404 && r.json?.error?.code === "WEBHOOK_NOT_FOUND" ? r : undefined;
  }, 30_000, 200);
  expect(res.status).toBe(404);
  const set = await request(api, "PUT", "/api/v1/workspaces/acme/webhook", { key: ADMIN, body: { url: "http://127.0.0.1:9/wa", events: ["*"] } });
  expect(set.status).toBe(200);
  expect((await request(api, "GET", "/api/v1/workspaces/acme/webhook", { key: ADMIN })).json).toMatchObject({ url: "http://127.0.0.1:9/wa" });
  // the event log's own JetStream connection came up with the same settings
  expect(hooks.output).not.toMatch(/event log: .*(Authorization|TLS|certificate)/i);
  // and no password or seed reached the logs
  for (const p of [gw, hooks]) {
    expect(p.output).not.toContain("e2e-redis-password");
    expect(p.output).not.toMatch(/SU[A-Z2-7]{56}/);
  }
});

it("a node without the nkey never joins; its log names the refusal", async () => {
  const { NATS_CREDS: _drop, ...withoutCreds } = base;
  const intruder = start("intruder", { ...withoutCreds, SERVICES: "health" });
  await intruder.waitForOutput(/Authorization Violation/i, 30_000);
  expect(intruder.output).not.toMatch(/wafleet cluster node intruder up/);
  await intruder.kill();
});

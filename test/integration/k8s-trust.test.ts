// k8s/base's trust boundary, run for real: the Secrets made by scripts/cluster-secrets.mjs, NATS with
// the base's nats.conf and Redis with the base's arguments (paths and ports moved onto this machine),
// and wafleet nodes with the environment and mounted files of the base's api Deployment. A node so
// configured joins and reaches Redis; a client without the nkey or the password is refused.
import { execFileSync } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { connect } from "nats";
import { buildBrokerOptions } from "../../moleculer.config";
import { loadConfig } from "../../lib/config";
import { natsConnectionOptions, redisConnectionOptions } from "../../lib/config/connections";
import { RedisDirectory } from "../../lib/placement/redis-directory";
import { builds, find, mainContainer, materialize, mountedSecretKeys, podSpecOf, type Obj } from "../helpers/kustomize";
import { freePort, ROOT, tempDir } from "../helpers/processes";
import { binary, CommandServer, NatsServer } from "../helpers/servers";

jest.setTimeout(60_000);

const base = builds.base!;
let root: string;
let secrets: string;
let nats: NatsServer;
let redis: CommandServer;
const secret = (name: string, key: string) => readFileSync(path.join(secrets, name, key), "utf8");

/** Copies a pod's mounted Secret files under dir; returns a function moving a container path there. */
async function mountFiles(o: Obj, c: Obj, dir: string): Promise<(p: string) => string> {
  for (const f of mountedSecretKeys(o, c)) {
    await fs.mkdir(path.join(dir, path.dirname(f.file)), { recursive: true });
    await fs.writeFile(path.join(dir, f.file), secret(f.secret, f.key));
  }
  return (p) => path.join(dir, p);
}

beforeAll(async () => {
  root = await tempDir("k8s-trust");
  secrets = path.join(root, "secrets");
  execFileSync(process.execPath, [path.join(ROOT, "scripts/cluster-secrets.mjs"), "--out", secrets], { stdio: "ignore" });

  // NATS: the ConfigMap's nats.conf, its TLS files where the pod mounts them (moved under root)
  const natsSet = find(base, "StatefulSet", "nats");
  const natsC = podSpecOf(natsSet)!.containers[0];
  const moved = await mountFiles(natsSet, natsC, path.join(root, "nats-pod"));
  const conf = (find(base, "ConfigMap", "nats-config").data["nats.conf"] as string).replace(/(cert_file|key_file|ca_file): (\S+)/g, (_m, k: string, p: string) => `${k}: "${moved(p)}"`).replace(/^\s*(port|http_port): \d+\n/gm, "").replace(/store_dir: \S+/, `store_dir: "${path.join(root, "js")}"`);
  nats = await new NatsServer(await freePort(), path.join(root, "nats"), { config: conf, jetstream: false /* the conf enables it */, env: { POD_NAME: "nats-0", WAFLEET_NKEY: secret("wafleet-nats-auth", "nkey.pub") } }).start();

  // Redis: the StatefulSet's arguments, $(REDIS_PASSWORD) expanded as the kubelet does
  const redisSet = find(base, "StatefulSet", "redis");
  const redisC = podSpecOf(redisSet)!.containers[0];
  const movedR = await mountFiles(redisSet, redisC, path.join(root, "redis-pod"));
  const port = await freePort();
  const dir = path.join(root, "redis");
  await fs.mkdir(dir, { recursive: true });
  const args = (redisC.args as string[]).map((a, i, all) => {
    if (a === "$(REDIS_PASSWORD)") return secret("wafleet-redis-auth", "password");
    if (all[i - 1] === "--tls-port") return String(port);
    if (all[i - 1] === "--dir") return dir;
    return a.startsWith("/etc/") ? movedR(a) : a;
  });
  redis = await new CommandServer(port, dir, [binary("redis-server"), [...args, "--bind", "127.0.0.1", "--save", ""]]).start();
});

afterAll(async () => {
  await nats?.destroy();
  await redis?.destroy();
  await fs.rm(root, { recursive: true, force: true });
});

/** The api Deployment's environment, its Services' names pointed at the servers above. */
function apiEnv(nodeId: string): Record<string, string> {
  const api = find(base, "Deployment", "wafleet-api");
  const env = materialize(base, api, mainContainer(api), secrets, path.join(root, `pod-${nodeId}`));
  env.TRANSPORTER = env.TRANSPORTER!.replace("//nats:4222", `//localhost:${nats.port}`);
  env.REDIS_URL = env.REDIS_URL!.replace("//redis:6379", `//localhost:${redis.port}`);
  return { ...env, NODE_ID: nodeId, SERVICES: "health", DATA_DIR: path.join(root, `data-${nodeId}`) };
}

it("nodes configured as the base configures them join over TLS with the nkey, and reach Redis with the password", async () => {
  const a = new ServiceBroker({ ...buildBrokerOptions(loadConfig(apiEnv("api-a"), root)), logger: false });
  const b = new ServiceBroker({ ...buildBrokerOptions(loadConfig(apiEnv("api-b"), root)), logger: false });
  b.createService({ name: "probe", actions: { hello: () => "hello" } });
  const config = loadConfig(apiEnv("api-c"), root);
  const dir = new RedisDirectory({ url: config.redisUrl, prefix: "t:", connection: redisConnectionOptions(config) });
  try {
    await Promise.all([a.start(), b.start()]);
    await a.waitForServices("probe", 20_000);
    expect(await a.call("probe.hello")).toBe("hello");
    await dir.ping();
  } finally {
    await Promise.allSettled([a.stop(), b.stop(), dir.close()]);
  }
});

it("a client without the nkey, or without Redis's password, is refused", async () => {
  const config = loadConfig(apiEnv("intruder"), root);
  const opts = natsConnectionOptions({ ...config, natsCreds: "" });
  await expect(connect({ ...opts, reconnect: false })).rejects.toThrow(/Authorization/i);
  const dir = new RedisDirectory({ url: config.redisUrl, prefix: "t:", commandTimeoutMs: 300, connection: { ...redisConnectionOptions({ ...config, redisPassword: "" }), retryStrategy: () => null, disconnectTimeout: 100 } });
  try {
    await expect(dir.ping()).rejects.toThrow(/NOAUTH|Authentication/i);
  } finally {
    await dir.close();
  }
});

it("the prod overlay's clustered nats.conf (routes over TLS) is a configuration nats-server accepts", async () => {
  const prod = builds.prod!;
  const natsSet = find(prod, "StatefulSet", "nats");
  const moved = await mountFiles(natsSet, podSpecOf(natsSet)!.containers[0], path.join(root, "prod-nats-pod"));
  const conf = (find(prod, "ConfigMap", "nats-config").data["nats.conf"] as string).replace(/(cert_file|key_file|ca_file): (\S+)/g, (_m, k: string, p: string) => `${k}: "${moved(p)}"`);
  const file = path.join(root, "prod-nats.conf");
  await fs.writeFile(file, conf);
  const out = execFileSync(binary("nats-server"), ["-c", file, "-t"], { env: { ...process.env, POD_NAME: "nats-0", WAFLEET_NKEY: secret("wafleet-nats-auth", "nkey.pub") }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  expect(out + "").not.toMatch(/error/i);
});

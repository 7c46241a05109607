// A real cluster for multi-process tests: nats-server -js, redis-server (persistent, so it can be
// restarted), the simulated WhatsApp network in its own process, N session nodes and a gateway, each
// a child process running dist/bin/wafleet.js. Plus the REST steps the tests repeat.
import { promises as fs } from "node:fs";
import path from "node:path";
import { request } from "./http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "./processes";
import { NatsServer, RedisServer, startNats } from "./servers";

export const ADMIN_KEY = "cluster-test-admin-key-0123456789";

/**
 * How long a process may take to start. Alone on a quiet machine a node is up in a few seconds; on
 * this shared 2-core machine at a load average of 15, loading a node's modules alone took 9 s, and
 * four nodes starting together passed 30 s (the scale run failed before it began).
 */
const START_WAIT_MS = 120_000;

/** Timings chosen so that TTL*2/3 + margin exceeds the network's keepalive window (see docs/architecture.md). */
export const TIMINGS = { LEASE_TTL_MS: "3000", TAKEOVER_MARGIN_MS: "1500", WA_SIM_KEEPALIVE_MS: "1500", MOVE_WAIT_MS: "8000" };

export class TestCluster {
  nats!: NatsServer;
  redis!: RedisServer;
  sim!: { proc: NodeProcess; url: string };
  root!: string;
  sessionsDir!: string;
  readonly nodes = new Map<string, NodeProcess>();
  gateway!: NodeProcess;
  api!: string;
  private gatewayPort = 0;
  /** Serve nats-server's monitoring endpoints (/varz, /jsz) on a free port (set before start()). */
  natsMonitor = false;
  /** Redis's AOF fsync (RedisServer.fsync; set before start()). */
  redisFsync: "always" | "everysec" = "always";

  /** extraEnv goes to the session nodes; simEnv to the simulated network (e.g. WA_SIM_KEEPALIVE_MS). */
  async start(sessionNodes: string[], extraEnv: Record<string, string> = {}, simEnv: Record<string, string> = {}): Promise<this> {
    this.root = await tempDir("cluster");
    this.sessionsDir = path.join(this.root, "sessions");
    await fs.mkdir(this.sessionsDir, { recursive: true });
    this.nats = await startNats(this.natsMonitor ? { monitorPort: await freePort() } : {});
    this.redis = await new RedisServer(await freePort(), path.join(this.root, "redis"), true).prepare();
    this.redis.fsync = this.redisFsync;
    await this.redis.start();
    this.sim = await startSimProcess({ WA_SIM_KEEPALIVE_MS: TIMINGS.WA_SIM_KEEPALIVE_MS, WA_SIM_STATE_FILE: path.join(this.root, "sim-state.json"), ...simEnv });
    await Promise.all(sessionNodes.map((n) => this.startNode(n, extraEnv)));
    await this.startGateway();
    await waitFor("every session node alive in /cluster", async () => {
      const c = await this.cluster();
      return sessionNodes.every((n) => c.nodes.some((x: any) => x.node === n && x.status === "up")) && c.coordinator ? c : undefined;
    }, 30000, 200);
    return this;
  }

  env(node: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ID: node,
      TRANSPORTER: this.nats.url,
      REDIS_URL: this.redis.url,
      DATA_DIR: path.join(this.root, "data", node),
      SESSIONS_DIR: this.sessionsDir,
      WA_ENGINE: "simulator",
      WA_SIM_URL: this.sim.url,
      API_KEYS: ADMIN_KEY,
      ...TIMINGS,
      ...extra,
    };
  }

  async startNode(node: string, extra: Record<string, string> = {}): Promise<NodeProcess> {
    const before = this.nodes.get(node);
    if (before) this.earlier.push(before);
    const proc = new NodeProcess(node, "dist/bin/wafleet.js", this.env(node, { SERVICES: "sessions", ...extra }));
    this.nodes.set(node, proc);
    await proc.waitForOutput(/wafleet cluster node .* up/, START_WAIT_MS);
    return proc;
  }

  /** Any other role (health, webhooks, backup) as its own process. */
  async startRole(name: string, services: string, extra: Record<string, string> = {}): Promise<NodeProcess> {
    const proc = new NodeProcess(name, "dist/bin/wafleet.js", this.env(name, { SERVICES: services, ...extra }));
    this.roles.set(name, proc);
    await proc.waitForOutput(/wafleet cluster node .* up/, START_WAIT_MS);
    return proc;
  }

  readonly roles = new Map<string, NodeProcess>();
  /** Session nodes' earlier processes (killed or stopped, then started again): their output, for diagnostics. */
  private readonly earlier: NodeProcess[] = [];
  /** Extra environment of the gateway (set before start()). */
  gatewayEnv: Record<string, string> = {};

  async startGateway(): Promise<void> {
    this.gatewayPort ||= await freePort();
    this.api = `http://127.0.0.1:${this.gatewayPort}`;
    this.gateway = new NodeProcess("gateway", "dist/bin/wafleet.js", this.env("gateway", { SERVICES: "api", API_PORT: String(this.gatewayPort), API_HOST: "127.0.0.1", ...this.gatewayEnv }));
    await this.gateway.waitForOutput(/API listening on/, START_WAIT_MS);
  }

  async cluster(): Promise<any> {
    const r = await request(this.api, "GET", "/api/v1/cluster", { key: ADMIN_KEY });
    if (r.status !== 200) throw new Error(`GET /cluster: ${r.status} ${r.body.toString().slice(0, 300)}`);
    return r.json;
  }

  call(method: string, p: string, body?: unknown, headers?: Record<string, string>) {
    return request(this.api, method, `/api/v1${p}`, { key: ADMIN_KEY, body, headers });
  }

  async simStats(): Promise<any> {
    return (await request(this.sim.url, "GET", "/sim/stats")).json;
  }

  async inbox(contact: string): Promise<any[]> {
    return (await request(this.sim.url, "GET", `/sim/contacts/${contact}/inbox`)).json.messages;
  }

  /** Creates a session through the gateway and links it with a simulated phone. */
  async createLinked(workspaceId: string, sessionId: string, phone: string, engine?: string): Promise<void> {
    const created = await this.retrying(() => this.call("POST", `/workspaces/${workspaceId}/sessions`, { sessionId, ...(engine ? { engine } : {}) }), [201]);
    void created;
    const scanned = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const qr = await waitFor(`QR of ${workspaceId}/${sessionId}`, async () => {
        const r = await this.call("GET", `/workspaces/${workspaceId}/sessions/${sessionId}/qr`, undefined, { accept: "application/json" });
        return r.status === 200 && !scanned.has(r.json.qr) ? (r.json.qr as string) : undefined;
      }, 20000, 100);
      scanned.add(qr);
      const linked = await request(this.sim.url, "POST", "/sim/link", { body: { qr, phone } });
      if (linked.status === 200) return;
      // the connection that showed it is gone (on a loaded machine the network drops a linking
      // connection that missed its keepalive pongs; the engine reconnects and shows a new QR): the
      // phone scans the one shown now, as a person would
      if (linked.status === 404 && linked.json?.error?.code === "QR_NOT_FOUND" && attempt < 3) continue;
      throw new Error(`link ${phone} (attempt ${attempt}): ${linked.status} ${linked.body.toString()}\n${this.logsMentioning("keepalive", 10)}`);
    }
  }

  async session(workspaceId: string, sessionId: string): Promise<any> {
    const r = await this.call("GET", `/workspaces/${workspaceId}/sessions/${sessionId}`);
    return r.status === 200 ? r.json : { status: `HTTP ${r.status}`, error: r.json?.error };
  }

  /** Retries a call while it answers a retryable status (503 during moves), up to 30 s. */
  async retrying(fn: () => Promise<{ status: number; json: any; body: Buffer }>, ok: number[], timeoutMs = 30000) {
    let last: any;
    return waitFor("a successful call", async () => {
      last = await fn();
      if (ok.includes(last.status)) return last;
      if (last.status === 503 || last.status === 504) return undefined;
      throw new Error(`unexpected ${last.status}: ${last.body.toString().slice(0, 300)}`);
    }, timeoutMs, 150);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.kill("SIGKILL")));
    await this.gateway?.kill("SIGKILL");
    await Promise.all([...this.roles.values()].map((n) => n.kill("SIGKILL")));
    await this.sim?.proc.kill("SIGKILL");
    await this.nats?.destroy();
    await this.redis?.destroy();
    if (this.root) await fs.rm(this.root, { recursive: true, force: true });
  }

  /** The lines every process (the simulated network and earlier processes of restarted nodes included) printed that mention `needle`, for a failing test's message. */
  logsMentioning(needle: string, lines = 40): string {
    const all = [...this.earlier.map((n) => ({ name: `${n.name} (earlier process)`, output: n.output })), ...this.nodes.values(), ...this.roles.values(), this.gateway, this.sim?.proc].filter(Boolean);
    return all.map((n) => `--- ${n!.name} (mentioning ${needle})\n${n!.output.split("\n").filter((l) => l.includes(needle)).slice(-lines).join("\n")}`).join("\n");
  }

  /** Everything the processes printed, for a failing test's message. */
  logs(lines = 40): string {
    const all = [...this.nodes.values(), ...this.roles.values(), this.gateway].filter(Boolean);
    return all.map((n) => `--- ${n.name}\n${n.output.split("\n").slice(-lines).join("\n")}`).join("\n");
  }
}

/** A small seeded PRNG (mulberry32), so randomized tests are reproducible from their seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** The ops endpoint (/metrics, /healthz, /readyz, /health) a process printed at start (OPS_PORT=0). */
export async function opsUrl(proc: NodeProcess): Promise<string> {
  const m = await proc.waitForOutput(/metric reporter listening on http:\/\/\S*:(\d+)\/metrics/, 20000);
  return `http://127.0.0.1:${m[1]}`;
}

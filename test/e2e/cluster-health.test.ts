// Health, readiness, Prometheus metrics and capacity alerts on a real cluster: 3 session nodes
// (capacity 4 each, so thresholds are easy to cross), a gateway and a health node. The exposition
// of every node is checked by promtool (Debian's prometheus package), the alert rules too.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { opsUrl, TestCluster } from "../helpers/cluster";
import { request } from "../helpers/http";
import { ROOT, waitFor } from "../helpers/processes";

jest.setTimeout(180_000);

let c: TestCluster;
let healthUrl: string;

function promtool(args: string[], input?: string) {
  const r = spawnSync("promtool", args, { input, encoding: "utf8" });
  if (r.error) throw new Error(`promtool not runnable (install Debian's prometheus package): ${r.error.message}`);
  return r;
}

async function health(): Promise<{ status: number; json: any }> {
  const r = await request(healthUrl, "GET", "/health");
  return { status: r.status, json: r.json };
}

beforeAll(async () => {
  c = await new TestCluster().start(["h1", "h2", "h3"], { MAX_SESSIONS_PER_INSTANCE: "4", WATCHDOG_INTERVAL_MS: "500" });
  const node = await c.startRole("health", "health", { HEALTH_POLL_MS: "300" });
  healthUrl = await opsUrl(node);
}, 90_000);

afterAll(async () => {
  await c?.stop();
});

describe("health and metrics", () => {
  it("answers /healthz and /readyz on every node and serves an exposition promtool accepts", async () => {
    const procs = [...c.nodes.values(), c.gateway, c.roles.get("health")!];
    // some traffic first, so the counters and histograms have samples
    await c.retrying(() => c.call("POST", "/workspaces/m1/sessions", { sessionId: "a" }), [201]);
    await waitFor("a QR", async () => (await c.call("GET", "/workspaces/m1/sessions/a/qr", undefined, { accept: "application/json" })).status === 200, 20000, 100);
    await new Promise((r) => setTimeout(r, 1500));
    for (const p of procs) {
      const ops = await opsUrl(p);
      const live = await request(ops, "GET", "/healthz");
      expect(live.status).toBe(200);
      const ready = await request(ops, "GET", "/readyz");
      expect({ node: p.name, status: ready.status }).toEqual({ node: p.name, status: 200 });
      expect(ready.json.status).toBe("ready");
      const metrics = await request(ops, "GET", "/metrics");
      expect(metrics.status).toBe(200);
      const text = metrics.body.toString();
      const check = promtool(["check", "metrics"], text);
      // promtool exits 1 for lint hints too; fail only on parse errors
      expect({ node: p.name, errors: check.stderr.split("\n").filter((l) => /error parsing|parse error/i.test(l)) }).toEqual({ node: p.name, errors: [] });
      expect(text).toMatch(/^moleculer_/m);
      if (c.nodes.has(p.name)) {
        expect(Object.keys(ready.json.checks).sort()).toEqual(["lease", "redis", "transporter"]);
        for (const name of ["wafleet_sessions", "wafleet_sessions_capacity", "wafleet_sessions_utilization", "wafleet_lease_valid", "wafleet_workspaces_owned"]) expect(text).toMatch(new RegExp(`^${name}\\{`, "m"));
      }
    }
    const all = (await Promise.all([...c.nodes.values()].map(async (p) => (await request(await opsUrl(p), "GET", "/metrics")).body.toString()))).join("\n");
    expect(all).toMatch(/^wafleet_qr_generated_total\{[^}]*\} [1-9]/m);
    expect(all).toMatch(/^wafleet_session_start_seconds_bucket\{/m);
    await c.call("DELETE", "/workspaces/m1/sessions/a");
  });

  it("validates the alert rules with promtool", () => {
    const r = promtool(["check", "rules", path.join(ROOT, "k8s/monitoring/alert-rules.yml")]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it("shows every session node in the original design's shape", async () => {
    const h = await waitFor("3 healthy nodes", async () => {
      const x = await health();
      return x.json?.cluster?.healthy === 3 ? x : undefined;
    }, 20000, 200);
    expect(h.status).toBe(200);
    expect(h.json.status).toBe("healthy");
    expect(h.json.instances).toHaveLength(3);
    for (const i of h.json.instances) {
      expect(i).toMatchObject({ status: "healthy", sessions: { total: expect.any(Number), capacity: 4, utilization: expect.any(Number) }, memory: { used: expect.any(Number), total: expect.any(Number), rss: expect.any(Number) }, uptime: expect.any(Number) });
      expect(i.instance).toMatch(/^h[123]$/);
      expect(Date.parse(i.timestamp)).not.toBeNaN();
    }
  });

  it("raises capacity alerts at 70% and 85% and clears them, with at_capacity at the limit", async () => {
    const healthProc = c.roles.get("health")!;
    const mark = healthProc.output.length;
    for (const s of ["a", "b", "c"]) await c.retrying(() => c.call("POST", "/workspaces/cap/sessions", { sessionId: s }), [201]);
    const owner = (await c.cluster()).assignments.find((a: any) => a.workspaceId === "cap").node;
    await waitFor("the 70% alert", () => new RegExp(`capacity: node ${owner} crossed 70%`).test(healthProc.output.slice(mark)), 20000, 100);
    await c.retrying(() => c.call("POST", "/workspaces/cap/sessions", { sessionId: "d" }), [201]);
    await waitFor("the 85% alert", () => new RegExp(`capacity: node ${owner} crossed 85%`).test(healthProc.output.slice(mark)), 20000, 100);
    const full = await waitFor("at_capacity", async () => {
      const x = await health();
      return x.json.instances.find((i: any) => i.instance === owner)?.status === "at_capacity" ? x : undefined;
    }, 20000, 200);
    expect(full.json.status).toBe("degraded");
    const refused = await c.call("POST", "/workspaces/cap/sessions", { sessionId: "e" });
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe("INSTANCE_AT_CAPACITY");
    const metrics = (await request(await opsUrl(healthProc), "GET", "/metrics")).body.toString();
    expect(metrics).toMatch(new RegExp(`^wafleet_capacity_alert_level\\{[^}]*node="${owner}"[^}]*\\} 2`, "m"));
    for (const s of ["a", "b", "c", "d"]) await c.call("DELETE", `/workspaces/cap/sessions/${s}`);
    await waitFor("the recovery", () => new RegExp(`capacity: node ${owner} recovered`).test(healthProc.output.slice(mark)), 20000, 100);
    await waitFor("healthy again", async () => (await health()).json.status === "healthy", 20000, 200);
  });

  it("does not hang on a frozen node, and shows a killed node unreachable, then gone", async () => {
    const frozen = c.nodes.get("h3")!;
    process.kill(frozen.pid, "SIGSTOP");
    try {
      const h = await health();
      expect(h.json.instances.find((i: any) => i.instance === "h3").status).toBe("unreachable");
      expect(h.json.status).toBe("degraded");
      expect(h.json.cluster.nodesDown).toEqual(["h3"]);
    } finally {
      process.kill(frozen.pid, "SIGCONT");
    }
    await waitFor("h3 healthy again", async () => (await health()).json.instances.find((i: any) => i.instance === "h3")?.status === "healthy", 30000, 300);

    // a session node whose Redis is gone is not ready (and says why)
    const ops = await opsUrl(c.nodes.get("h1")!);
    await c.redis.stop();
    try {
      const notReady = await waitFor("h1 not ready", async () => {
        const r = await request(ops, "GET", "/readyz");
        return r.status === 503 ? r : undefined;
      }, 10000, 100);
      expect(notReady.json.failing).toContain("redis");
    } finally {
      await c.redis.start();
    }
    await waitFor("h1 ready again", async () => (await request(ops, "GET", "/readyz")).status === 200, 20000, 200);

    await c.nodes.get("h2")!.kill("SIGKILL");
    const down = await health();
    expect(down.json.instances.find((i: any) => i.instance === "h2").status).toBe("unreachable");
    expect(down.json.status).toBe("degraded");
    await waitFor("h2 gone after the failover", async () => {
      const x = await health();
      return !x.json.instances.some((i: any) => i.instance === "h2") && x.json.status === "healthy";
    }, 60000, 300);
  });
});

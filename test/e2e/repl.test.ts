// The operators' console against a live cluster (NATS, Redis, the simulated network, two session
// nodes, a gateway, a backup node on a folder target and a webhooks node, all child processes). Each
// wa-* command is run as the REPL runs it (the same definitions, on a broker built by the console's
// own options), and its table is checked against the cluster's real state: a move really moves, a
// drain really drains, a restore really brings a destroyed workspace back, a replayed dead letter
// really reaches the receiver. Then the real `dist/bin/repl.js` parses flags on a piped prompt.
import { spawn, spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { TestCluster } from "../helpers/cluster";
import { request } from "../helpers/http";
import { ROOT, waitFor } from "../helpers/processes";
import { WebhookReceiver } from "../helpers/webhook-receiver";
import { consoleBrokerOptions } from "../../lib/ops/repl-console";
import { WA_COMMAND_NAMES, type ReplArgs, type ReplCommand } from "../../lib/ops/repl-commands";

let c: TestCluster;
let client: ServiceBroker;
let receiver: WebhookReceiver;
let commands: ReplCommand[];
const printed: string[] = [];
const WORKSPACES = ["acme", "beta", "gamma", "delta"];

beforeAll(async () => {
  receiver = await new WebhookReceiver().start();
  c = await new TestCluster().start(["n1", "n2"]);
  await Promise.all([
    c.startRole("bk", "backup", { BACKUP_TARGET: `file://${path.join(c.root, "backups")}`, BACKUP_CRON: "0 0 1 1 *" }),
    c.startRole("wh", "webhooks", { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "100", WEBHOOK_ACK_WAIT_MS: "1000" }),
  ]);
  const options = consoleBrokerOptions({ TRANSPORTER: c.nats.url, NODE_ID: "repl-test", LOG_LEVEL: "warn" }, (t) => printed.push(t));
  commands = (options.replOptions as any).customCommands;
  client = new ServiceBroker({ ...options, logger: false });
  await client.start();
  await client.waitForServices(["placement", "sessions", "backup", "webhooks"], 20000);
  for (const [i, w] of WORKSPACES.entries()) await c.createLinked(w, "s1", `1555400000${i}`);
  await waitFor("all WORKING", async () => (await Promise.all(WORKSPACES.map((w) => c.session(w, "s1")))).every((v) => v.status === "WORKING"), 30000, 100);
}, 90_000);

afterAll(async () => {
  await client?.stop();
  await c?.stop();
  await receiver?.close();
});

/** Runs a command as moleculer-repl would and returns what it printed. */
async function run(name: string, args: ReplArgs = {}): Promise<string> {
  const cmd = commands.find((x) => x.command.split(" ")[0] === name);
  if (!cmd) throw new Error(`no command ${name}`);
  printed.length = 0;
  await cmd.action(client, { options: {}, ...args });
  return printed.join("\n");
}

/** The data rows of a printed table (after the header rule), split on runs of 2+ spaces. */
function rows(text: string): string[][] {
  const lines = text.split("\n");
  const rule = lines.findIndex((l) => /^-+( +-+)*$/.test(l));
  const out: string[][] = [];
  for (const l of lines.slice(rule + 1)) {
    if (!l.trim() || l === "(none)" || !/ {2}/.test(l)) break;
    out.push(l.trim().split(/ {2,}/));
  }
  return out;
}

it("offers the seven wa-* commands, on a node id of its own (never the NODE_ID of the pod it runs in)", () => {
  expect(WA_COMMAND_NAMES).toEqual(["wa-nodes", "wa-sessions", "wa-move", "wa-drain", "wa-backup", "wa-restore", "wa-deadletters"]);
  expect(client.nodeID).toBe(`repl-repl-test-${process.pid}`);
  expect(consoleBrokerOptions({ TRANSPORTER: c.nats.url, NODE_ID: "n1" }).nodeID).toBe(`repl-n1-${process.pid}`);
  expect(() => consoleBrokerOptions({})).toThrow("Invalid configuration: TRANSPORTER: the console joins a cluster");
});

it("wa-nodes: a row per session node with its sessions, capacity, memory and lease age", async () => {
  const out = await run("wa-nodes");
  expect(out.split("\n")[0]).toMatch(/^NODE +STATUS +SESSIONS +CAPACITY +UTIL +WORKSPACES +MEMORY \(used \/ limit\) +LEASE AGE +UPTIME$/);
  const table = rows(out);
  expect(table.map((r) => r[0]!.replace(" *", "")).sort()).toEqual(["n1", "n2"]);
  const view = await c.cluster();
  for (const r of table) {
    const node = view.nodes.find((n: any) => n.node === r[0]!.replace(" *", ""));
    expect(r[1]).toBe("up");
    expect(Number(r[2])).toBe(node.sessions);
    expect(Number(r[3])).toBe(750);
    expect(r[6]).toMatch(/MiB|GiB/);
    expect(r[7]).toMatch(/ms|s$/);
  }
  expect(table.reduce((a, r) => a + Number(r[2]), 0)).toBe(WORKSPACES.length);
  expect(out).toContain(`coordinator ${view.coordinator}`);
  expect(out).toMatch(/2 nodes \(0 down\), 4 running sessions of 1500/);
});

it("wa-sessions: every session from its owner, filtered by workspace, node and status", async () => {
  const all = rows(await run("wa-sessions"));
  expect(all.map((r) => r[0])).toEqual([...WORKSPACES].sort());
  for (const r of all) {
    expect(r.slice(1, 4)).toEqual(["s1", "WORKING", "running"]);
    expect(r[4]).toBe((await c.session(r[0]!, "s1")).node);
  }
  expect(rows(await run("wa-sessions", { options: { workspace: "gamma" } })).map((r) => r[0])).toEqual(["gamma"]);
  const onN2 = rows(await run("wa-sessions", { options: { node: "n2" } }));
  expect(onN2.every((r) => r[4] === "n2")).toBe(true);
  expect(onN2.length).toBe(all.filter((r) => r[4] === "n2").length);
  const none = await run("wa-sessions", { options: { status: "failed" } });
  expect(none).toContain("(none)");
  expect(none).toMatch(/0 sessions on 2 nodes/);
});

it("wa-sessions and wa-move: a wrong argument is one clear line", async () => {
  expect(await run("wa-sessions", { options: { status: "asleep" } })).toBe("✖ wa-sessions: USAGE: --status must be one of STOPPED, STARTING, SCAN_QR_CODE, WORKING, FAILED");
  expect(await run("wa-sessions", { options: { node: "n9" } })).toBe("✖ wa-sessions: USAGE: no session node n9 (known: n1, n2)");
  const bad = await run("wa-move", { workspace: "acme", node: "n9" });
  expect(bad.split("\n")).toHaveLength(1);
  expect(bad).toMatch(/^✖ wa-move: NODE_NOT_FOUND: /);
  expect(await run("wa-move", { workspace: "acme" })).toBe("✖ wa-move: USAGE: <node> is required");
});

it("wa-move: the workspace really moves, and its session comes back WORKING on the new node", async () => {
  const from = (await c.session("acme", "s1")).node as string;
  const to = from === "n1" ? "n2" : "n1";
  const out = await run("wa-move", { workspace: "acme", node: to });
  expect(rows(out)[0]!.slice(0, 3)).toEqual(["acme", from, to]);
  expect(out).toContain(`moved acme to ${to}`);
  expect((await c.cluster()).assignments.find((a: any) => a.workspaceId === "acme").node).toBe(to);
  await waitFor("acme WORKING on its new node", async () => {
    const s = await c.session("acme", "s1");
    return s.status === "WORKING" && s.node === to;
  }, 30000, 100);
  expect(rows(await run("wa-sessions", { options: { workspace: "acme" } }))[0]![4]).toBe(to);
  expect((await c.simStats()).conflicts).toBe(0);
});

it("wa-deadletters: lists dead letters across workspaces and replays one to a fixed receiver", async () => {
  receiver.status = () => 400; // a 4xx is a dead letter at once
  // 503 is a retryable answer by contract (a service still being discovered after the move above)
  const put = await c.retrying(() => c.call("PUT", "/workspaces/beta/webhook", { url: receiver.url, events: ["wa.session.status"] }), [200]);
  expect(put.status).toBe(200);
  await c.retrying(() => c.call("POST", "/workspaces/beta/sessions/s1/restart"), [200]);
  await waitFor("a dead letter in beta", async () => (await c.call("GET", "/workspaces/beta/webhook/deliveries?status=failed")).json.length > 0, 20000, 100);

  const out = await run("wa-deadletters");
  const letters = rows(out);
  expect(letters.length).toBeGreaterThan(0);
  expect(letters.every((r) => r[0] === "beta" && r[2] === "wa.session.status" && r[6] === "400")).toBe(true);
  expect(out).toMatch(new RegExp(`${letters.length} dead letters in 1 workspace$`, "m"));
  expect(rows(await run("wa-deadletters", { options: { workspace: "gamma" } }))).toEqual([]);

  // the same list through REST, store-wide, admin only, paged by time
  const all = await c.call("GET", "/webhooks/dead-letters");
  expect(all.status).toBe(200);
  // (the restart's later status events may have become dead letters since the REPL listed them)
  expect(all.json.map((d: any) => d.id)).toEqual(expect.arrayContaining(letters.map((r) => r[1])));
  expect(all.json.every((d: any) => d.workspaceId === "beta" && d.status === "failed")).toBe(true);
  const times = all.json.map((d: any) => Date.parse(d.updatedAt));
  expect(times).toEqual([...times].sort((a, b) => b - a));
  expect(all.json[0]).toMatchObject({ workspaceId: "beta", status: "failed", event: "wa.session.status", lastStatus: 400 });
  expect(all.json[0].payload).toBeUndefined();
  if (all.json.length > 1) {
    const page = await c.call("GET", `/webhooks/dead-letters?limit=1&before=${Date.parse(all.json[0].updatedAt)}`);
    expect(page.json.map((d: any) => d.id)).toEqual([all.json.find((d: any) => Date.parse(d.updatedAt) < Date.parse(all.json[0].updatedAt))?.id].filter(Boolean));
  }
  const wsKey = (await c.call("POST", "/workspaces/beta/keys")).json.key;
  expect((await request(c.api, "GET", "/api/v1/webhooks/dead-letters", { key: wsKey })).json.error.code).toBe("FORBIDDEN");
  expect((await c.call("GET", "/webhooks/dead-letters?limit=0")).json.error.code).toBe("VALIDATION_ERROR");

  receiver.status = () => 200;
  const id = letters[0]![1]!;
  const replay = await run("wa-deadletters", { options: { retry: id } });
  expect(rows(replay)[0]).toEqual(["beta", id, "pending", "1"]);
  await waitFor("the replay delivered", () => receiver.requests.some((r) => r.id === id && r.status === 200), 20000, 50);
  expect(await run("wa-deadletters", { options: { workspace: "beta", retry: id } })).toMatch(/^✖ wa-deadletters: DELIVERY_NOT_FAILED: /);
  expect(await run("wa-deadletters", { options: { retry: "01JZZZZZZZZZZZZZZZZZZZZZZZ" } })).toMatch(/^✖ wa-deadletters: USAGE: no dead letter 01JZZZZZZZZZZZZZZZZZZZZZZZ among the newest \d+/);
  // a replayed letter is no dead letter any more
  expect((await c.call("GET", "/webhooks/dead-letters")).json.map((d: any) => d.id)).not.toContain(id);
}, 60_000);

it("wa-backup and wa-restore: snapshot, list, verify, then a destroyed workspace comes back WORKING", async () => {
  const now = await run("wa-backup", { op: "now" });
  const [snap] = rows(now);
  expect(snap![0]).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{4}$/);
  expect(snap!.slice(3, 5)).toEqual(["4", "4"]);
  expect(snap![6]).toBe("yes");
  const id = snap![0]!;

  const list = await run("wa-backup");
  expect(rows(list)[0]!.slice(0, 4)).toEqual([id, expect.any(String), "yes", "yes"]);
  const verify = await run("wa-backup", { op: "verify", options: { snapshot: id } });
  expect(rows(verify).map((r) => r[0]).sort()).toEqual([...WORKSPACES].sort());
  expect(verify).toContain(`snapshot ${id}: verified, 4 archives checked`);
  expect(await run("wa-backup", { op: "drop" })).toBe('✖ wa-backup: USAGE: unknown operation "drop"; expected now, list, verify');

  await fs.rm(path.join(c.sessionsDir, "workspace_delta"), { recursive: true });
  const restore = await run("wa-restore", { snapshot: id, options: { workspace: "delta" } });
  expect(rows(restore)).toEqual([["delta", "s1", "restarted", "-"]]);
  expect(restore).toMatch(/restored 1 sessions of 1 workspaces/);
  await waitFor("delta WORKING again", async () => (await c.session("delta", "s1")).status === "WORKING", 30000, 100);
  await expect(fs.readFile(path.join(c.sessionsDir, "workspace_delta/session_s1/auth/creds.json"), "utf8")).resolves.toContain("15554000003");
  expect(await run("wa-restore", { snapshot: "nope" })).toMatch(/^✖ wa-restore: VALIDATION_ERROR: /);
}, 60_000);

it("the real console: dist/bin/repl.js joins the cluster and runs wa-* commands typed at its prompt", async () => {
  const repl = spawn(process.execPath, [path.join(ROOT, "dist/bin/repl.js")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: c.root, TRANSPORTER: c.nats.url, NODE_ID: "repl-prompt", LOG_LEVEL: "warn" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  repl.stdout.on("data", (d) => (output += d.toString()));
  repl.stderr.on("data", (d) => (output += d.toString()));
  const exited = new Promise((r) => repl.once("exit", r));
  try {
    await waitFor("the prompt", () => output.includes("wafleet $"), 20000, 50);
    repl.stdin.write("wa-sessions --workspace gamma --status working\n");
    await waitFor("the filtered table", () => /1 sessions on 2 nodes/.test(output), 20000, 50);
    expect(output).toMatch(/\ngamma +s1 +WORKING +running/);
    expect(output).not.toMatch(/\n(acme|beta|delta) +s1/);
    repl.stdin.write("wa-move gamma n9\n");
    await waitFor("the move's error line", () => /✖ wa-move: NODE_NOT_FOUND: /.test(output), 20000, 50);
    repl.stdin.write("exit\n");
    await exited;
  } finally {
    if (repl.exitCode === null) repl.kill("SIGKILL");
  }
}, 40_000);

/** Runs `repl.js <argv>` to its end: what it printed and its exit code. */
function oneShot(argv: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, "dist/bin/repl.js"), ...argv], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: c.root, TRANSPORTER: c.nats.url, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    p.stdout.on("data", (d) => (output += d.toString()));
    p.stderr.on("data", (d) => (output += d.toString()));
    p.once("exit", (code) => resolve({ code, output }));
  });
}

it("one shot: repl.js <command> runs it and exits 0, or 1 after its error line (scripts, preStop)", async () => {
  const ok = await oneShot(["wa-sessions", "-w", "beta", "--status=working"]);
  expect(ok.code).toBe(0);
  expect(ok.output).toMatch(/\nbeta +s1 +WORKING +running/);
  expect(ok.output).toContain("1 sessions on 2 nodes");
  const bad = await oneShot(["wa-drain", "n9"]);
  expect(bad.code).toBe(1);
  expect(bad.output).toMatch(/^✖ wa-drain: NODE_NOT_FOUND: No session node n9/m);
  const usage = await oneShot(["wa-sessions", "--colour", "red"]);
  expect(usage).toEqual({ code: 1, output: "✖ wa-sessions: USAGE: unknown option --colour for wa-sessions\n" });
}, 40_000);

it("wa-drain: every workspace leaves the node and its sessions are WORKING elsewhere", async () => {
  const view = await c.cluster();
  const node = view.assignments.some((a: any) => a.node === "n1") ? "n1" : "n2";
  const other = node === "n1" ? "n2" : "n1";
  const owned = view.assignments.filter((a: any) => a.node === node).map((a: any) => a.workspaceId).sort();
  const out = await run("wa-drain", { node });
  expect(rows(out)).toEqual(owned.map((w: string) => [w, other]));
  expect(out).toContain(`drained ${node}: ${owned.length} workspaces handed off, 0 left`);
  expect((await c.cluster()).assignments.every((a: any) => a.node === other)).toBe(true);
  await waitFor("every session WORKING on the other node", async () => (await Promise.all(WORKSPACES.map((w) => c.session(w, "s1")))).every((s) => s.status === "WORKING" && s.node === other), 30000, 100);
  expect(rows(await run("wa-nodes")).find((r) => r[0]!.replace(" *", "") === node)![1]).toBe("draining");
  expect(await run("wa-drain", { node: "n9" })).toMatch(/^✖ wa-drain: NODE_NOT_FOUND: /);
  expect((await c.simStats()).conflicts).toBe(0);
}, 60_000);

it("the session pods' preStop: `wafleet drain` (docker/entrypoint.sh) with the pod's NODE_ID empties that node", async () => {
  await c.startNode("n3");
  await waitFor("n3 up", async () => (await c.cluster()).nodes.some((n: any) => n.node === "n3" && n.status === "up"), 30000, 100);
  // after the drain above one node held every workspace (n3's join may already be taking its share);
  // a preStop on that node hands the rest to n3, the only node taking workspaces
  // (bounded load keeps at least one of the four workspaces on it: at most ceil(1.1 x 2) = 3 per node)
  const holder = (await c.cluster()).assignments.find((a: any) => a.node !== "n3").node as string;
  const r = spawnSync("bash", [path.join(ROOT, "docker/entrypoint.sh"), "drain"], {
    env: { PATH: process.env.PATH ?? "", HOME: c.root, WAFLEET_HOME: ROOT, NODE_ID: holder, TRANSPORTER: c.nats.url, REDIS_URL: c.redis.url, SERVICES: "sessions", LOG_LEVEL: "warn" },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`\\ndrained ${holder}: [1-${WORKSPACES.length}] workspaces handed off, 0 left\\n$`));
  expect((await c.cluster()).assignments.every((a: any) => a.node === "n3")).toBe(true);
  await waitFor("every session WORKING on n3", async () => (await Promise.all(WORKSPACES.map((w) => c.session(w, "s1")))).every((s) => s.status === "WORKING" && s.node === "n3"), 30000, 100);
  expect((await c.simStats()).conflicts).toBe(0);
}, 90_000);

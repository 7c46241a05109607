// The receiver snippets of docs/webhooks.md, taken from the file as written, run against real
// deliveries of a live embedded wafleet: the dependency-free PHP endpoint under Debian's php-cli
// (`php -S`), the Node one with the npm `standardwebhooks` package. Both must accept every real
// delivery and refuse forged, tampered, stale and unsigned requests; the Laravel snippets (whose
// framework and library are not installed here) must at least pass `php -l`. php missing is a
// failure, never a skip (.ci/run installs php-cli).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { request } from "../helpers/http";
import { freePort, NodeProcess, ROOT, startSimProcess, tempDir, waitFor } from "../helpers/processes";

const KEY = "webhook-snippets-admin-key-0123456789";
const ME = "15550007771";
const CONTACT = "15550007772";
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

/** The fenced block right after `<!-- snippet: name -->` in docs/webhooks.md. */
function docSnippet(doc: string, name: string): string {
  const m = doc.match(new RegExp(`<!-- snippet: ${name} -->\\s*\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``));
  if (!m) throw new Error(`docs/webhooks.md has no snippet "${name}"`);
  return m[1]!;
}

interface Receiver {
  url: string;
  log: () => string;
  stop: () => Promise<void>;
}

async function startReceiver(name: string, cmd: string, args: string[], cwd: string, env: Record<string, string>, port: number): Promise<Receiver> {
  let out = "";
  const child: ChildProcess = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (out += d.toString()));
  child.stderr!.on("data", (d) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://127.0.0.1:${port}/webhook.php`;
  await waitFor(`the ${name} receiver to listen`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    return (await request(`http://127.0.0.1:${port}`, "GET", "/webhook.php").catch(() => undefined))?.status === 401;
  }, 15000, 100);
  return {
    url,
    log: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

let dir: string;
let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let node: NodeProcess;
let api: string;
let php: Receiver;
let nodeReceiver: Receiver;

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers });

beforeAll(async () => {
  const php8 = spawnSync("php", ["-r", "echo PHP_MAJOR_VERSION;"], { encoding: "utf8" });
  if (php8.error || php8.status !== 0) throw new Error("php (Debian's php-cli) is required by this test; .ci/run installs it");
  const doc = await fs.readFile(path.join(ROOT, "docs/webhooks.md"), "utf8");
  dir = await tempDir("wh-snippets");
  dataDir = await tempDir("wh-snippets-data");
  await fs.writeFile(path.join(dir, "wafleet_webhook.php"), docSnippet(doc, "php-verify") + "\n");
  await fs.writeFile(path.join(dir, "webhook.php"), docSnippet(doc, "php-endpoint") + "\n");
  // the router only reports what the documented endpoint answered, for the assertions
  await fs.writeFile(path.join(dir, "router.php"), `<?php\nregister_shutdown_function(function () { error_log('answered ' . http_response_code() . ' ' . ($_SERVER['HTTP_WEBHOOK_ID'] ?? '-')); });\nrequire __DIR__ . '/webhook.php';\n`);
  await fs.writeFile(path.join(dir, "receiver.js"), docSnippet(doc, "node-endpoint") + "\n");

  sim = await startSimProcess();
  const phpPort = await freePort();
  php = await startReceiver("php", "php", ["-S", `127.0.0.1:${phpPort}`, "router.php"], dir, { WAFLEET_WEBHOOK_SECRET: SECRET }, phpPort);
  const nodePort = await freePort();
  nodeReceiver = await startReceiver("node", process.execPath, ["receiver.js"], dir, { WAFLEET_WEBHOOK_SECRET: SECRET, PORT: String(nodePort), NODE_PATH: path.join(ROOT, "node_modules") }, nodePort);

  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = new NodeProcess("wafleet", "dist/bin/wafleet.js", { DATA_DIR: dataDir, API_PORT: String(port), API_HOST: "127.0.0.1", API_KEYS: KEY, WA_SIM_URL: sim.url, WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "50", WEBHOOK_BACKOFF_MAX_MS: "200", WEBHOOK_MAX_ATTEMPTS: "3" });
  await node.waitForOutput(/API listening on/, 30000);

  expect((await call("PUT", "/workspaces/acme/webhook", { url: php.url, events: ["wa.message.received"], secret: SECRET })).status).toBe(200);
  expect((await call("POST", "/workspaces/acme/sessions", { sessionId: "main" })).status).toBe(201);
  const qr = await waitFor("the QR", async () => {
    const r = await call("GET", "/workspaces/acme/sessions/main/qr", undefined, { accept: "application/json" });
    return r.status === 200 ? (r.json.qr as string) : undefined;
  }, 30000, 100);
  expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone: ME } })).status).toBe(200);
  await waitFor("WORKING", async () => (await call("GET", "/workspaces/acme/sessions/main")).json.status === "WORKING", 30000, 100);
}, 90000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await php?.stop();
  await nodeReceiver?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

/** Incoming messages from a simulated contact: each becomes a real delivery. */
async function sendIncoming(prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body: `${prefix}-${i}` } })).status).toBe(202);
}

/** A request signed like wafleet's, with parts the test spoils. */
function forged(secret: string, opts: { body?: string; signedBody?: string; at?: Date; signature?: (good: string) => string; omit?: string } = {}) {
  const id = `msg_${randomBytes(8).toString("hex")}`;
  const at = opts.at ?? new Date();
  const body = opts.body ?? JSON.stringify({ id, event: "wa.message.received", workspaceId: "acme" });
  const good = new Webhook(secret).sign(id, at, opts.signedBody ?? body);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": opts.signature ? opts.signature(good) : good,
  };
  if (opts.omit) delete headers[opts.omit];
  return { headers, body };
}

async function hostileAnswers(url: string): Promise<Record<string, number>> {
  const u = new URL(url);
  const send = async (f: { headers: Record<string, string>; body: string }) => (await request(u.origin, "POST", u.pathname, { rawBody: f.body, headers: f.headers })).status;
  const other = `whsec_${randomBytes(32).toString("base64")}`;
  return {
    genuine: await send(forged(SECRET)),
    rotated: await send(forged(SECRET, { signature: (good) => `v1,${randomBytes(32).toString("base64")} ${good}` })),
    tampered: await send(forged(SECRET, { body: '{"id":"x","event":"wa.message.received","workspaceId":"evil"}', signedBody: '{"id":"x","event":"wa.message.received","workspaceId":"acme"}' })),
    wrongSecret: await send(forged(other)),
    stale: await send(forged(SECRET, { at: new Date(Date.now() - 6 * 60_000) })),
    future: await send(forged(SECRET, { at: new Date(Date.now() + 6 * 60_000) })),
    unsigned: await send(forged(SECRET, { omit: "webhook-signature" })),
    noTimestamp: await send(forged(SECRET, { omit: "webhook-timestamp" })),
    badVersion: await send(forged(SECRET, { signature: (good) => good.replace(/^v1,/, "v2,") })),
  };
}

const EXPECTED_HOSTILE = { genuine: 204, rotated: 204, tampered: 401, wrongSecret: 401, stale: 401, future: 401, unsigned: 401, noTimestamp: 401, badVersion: 401 };

describe("the receiver snippets of docs/webhooks.md", () => {
  it("the Laravel snippets are valid PHP (php -l)", async () => {
    const doc = await fs.readFile(path.join(ROOT, "docs/webhooks.md"), "utf8");
    for (const name of ["laravel-library", "laravel-controller"]) {
      const file = path.join(dir, `${name}.php`);
      await fs.writeFile(file, `<?php\n${docSnippet(doc, name)}\n`);
      const lint = spawnSync("php", ["-l", file], { encoding: "utf8" });
      expect({ name, status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ name, status: 0, out: expect.stringMatching(/No syntax errors/) });
    }
  });

  it("the dependency-free PHP endpoint accepts every real delivery", async () => {
    await sendIncoming("php", 6);
    const delivered = await waitFor("6 deliveries answered 204 by PHP", async () => {
      const r = (await call("GET", "/workspaces/acme/webhook/deliveries?status=delivered&limit=500")).json as any[];
      const php204 = r.filter((d) => d.url === php.url && d.lastStatus === 204);
      return php204.length >= 6 ? php204 : undefined;
    }, 30000, 100);
    expect((await call("GET", "/workspaces/acme/webhook/deliveries?status=failed")).json).toEqual([]);
    for (const d of delivered) expect(php.log()).toContain(`answered 204 ${d.id}`);
  }, 60000);

  it("the PHP endpoint refuses forged, tampered, stale and unsigned requests", async () => {
    expect(await hostileAnswers(php.url)).toEqual(EXPECTED_HOSTILE);
  }, 30000);

  it("the Node endpoint with standardwebhooks accepts every real delivery and refuses forgeries", async () => {
    expect((await call("PUT", "/workspaces/acme/webhook", { url: nodeReceiver.url, events: ["wa.message.received"] })).status).toBe(200);
    await sendIncoming("node", 6);
    await waitFor("6 deliveries answered 204 by Node", async () => {
      const r = (await call("GET", "/workspaces/acme/webhook/deliveries?status=delivered&limit=500")).json as any[];
      return r.filter((d) => d.url === nodeReceiver.url && d.lastStatus === 204).length >= 6;
    }, 30000, 100);
    expect((await call("GET", "/workspaces/acme/webhook/deliveries?status=failed")).json).toEqual([]);
    expect(await hostileAnswers(nodeReceiver.url)).toEqual(EXPECTED_HOSTILE);
  }, 60000);
});

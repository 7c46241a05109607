// Shared by the api*.test.ts end-to-end suites: one real embedded wafleet process (in-process
// simulated network) in its own temp tree, an admin key, and helpers to link a session.
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, NodeProcess, ROOT, tempDir, waitFor } from "../helpers/processes";
import { request, type HttpResult } from "../helpers/http";

export const ADMIN = "api-e2e-admin-key-0123456789abcdef";

export interface ApiNode {
  proc: NodeProcess;
  /** http://127.0.0.1:port */
  api: string;
  sim: string;
  /** The temp root: DATA_DIR is root/data, SESSIONS_DIR root/data/sessions; nothing else may appear. */
  root: string;
  dataDir: string;
  sessionsDir: string;
  env: Record<string, string>;
  call(method: string, p: string, opts?: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; key?: string }): Promise<HttpResult>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startApiNode(env: Record<string, string> = {}): Promise<ApiNode> {
  const root = await tempDir("api");
  const dataDir = path.join(root, "data");
  const sessionsDir = path.join(dataDir, "sessions");
  const port = await freePort();
  const simPort = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const fullEnv = {
    DATA_DIR: dataDir,
    SESSIONS_DIR: sessionsDir,
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: ADMIN,
    WA_SIM_PORT: String(simPort),
    LAUNCH_STAGGER_MS: "0",
    LOG_LEVEL: "warn",
    // these suites send hundreds of wrong keys from one address on purpose; the throttle of failed
    // authentications has its own tests (api-hostile, "failed authentications")
    API_AUTH_FAILURE_LIMIT: "0",
    ...env,
  };
  const launch = async () => {
    const proc = new NodeProcess("wafleet-api", "dist/bin/wafleet.js", fullEnv);
    await waitFor(
      "the API to answer",
      async () => {
        if (!proc.running) throw new Error(`wafleet exited:\n${proc.output.slice(-3000)}`);
        return (await request(api, "GET", "/healthz").catch(() => ({ status: 0 }))).status === 200;
      },
      30000,
    );
    return proc;
  };
  const node: ApiNode = {
    proc: await launch(),
    api,
    sim: `http://127.0.0.1:${simPort}`,
    root,
    dataDir,
    sessionsDir,
    env: fullEnv,
    call: (method, p, opts = {}) => request(api, method, p, { key: ADMIN, ...opts }),
    async restart() {
      await node.proc.kill("SIGKILL");
      node.proc = await launch();
    },
    async stop() {
      await node.proc.kill("SIGKILL");
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  return node;
}

/** Creates a session and links it through the simulated network; resolves when it is WORKING. */
export async function linkSession(node: ApiNode, workspaceId: string, sessionId: string, phone: string): Promise<void> {
  const created = await node.call("POST", `/api/v1/workspaces/${workspaceId}/sessions`, { body: { sessionId } });
  if (created.status !== 201) throw new Error(`create ${workspaceId}/${sessionId}: ${created.status} ${created.body}`);
  const qr = await waitFor("a QR", async () => {
    const r = await node.call("GET", `/api/v1/workspaces/${workspaceId}/sessions/${sessionId}/qr`, { headers: { accept: "application/json" } });
    return r.status === 200 ? (r.json.qr as string) : undefined;
  });
  const linked = await request(node.sim, "POST", "/sim/link", { body: { qr, phone } });
  if (linked.status !== 200) throw new Error(`link: ${linked.status} ${linked.body}`);
  await waitFor("WORKING", async () => (await node.call("GET", `/api/v1/workspaces/${workspaceId}/sessions/${sessionId}`)).json?.status === "WORKING");
}

/** Every path under dir, relative to it (sorted). */
export async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) await walk(p);
    }
  }
  await walk(dir);
  return out.sort();
}

/** An error answer as the catalogue promises: JSON {error: {code, message}}, no stack, no paths. */
export function expectCleanError(res: HttpResult): void {
  if (res.status < 400) return;
  const text = res.body.toString();
  if (!res.json?.error?.code || typeof res.json.error.message !== "string") throw new Error(`not a catalogue error: ${res.status} ${text.slice(0, 300)}`);
  if (/\/tmp\/|\/work\/|node_modules|\bat [\w.<>]+ \(|\.js:\d+/.test(text)) throw new Error(`error leaks internals: ${text.slice(0, 300)}`);
}

/** Runs the real validator (an ES module) in a child process; resolves with its report. */
export async function validateOpenApi(document: unknown): Promise<string> {
  const dir = await tempDir("openapi");
  const file = path.join(dir, "openapi.json");
  await fs.writeFile(file, JSON.stringify(document));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, "test/helpers/openapi-validate.mjs"), file], { cwd: ROOT });
    return stdout;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Does a JSON value fit a (JSON Schema subset) schema of the OpenAPI document? Enough for the
 * documented answers: $ref, type, required, properties, items, enum, const, oneOf, allOf.
 * Returns the first mismatch as a path, or undefined.
 */
export function mismatch(value: unknown, schema: any, doc: any, at = "$"): string | undefined {
  if (!schema || typeof schema !== "object") return undefined;
  if (schema.$ref) return mismatch(value, schema.$ref.replace("#/", "").split("/").reduce((o: any, k: string) => o?.[k], doc), doc, at);
  if (schema.allOf) for (const s of schema.allOf) if (mismatch(value, s, doc, at)) return mismatch(value, s, doc, at);
  if (schema.oneOf && !schema.oneOf.some((s: any) => mismatch(value, s, doc, at) === undefined)) return `${at}: fits none of oneOf`;
  if ("const" in schema && value !== schema.const) return `${at}: expected ${JSON.stringify(schema.const)}`;
  if (schema.enum && !schema.enum.includes(value)) return `${at}: ${JSON.stringify(value)} not in enum`;
  if (schema.type) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = value === null ? "null" : Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
    if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) return `${at}: ${actual} is not ${types.join("|")}`;
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const r of schema.required ?? []) if (!(r in (value as object))) return `${at}.${r}: missing`;
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      if (k in (value as object)) {
        const m = mismatch((value as any)[k], s, doc, `${at}.${k}`);
        if (m) return m;
      }
    }
  }
  if (Array.isArray(value) && schema.items) {
    for (let i = 0; i < value.length; i++) {
      const m = mismatch(value[i], schema.items, doc, `${at}[${i}]`);
      if (m) return m;
    }
  }
  return undefined;
}

// What the benches that drive one embedded node share: starting it against a simulated network,
// linking a session through the network's admin API, and timing calls one after another.
import { request } from "../../test/helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../../test/helpers/processes";
import { summarize } from "../harness";

export interface EmbeddedNode {
  proc: NodeProcess;
  /** http://127.0.0.1:port */
  api: string;
}

/** An embedded wafleet process on free ports, its sessions on the network at `simUrl`; resolves once it answers. */
export async function startEmbeddedNode(simUrl: string, key: string, opts: { name?: string; env?: Record<string, string> } = {}): Promise<EmbeddedNode> {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const proc = new NodeProcess("wafleet-bench", "dist/bin/wafleet.js", {
    DATA_DIR: await tempDir(opts.name ?? "bench"),
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: key,
    WA_SIM_URL: simUrl,
    LAUNCH_STAGGER_MS: "0",
    LOG_LEVEL: "warn",
    API_RATE_LIMIT: "0",
    ...opts.env,
  });
  try {
    await waitFor("the embedded node", async () => {
      if (!proc.running) throw new Error(`wafleet exited:\n${proc.output.slice(-2000)}`);
      return (await request(api, "GET", "/healthz").catch(() => ({ status: 0 }))).status === 200;
    }, 30000);
  } catch (err) {
    await proc.kill("SIGKILL");
    throw err;
  }
  return { proc, api };
}

/** Creates a session and links it to `phone` through the network's admin API; resolves when it is WORKING. */
export async function linkSession(api: string, key: string, simUrl: string, w: string, s: string, phone: string): Promise<void> {
  await request(api, "POST", `/api/v1/workspaces/${w}/sessions`, { key, body: { sessionId: s } });
  const qr = await waitFor("a QR", async () => {
    const r = await request(api, "GET", `/api/v1/workspaces/${w}/sessions/${s}/qr`, { key, headers: { accept: "application/json" } });
    return r.status === 200 ? (r.json.qr as string) : undefined;
  });
  await request(simUrl, "POST", "/sim/link", { body: { qr, phone } });
  await waitFor("WORKING", async () => (await request(api, "GET", `/api/v1/workspaces/${w}/sessions/${s}`, { key })).json?.status === "WORKING");
}

/** Runs `one` n times in a row; p50/p99 of its latency in ms. */
export async function timed(n: number, one: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await one(i);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return summarize(lat);
}

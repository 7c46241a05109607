// The outbox (issue 22) on an embedded node against the simulated network: (1) enqueue throughput
// (items/s through POST .../outbox in batches of 1,000) against the synchronous messages route in
// the same run; (2) drain accuracy: the measured mean gap between sends against the policy's gap;
// (3) the cost of idle queued items: the node's resident memory per queued item, and its CPU while
// they wait, against the same node idle with nothing queued.
// Args: --sessions=10 --items=20000 --sends=300 --drain=20 (the full size: --sessions=1000
// --items=100000, which needs a machine to itself).
import { readFileSync } from "node:fs";
import { request } from "../test/helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../test/helpers/processes";
import { startSimNetwork } from "../lib/simulator/network";
import { cpuTicksOf, CLK_TCK, figure, intArg, type BenchContext } from "./harness";

const KEY = "bench-outbox-admin-key-0123456789";

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const sessions = intArg(args, "sessions", 10);
  const items = intArg(args, "items", 20000);
  const sends = intArg(args, "sends", 300);
  const drain = intArg(args, "drain", 20);
  const net = await startSimNetwork();
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const proc = new NodeProcess("wafleet-bench", "dist/bin/wafleet.js", {
    DATA_DIR: await tempDir("bench-outbox"),
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: KEY,
    WA_SIM_URL: net.url,
    LAUNCH_STAGGER_MS: "0",
    LOG_LEVEL: "warn",
    API_RATE_LIMIT: "0",
    API_BODY_LIMIT: String(8 * 1024 * 1024),
  });
  const call = (method: string, p: string, body?: unknown) => request(api, method, `/api/v1${p}`, { key: KEY, body });
  try {
    await waitFor("the embedded node", async () => (await request(api, "GET", "/healthz").catch(() => ({ status: 0 }))).status === 200, 30000);
    const ids = Array.from({ length: sessions + 1 }, (_, i) => `s${i}`);
    await mapLimit(ids, 4, async (s) => {
      await call("POST", "/workspaces/bench/sessions", { sessionId: s });
      const qr = await waitFor("a QR", async () => {
        const r = await request(api, "GET", `/api/v1/workspaces/bench/sessions/${s}/qr`, { key: KEY, headers: { accept: "application/json" } });
        return r.status === 200 ? (r.json.qr as string) : undefined;
      });
      await request(net.url, "POST", "/sim/link", { body: { qr, phone: `15556${String(ids.indexOf(s)).padStart(6, "0")}` } });
      await waitFor("WORKING", async () => (await call("GET", `/workspaces/bench/sessions/${s}`)).json?.status === "WORKING");
    });

    // (3, baseline) the node idle, nothing queued
    const idleRss = rssOf(proc.pid);
    let t0 = cpuTicksOf(proc.pid);
    await new Promise((r) => setTimeout(r, 5000));
    const idleCpu = (cpuTicksOf(proc.pid) - t0) / CLK_TCK / 5;

    // (1) the synchronous route: one message per call, 8 in flight
    let started = process.hrtime.bigint();
    await mapLimit(Array.from({ length: sends }, (_, i) => i), 8, async (i) => {
      const r = await call("POST", `/workspaces/bench/sessions/s${1 + (i % sessions)}/messages`, { to: `1555900${String(i % 1000).padStart(4, "0")}`, text: `sync ${i}` });
      if (r.status !== 201) throw new Error(`send answered ${r.status}`);
    });
    const syncRate = sends / (Number(process.hrtime.bigint() - started) / 1e9);
    // the outbox: batches of 1,000 held for a day (notBefore), so they stay queued for (3)
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const batches: Array<{ s: string; n: number }> = [];
    for (let left = items, i = 0; left > 0; i++) {
      batches.push({ s: `s${1 + (i % sessions)}`, n: Math.min(1000, left) });
      left -= 1000;
    }
    started = process.hrtime.bigint();
    await mapLimit(batches, 8, async (b) => {
      const body = { items: Array.from({ length: b.n }, (_, k) => ({ to: `1555800${String(k).padStart(4, "0")}`, text: `campaign item ${k}`, notBefore: later })) };
      const r = await call("POST", `/workspaces/bench/sessions/${b.s}/outbox`, body);
      if (r.status !== 202 || r.json.queued !== b.n) throw new Error(`enqueue answered ${r.status}`);
    });
    const enqueueRate = items / (Number(process.hrtime.bigint() - started) / 1e9);
    emit(figure("outbox.enqueue.rate", "items/s", enqueueRate, { name: "POST .../messages (synchronous sends), same node and run", value: syncRate }, { items, sessions, batch: 1000 }));

    // (3) idle queued items
    await new Promise((r) => setTimeout(r, 2000));
    const queuedRss = rssOf(proc.pid);
    t0 = cpuTicksOf(proc.pid);
    await new Promise((r) => setTimeout(r, 5000));
    const queuedCpu = (cpuTicksOf(proc.pid) - t0) / CLK_TCK / 5;
    emit(figure("outbox.idle.memory-per-item", "bytes", (queuedRss - idleRss) / items, undefined, { items, rssBefore: idleRss, rssAfter: queuedRss }));
    emit(figure("outbox.idle.cpu", "cores", queuedCpu, { name: "the same node with nothing queued", value: idleCpu }, { items, sessions }));

    // (2) drain accuracy on a session of its own: 60 a minute (a 1 s gap), no jitter, no typing
    const s0 = "/workspaces/bench/sessions/s0/outbox";
    await call("PUT", `${s0}/policy`, { perMinute: 60, jitterMs: 0, typing: false });
    await call("POST", s0, { items: Array.from({ length: drain }, (_, k) => ({ to: `1555700${String(k).padStart(4, "0")}`, text: `paced ${k}` })) });
    const sent = await waitFor("the paced items sent", async () => {
      const r = await call("GET", `${s0}?state=sent&limit=500`);
      return r.json.items.length === drain ? (r.json.items as Array<{ sentAt: number }>) : undefined;
    }, drain * 2000 + 30000, 500);
    const times = sent.map((i) => i.sentAt).sort((a, b) => a - b);
    const meanGap = (times[times.length - 1]! - times[0]!) / (times.length - 1);
    emit(figure("outbox.drain.mean-gap", "ms", meanGap, { name: "the policy's gap (60 s / perMinute)", value: 1000 }, { items: drain }));
  } finally {
    await proc.kill("SIGKILL");
    await net.close();
  }
}

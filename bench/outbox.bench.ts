// The outbox (issue 22) on an embedded node against the simulated network: (1) enqueue throughput
// (items/s through POST .../outbox in batches of 1,000) against the synchronous messages route in
// the same run; (2) drain accuracy: the measured mean gap between sends against the policy's gap;
// (3) the cost of idle queued items: the node's resident memory per queued item, and its CPU while
// they wait, against the same node idle with nothing queued.
// Args: --sessions=10 --items=20000 --sends=300 --drain=20 on one embedded node; with --nodes=N the
// same figures on a cluster of N session nodes, a gateway, nats-server and redis-server as real
// processes (the size: --nodes=4 --sessions=1000 --items=100000; docs/benchmarks.md says
// what this machine ran).
import { readFileSync } from "node:fs";
import { mapLimit as mapLimitR, TestCluster } from "../test/helpers/cluster";
import { request } from "../test/helpers/http";
import { waitFor } from "../test/helpers/processes";
import { startSimNetwork } from "../lib/simulator/network";
import { cpuTicksOf, CLK_TCK, figure, intArg, type BenchContext } from "./harness";
import { linkSession, startEmbeddedNode } from "./support/embedded";

const KEY = "bench-outbox-admin-key-0123456789";

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export default async function run(ctx: BenchContext): Promise<void> {
  if (intArg(ctx.args, "nodes", 0) > 0) return runCluster(ctx);
  return runEmbedded(ctx);
}

async function runEmbedded({ emit, args }: BenchContext): Promise<void> {
  const sessions = intArg(args, "sessions", 10);
  const items = intArg(args, "items", 20000);
  const sends = intArg(args, "sends", 300);
  const drain = intArg(args, "drain", 20);
  const net = await startSimNetwork();
  const { proc, api } = await startEmbeddedNode(net.url, KEY, { name: "bench-outbox", env: { API_BODY_LIMIT: String(8 * 1024 * 1024) } });
  const call = (method: string, p: string, body?: unknown) => request(api, method, `/api/v1${p}`, { key: KEY, body });
  try {
    const ids = Array.from({ length: sessions + 1 }, (_, i) => `s${i}`);
    await mapLimit(ids, 4, (s) => linkSession(api, KEY, net.url, "bench", s, `15556${String(ids.indexOf(s)).padStart(6, "0")}`));

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

/**
 * The cluster variant: N session nodes own the sessions (S/5 workspaces placed by the cluster), every
 * call goes through the gateway. Drain accuracy is measured where the contacts see it (the network's
 * acceptance times), on `drainSessions` sessions draining at once while the rest of the queue waits.
 */
async function runCluster({ emit, args }: BenchContext): Promise<void> {
  const nodes = intArg(args, "nodes", 4);
  const sessions = intArg(args, "sessions", 1000);
  const items = intArg(args, "items", 100 * sessions);
  const sends = intArg(args, "sends", 300);
  const drain = intArg(args, "drain", 20);
  const drainSessions = Math.min(sessions, intArg(args, "drain-sessions", 10));
  const log = (line: string) => process.stderr.write(`[outbox] ${line}\n`);
  const c = new TestCluster();
  const names = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const perWorkspace = 5;
  const all = Array.from({ length: sessions }, (_, k) => ({ w: `ow${Math.floor(k / perWorkspace)}`, s: `s${k % perWorkspace}`, phone: `1778${String(k).padStart(7, "0")}` }));
  const OB = (x: { w: string; s: string }) => `/workspaces/${x.w}/sessions/${x.s}/outbox`;
  const rssNow = () => names.reduce((sum, n) => sum + (c.nodes.get(n)?.running ? rssOf(c.nodes.get(n)!.pid) : 0), 0);
  // resident memory moves with every collection: the mean of ten samples a second apart
  const nodeRss = async () => {
    let sum = 0;
    for (let i = 0; i < 10; i++) {
      sum += rssNow();
      await new Promise((r) => setTimeout(r, 1000));
    }
    return sum / 10;
  };
  const nodeCpu = () => names.reduce((sum, n) => sum + cpuTicksOf(c.nodes.get(n)!.pid), 0) / CLK_TCK;
  try {
    c.gatewayEnv = { API_RATE_LIMIT: "0", API_BODY_LIMIT: String(8 * 1024 * 1024) };
    await c.start(names, { LEASE_TTL_MS: "10000", TAKEOVER_MARGIN_MS: "3000", MAX_SESSIONS_PER_INSTANCE: String(Math.max(750, sessions)) }, { WA_SIM_KEEPALIVE_MS: "5000" });
    const linkStart = Date.now();
    await mapLimitR(all, 16, async (x) => {
      await c.retrying(() => c.call("POST", `/workspaces/${x.w}/sessions`, { sessionId: x.s }), [201]);
      const qr = await waitFor(`QR of ${x.w}/${x.s}`, async () => {
        const r = await c.call("GET", `/workspaces/${x.w}/sessions/${x.s}/qr`, undefined, { accept: "application/json" });
        return r.status === 200 ? (r.json.qr as string) : undefined;
      }, 60000, 100);
      const linked = await request(c.sim.url, "POST", "/sim/link", { body: { qr, phone: x.phone } });
      if (linked.status !== 200) throw new Error(`link failed: ${linked.body.toString()}`);
    });
    const workspaces = [...new Set(all.map((x) => x.w))];
    await waitFor("every session WORKING", async () => {
      let working = 0;
      await mapLimitR(workspaces, 16, async (w) => {
        const r = await c.call("GET", `/workspaces/${w}/sessions`);
        if (r.status === 200) working += (r.json as Array<{ status: string }>).filter((v) => v.status === "WORKING").length;
      });
      return working === sessions;
    }, 900_000, 1000);
    log(`linked ${sessions} sessions on ${nodes} nodes in ${((Date.now() - linkStart) / 1000).toFixed(0)} s`);

    // (3, baseline) the nodes with every session WORKING and nothing queued
    await new Promise((r) => setTimeout(r, 5000));
    const idleRss = await nodeRss();
    let cpu0 = nodeCpu();
    await new Promise((r) => setTimeout(r, 10000));
    const idleCpu = (nodeCpu() - cpu0) / 10;

    // (1) the synchronous route through the gateway: one message per call, 8 in flight
    let started = process.hrtime.bigint();
    await mapLimitR(Array.from({ length: sends }, (_, i) => i), 8, async (i) => {
      const x = all[i % sessions]!;
      const r = await c.call("POST", `/workspaces/${x.w}/sessions/${x.s}/messages`, { to: `1555900${String(i % 1000).padStart(4, "0")}`, text: `sync ${i}` });
      if (r.status !== 201) throw new Error(`send answered ${r.status}`);
    });
    const syncRate = sends / (Number(process.hrtime.bigint() - started) / 1e9);
    // the outbox: every session's share in batches of up to 1,000, held for a day (notBefore) so they stay queued
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const batches: Array<{ x: (typeof all)[number]; n: number }> = [];
    const queued = all.slice(drainSessions);
    const share = Math.floor(items / queued.length);
    for (const [k, x] of queued.entries()) for (let left = share + (k < items % queued.length ? 1 : 0); left > 0; left -= 1000) batches.push({ x, n: Math.min(1000, left) });
    started = process.hrtime.bigint();
    await mapLimitR(batches, 8, async (b) => {
      const body = { items: Array.from({ length: b.n }, (_, k) => ({ to: `1555800${String(k % 10000).padStart(4, "0")}`, text: `campaign item ${k}`, notBefore: later })) };
      const r = await c.retrying(() => c.call("POST", OB(b.x), body), [202]);
      if (r.json.queued !== b.n) throw new Error(`enqueue queued ${r.json.queued} of ${b.n}`);
    });
    const enqueueRate = items / (Number(process.hrtime.bigint() - started) / 1e9);
    emit(figure("outbox.cluster.enqueue.rate", "items/s", enqueueRate, { name: "POST .../messages (synchronous sends) through the gateway, same cluster and run", value: syncRate }, { items, sessions: queued.length, nodes }));

    // (3) idle queued sessions: memory and CPU of the session nodes against before
    await new Promise((r) => setTimeout(r, 5000));
    const queuedRss = await nodeRss();
    cpu0 = nodeCpu();
    await new Promise((r) => setTimeout(r, 10000));
    const queuedCpu = (nodeCpu() - cpu0) / 10;
    emit(figure("outbox.cluster.idle.memory-per-session", "bytes", (queuedRss - idleRss) / queued.length, undefined, { sessions: queued.length, itemsPerSession: Math.round(items / queued.length), perItem: Math.round((queuedRss - idleRss) / items), rssBefore: idleRss, rssAfter: queuedRss, nodes }));
    emit(figure("outbox.cluster.idle.cpu", "cores", queuedCpu, { name: "the same session nodes with nothing queued", value: idleCpu }, { items, sessions: queued.length, nodes }));

    // (2) drain accuracy: drainSessions sessions at 60 a minute (a 1 s gap), no jitter, no typing, at once
    const drainers = all.slice(0, drainSessions);
    await mapLimitR(drainers, 8, async (x) => {
      await c.retrying(() => c.call("PUT", `${OB(x)}/policy`, { perMinute: 60, jitterMs: 0, typing: false }), [200]);
      await c.retrying(() => c.call("POST", OB(x), { items: Array.from({ length: drain }, (_, k) => ({ to: `1555700${String(k).padStart(4, "0")}`, text: `paced ${x.w}/${x.s} ${k}` })) }), [202]);
    });
    const phones = new Set(drainers.map((x) => x.phone));
    const outgoing = await waitFor("the paced items sent", async () => {
      const o = ((await request(c.sim.url, "GET", "/sim/ledger")).json.outgoing as Array<{ fromPhone: string; body: string; acceptedAt: number }>).filter((m) => phones.has(m.fromPhone) && m.body.startsWith("paced "));
      return o.length === drain * drainSessions ? o : undefined;
    }, drain * 3000 + 60000, 1000);
    const gaps: number[] = [];
    for (const phone of phones) {
      const at = outgoing.filter((m) => m.fromPhone === phone).map((m) => m.acceptedAt).sort((a, b) => a - b);
      for (let k = 1; k < at.length; k++) gaps.push(at[k]! - at[k - 1]!);
    }
    const meanGap = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    emit(figure("outbox.cluster.drain.mean-gap", "ms", meanGap, { name: "the policy's gap (60 s / perMinute)", value: 1000 }, { sessions: drainSessions, items: drain, minGap: Math.min(...gaps), maxGap: Math.max(...gaps), nodes, queuedElsewhere: items }));
  } finally {
    await c.stop();
  }
}

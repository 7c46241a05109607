// The scale run (issue 10): real nats-server and redis-server, the simulated network, N session
// nodes, a gateway and a webhooks node as separate processes. Links S sessions in S/5 workspaces
// through the REST API at a bounded rate, holds them under a steady mixed load (idempotent sends,
// incoming messages, status reads), kills one session node with SIGKILL mid-run, adds a node
// later, and reports figures, each beside a baseline measured in the same run. Bounded in time;
// every process it starts is stopped at the end.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { monotonicUs, parseTimingHeader } from "../lib/api/timing";
import { mapLimit, TestCluster } from "../test/helpers/cluster";
import { request } from "../test/helpers/http";
import { ROOT, waitFor } from "../test/helpers/processes";
import { WebhookReceiver } from "../test/helpers/webhook-receiver";
import { CostMeter, type CostPhase, type CostSnapshot } from "./cost-meter";
import { CLK_TCK, cpuTicksOf, figure, summarize, type Figure } from "./harness";

export interface ScaleOptions {
  sessions: number;
  nodes: number;
  /** Seconds of load before the kill, between the kill and the join, and after the join. */
  phaseSeconds: number;
  /** Concurrent REST calls while linking (the bounded rate). */
  linkConcurrency: number;
  /** Load workers (each: one operation at a time). */
  workers: number;
  /** Kill a node mid-run and add one later. */
  faults: boolean;
  /** Writes a V8 CPU profile of every wafleet process and of the simulated network here (`--cpu-prof`); they stop with SIGTERM to flush it. */
  profileDir?: string;
  /**
   * Redis's AOF fsync (default "always", the test cluster's: two fsyncs on every idempotent send's
   * path); "everysec" is k8s/base/redis.yaml's.
   */
  redisFsync?: "always" | "everysec";
  /** Seconds with every session linked and no load, before the load starts: the background costs (default 5). */
  idleSeconds?: number;
  log?: (line: string) => void;
}

export interface ScaleResult {
  figures: Figure[];
  /** The invariants, for the smoke test. */
  conflicts: number;
  lost: number;
  duplicated: number;
  accepted: number;
  incoming: number;
  webhooksDelivered: number;
  allWorking: boolean;
  /** Per-phase costs (Redis commands, NATS messages, JetStream bytes, CPU): the capacity model's inputs. */
  costs: CostPhase[];
}

const CONTACTS = Array.from({ length: 20 }, (_, i) => `1999${String(i).padStart(7, "0")}`);

const cpuSecondsOf = (pid: number) => cpuTicksOf(pid) / CLK_TCK;

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const log = o.log ?? (() => undefined);
  const c = new TestCluster();
  const receiver = await new WebhookReceiver().start();
  const lat = new Map<string, number[]>();
  const time = async <T>(route: string, fn: () => Promise<T>): Promise<T> => {
    const t = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      (lat.get(route) ?? lat.set(route, []).get(route)!).push(ms);
    }
  };
  const nodeNames = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const peakRss = new Map<string, number>();
  const cpuSeconds = new Map<string, number>();
  const started = Date.now();
  let sampler: NodeJS.Timeout | undefined;
  let meter: CostMeter | undefined;
  const costs: CostPhase[] = [];
  try {
    // one admin key drives the whole load: no per-key rate limit on the gateway
    // every process reports its event-loop delay every 5 s (bench/support/loop-delay.ts); with
    // --profile it also writes a V8 CPU profile
    // (the processes run dist/, as the test helpers start them, also when this file runs under jest)
    const preloadFile = path.join(ROOT, "dist", "bench", "support", "loop-delay.js");
    const preload = existsSync(preloadFile) ? `--require ${preloadFile}` : "";
    const prof = (name: string): Record<string, string> => {
      const opts = [preload, o.profileDir ? `--cpu-prof --cpu-prof-dir=${o.profileDir}/${name}` : ""].filter(Boolean).join(" ");
      return opts ? { NODE_OPTIONS: opts } : {};
    };
    c.gatewayEnv = { API_RATE_LIMIT: "0", ...prof("gateway") };
    // default lease timings (10 s / 3 s) and the network's default keepalive: the shipped settings
    const nodeEnv = { LEASE_TTL_MS: "10000", TAKEOVER_MARGIN_MS: "3000", MAX_SESSIONS_PER_INSTANCE: String(Math.max(750, o.sessions)) };
    // nats-server with its monitoring port: messages and bytes per phase (/varz, /jsz)
    c.natsMonitor = true;
    c.redisFsync = o.redisFsync ?? "always";
    // The network's ledger stays in memory (WA_SIM_STATE_FILE empty): the run never restarts the
    // network, and at 10,000 sessions each write of the file serialised megabytes of ledger on the
    // network's one thread (up to a tenth of its time, in blocks every send's ack waited behind),
    // work of the test oracle on the cores the measured processes share.
    await c.start(nodeNames, { ...nodeEnv, ...prof("nodes") }, { WA_SIM_KEEPALIVE_MS: "5000", WA_SIM_STATE_FILE: "", ...prof("sim") });
    await c.startRole("hooks", "webhooks", { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "200", WEBHOOK_BACKOFF_MAX_MS: "2000", ...prof("hooks") });
    const rssBefore = new Map(nodeNames.map((n) => [n, rssOf(c.nodes.get(n)!.pid)]));
    const idleRss = Math.max(...rssBefore.values());
    const processes = (): Array<[string, number]> => [
      ...[...c.nodes.entries(), ["gateway", c.gateway] as const, ...c.roles.entries()].filter(([, p]) => p.running).map(([name, p]) => [name, p.pid] as [string, number]),
      ["sim", c.sim.proc.pid],
      ...(c.nats.child?.pid ? [["nats", c.nats.child.pid] as [string, number]] : []),
      ...(c.redis.child?.pid ? [["redis", c.redis.child.pid] as [string, number]] : []),
    ];
    const cpuNow = () => new Map(processes().map(([name, pid]) => [name, cpuSecondsOf(pid)]));
    const sample = () => {
      for (const [name, pid] of processes()) {
        if (name !== "sim" && name !== "nats" && name !== "redis") peakRss.set(name, Math.max(peakRss.get(name) ?? 0, rssOf(pid)));
        cpuSeconds.set(name, Math.max(cpuSeconds.get(name) ?? 0, cpuSecondsOf(pid)));
      }
    };
    // every 30 s a line of cores per process over those 30 s (and RSS): what saturated first can be
    // read from the log even when a large run does not finish
    sample();
    let window = { at: Date.now(), cpu: new Map(cpuSeconds) };
    sampler = setInterval(() => {
      sample();
      if (Date.now() - window.at < 30_000) return;
      const secs = (Date.now() - window.at) / 1000;
      const parts = [...cpuSeconds].map(([name, cpu]) => `${name} ${((cpu - (window.cpu.get(name) ?? cpu)) / secs).toFixed(2)}`);
      const rss = [...processes()].map(([name, pid]) => `${name} ${Math.round(rssOf(pid) / 1048576)}`);
      log(`cores over ${Math.round(secs)} s: ${parts.join(", ")} | RSS MiB: ${rss.join(", ")} | load ${loadavg()[0]!.toFixed(1)}`);
      window = { at: Date.now(), cpu: new Map(cpuSeconds) };
    }, 500);
    // what the harness did so far, for costs per operation
    const ops = { sends: 0, incoming: 0 };
    const requests = () => [...lat.values()].reduce((n, l) => n + l.length, 0);
    meter = new CostMeter(
      c.redis.url,
      c.nats.monitorUrl,
      () => {
        sample();
        return new Map(cpuSeconds);
      },
      () => new Map(processes().map(([name, pid]) => [name, rssOf(pid)])),
      () => ({ requests: requests(), sends: ops.sends, incoming: ops.incoming }),
    );
    let mark: CostSnapshot = await meter.snapshot();
    // the phases' bounds on the monotonic clock the processes' loop-delay lines are dated by, and
    // the harness's own event-loop delay per phase (the client's stalls count in every latency)
    const phases: Array<{ name: string; from: number; to: number; harnessLoop: { p50: number; p99: number; max: number } }> = [];
    const harnessLoop = monitorEventLoopDelay({ resolution: 10 });
    harnessLoop.enable();
    let phaseFrom = monotonicUs();
    /** The phase now running (the one the next phaseEnd closes). */
    let phaseNow = "webhooks";
    /** Closes the current phase (its costs recorded) and opens the next. */
    const phaseEnd = async (name: string) => {
      const next = await meter!.snapshot();
      costs.push(CostMeter.phase(name, mark, next));
      mark = next;
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      phases.push({ name, from: phaseFrom, to: monotonicUs(), harnessLoop: { p50: ms(harnessLoop.percentile(50)), p99: ms(harnessLoop.percentile(99)), max: ms(harnessLoop.max) } });
      harnessLoop.reset();
      phaseFrom = monotonicUs();
      phaseNow = PHASE_AFTER[name] ?? `after-${name}`;
      return next;
    };

    const perWorkspace = 5;
    const sessions: Array<{ workspaceId: string; sessionId: string; phone: string }> = Array.from({ length: o.sessions }, (_, k) => ({ workspaceId: `sw${Math.floor(k / perWorkspace)}`, sessionId: `s${k % perWorkspace}`, phone: `1777${String(k).padStart(7, "0")}` }));
    const workspaces = [...new Set(sessions.map((s) => s.workspaceId))];
    for (const w of workspaces) await time("PUT /webhook", () => c.retrying(() => c.call("PUT", `/workspaces/${w}/webhook`, { url: receiver.url, events: ["wa.message.received"] }), [200, 201]));
    await phaseEnd("webhooks");

    // 1. link everything through the API, at a bounded rate
    const linkStart = Date.now();
    const cpuAtLinkStart = cpuNow();
    // each workspace is read once its sessions are linked, until all of them show WORKING, dated by
    // the answer that showed it; linking ends with the last of them. (It used to end with a poll
    // of every workspace after the last link, 2,000 reads at 10,000 sessions: seconds a poll, and
    // the figure waited for the whole poll.) Four reads at a time, beside the links.
    const sessionsIn = new Map<string, number>();
    for (const s of sessions) sessionsIn.set(s.workspaceId, (sessionsIn.get(s.workspaceId) ?? 0) + 1);
    const linkedIn = new Map<string, number>();
    const linkedAt = new Map<string, number>();
    const toCheck: string[] = [];
    let linking = true;
    let abandoned = false;
    const deadline = Date.now() + 600_000;
    const checkers = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!abandoned && (linking || linkedAt.size < workspaces.length)) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for every session WORKING (${linkedAt.size} of ${workspaces.length} workspaces)`);
          const w = toCheck.shift();
          if (!w) {
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          const r = await time("GET /sessions", () => c.call("GET", `/workspaces/${w}/sessions`));
          if (r.status === 200 && r.json.filter((x: any) => x.status === "WORKING").length === sessionsIn.get(w)) linkedAt.set(w, Date.now());
          else setTimeout(() => toCheck.push(w), 100);
        }
      }),
    );
    await mapLimit(sessions, o.linkConcurrency, async (s) => {
      await time("POST /sessions", () => c.retrying(() => c.call("POST", `/workspaces/${s.workspaceId}/sessions`, { sessionId: s.sessionId }), [201]));
      const qr = await waitFor(`QR of ${s.workspaceId}/${s.sessionId}`, async () => {
        const r = await time("GET /qr", () => c.call("GET", `/workspaces/${s.workspaceId}/sessions/${s.sessionId}/qr`, undefined, { accept: "application/json" }));
        return r.status === 200 ? (r.json.qr as string) : undefined;
      }, 60000, 100);
      const linked = await request(c.sim.url, "POST", "/sim/link", { body: { qr, phone: s.phone } });
      if (linked.status !== 200) throw new Error(`link failed: ${linked.body.toString()}`);
      linkedIn.set(s.workspaceId, (linkedIn.get(s.workspaceId) ?? 0) + 1);
      if (linkedIn.get(s.workspaceId) === sessionsIn.get(s.workspaceId)) toCheck.push(s.workspaceId);
    }).then(
      () => (linking = false),
      (err) => {
        abandoned = true;
        throw err;
      },
    );
    const allWorking = async (among: string[] = workspaces) => {
      let working = 0;
      const nodes = new Set<string>();
      await mapLimit(among, 16, async (w) => {
        const r = await time("GET /sessions", () => c.call("GET", `/workspaces/${w}/sessions`));
        if (r.status !== 200) return;
        for (const s of r.json) {
          if (s.status !== "WORKING") continue;
          working++;
          nodes.add(s.node);
        }
      });
      return { working, nodes };
    };
    await checkers;
    const linkSeconds = ([...linkedAt.values()].reduce((a, b) => Math.max(a, b), linkStart) - linkStart) / 1000;
    const cpuAtLinkEnd = cpuNow();
    // and every one still WORKING, read together once more (not timed; its end is kept beside the
    // figure: the figure used to end with the first such poll that saw them all)
    await waitFor("every session still WORKING", async () => (await allWorking()).working === o.sessions, 120_000, 1000);
    const linkPollEndSeconds = Math.round((Date.now() - linkStart) / 100) / 10;
    log(`linked ${o.sessions} sessions in ${linkSeconds.toFixed(1)} s`);
    await phaseEnd("link");
    // the background: every session linked, nothing asked of the cluster
    await new Promise((r) => setTimeout(r, (o.idleSeconds ?? 5) * 1000));
    const rssIdle = await phaseEnd("idle");

    // 2. steady mixed load
    let stop = false;
    let seq = 0;
    const accepted: string[] = [];
    const incomingIds: string[] = [];
    const sendLat: number[] = [];
    // each accepted send's hops (microseconds), from the stamps its answer carries (lib/api/timing.ts)
    const hops: SendHops[] = [];
    const refusals = new Map<string, number>();
    let loadErrors = 0;
    const load = Promise.all(
      Array.from({ length: o.workers }, async (_, wk) => {
        let i = 0;
        while (!stop) {
          try {
            await step(wk, i++);
          } catch (err) {
            // a refused connection while a process restarts is load noise; counted, and the tail
            // of every process's log is printed if the run fails
            if (loadErrors++ < 5) log(`load error: ${(err as Error).message}`);
            await new Promise((res) => setTimeout(res, 250));
          }
        }
      }),
    );
    async function step(wk: number, i: number): Promise<void> {
      {
        {
          const s = sessions[(wk * 7919 + i * 104729) % sessions.length]!;
          const kind = i % 4;
          if (kind <= 1) {
            const text = `scale-${seq++}`;
            const to = CONTACTS[seq % CONTACTS.length]!;
            const t = Date.now();
            const first = monotonicUs();
            for (;;) {
              const h0 = monotonicUs();
              const r = await time("POST /messages", () => c.call("POST", `/workspaces/${s.workspaceId}/sessions/${s.sessionId}/messages`, { to, text }, { "idempotency-key": text, "x-wafleet-timing": "1" }));
              const h1 = monotonicUs();
              if (r.status === 201) {
                accepted.push(text);
                ops.sends++;
                sendLat.push(Date.now() - t);
                const hop = hopsOf(phaseNow, first, h0, h1, r.headers["x-wafleet-timing"] as string | undefined);
                if (hop) hops.push(hop);
                break;
              }
              // why a send was refused before it was accepted (the retries in the tail), by phase
              const why = `${phaseNow} ${r.status} ${r.json?.error?.code ?? ""}`.trim();
              refusals.set(why, (refusals.get(why) ?? 0) + 1);
              if (Date.now() - t > 120_000) break;
              await new Promise((res) => setTimeout(res, 250));
            }
          } else if (kind === 2) {
            const r = await request(c.sim.url, "POST", `/sim/contacts/${CONTACTS[i % CONTACTS.length]}/send`, { body: { to: s.phone, body: `in-${wk}-${i}` } });
            if (r.status === 202) {
              incomingIds.push(r.json.id);
              ops.incoming++;
            }
          } else {
            await time("GET /sessions/:s", () => c.call("GET", `/workspaces/${s.workspaceId}/sessions/${s.sessionId}`));
          }
        }
      }
    }
    const phase = () => new Promise((r) => setTimeout(r, o.phaseSeconds * 1000));
    await phase();
    await phaseEnd("steady");

    let failoverSeconds = NaN;
    let reassignedSeconds = 0;
    let pollEndSeconds = NaN;
    let adoptedSeconds = 0;
    let moved = 0;
    let joinMoves = NaN;
    if (o.faults) {
      // 3. kill the busiest node
      const before = await c.cluster();
      const victim = [...before.nodes].sort((a: any, b: any) => b.sessions - a.sessions)[0].node as string;
      moved = before.nodes.find((n: any) => n.node === victim).sessions;
      // the victim's workspaces are what moves; polling only them keeps the harness's own reads
      // (a GET per workspace per poll) from growing with the whole cluster while it measures
      const victims: string[] = before.assignments.filter((a: any) => a.node === victim).map((a: any) => a.workspaceId);
      const killed = Date.now();
      await c.nodes.get(victim)!.kill("SIGKILL");
      // when the coordinator had reassigned all the victim's workspaces (its log lines' own times):
      // the failover splits into the protocol's part (lease expiry, margin, a tick) and the restore
      const seen = new Map([...c.nodes.entries()].map(([n, p]) => [n, p.output.length]));
      const reassigned = () => {
        if (reassignedSeconds) return;
        const outputs = [...c.nodes].filter(([n]) => n !== victim).map(([n, p]) => p.output.slice(seen.get(n) ?? 0));
        const at = reassignedAt(outputs, victim, victims.length, killed);
        if (at !== undefined) reassignedSeconds = (at - killed) / 1000;
      };
      // each of the victim's workspaces is read until all its sessions show WORKING on a survivor,
      // dated by the answer that showed it; the failover ends with the last of them. Restored
      // workspaces are not read again, so the harness's own reads shrink as the restore goes on
      // (re-reading all 257 of a 10,000-session run's victim took seconds a poll under load, and
      // the figure waited for the whole poll)
      const perWorkspace = new Map<string, number>();
      for (const s of sessions) if (victims.includes(s.workspaceId)) perWorkspace.set(s.workspaceId, (perWorkspace.get(s.workspaceId) ?? 0) + 1);
      const restoredAt = new Map<string, number>();
      await waitFor("failover", async () => {
        reassigned();
        await mapLimit(victims.filter((w) => !restoredAt.has(w)), 16, async (w) => {
          const r = await time("GET /sessions", () => c.call("GET", `/workspaces/${w}/sessions`));
          if (r.status !== 200) return;
          const working = r.json.filter((s: any) => s.status === "WORKING" && s.node !== victim).length;
          if (working === perWorkspace.get(w)) restoredAt.set(w, Date.now());
        });
        reassigned();
        return restoredAt.size === victims.length;
      }, 180_000, 500);
      failoverSeconds = (Math.max(killed, ...restoredAt.values()) - killed) / 1000;
      // what the figure was before (until the end of the poll that saw the last one), for comparison
      pollEndSeconds = Math.round((Date.now() - killed) / 100) / 10;
      reassigned();
      // and when the new owners had read the victim's sessions and queued their engines
      const adopted = adoptedAt([...c.nodes].filter(([n]) => n !== victim).map(([n, p]) => p.output.slice(seen.get(n) ?? 0)), victims, killed);
      if (adopted !== undefined) adoptedSeconds = (adopted - killed) / 1000;
      log(`failover of ${victim} (${moved} sessions): ${failoverSeconds.toFixed(1)} s${reassignedSeconds ? ` (reassigned after ${reassignedSeconds.toFixed(1)} s${adoptedSeconds ? `, adopted after ${adoptedSeconds.toFixed(1)} s` : ""}, all WORKING ${(failoverSeconds - reassignedSeconds).toFixed(1)} s after the reassignment)` : ""}`);
      // and nothing else broke meanwhile (not timed)
      await waitFor("every session WORKING after the failover", async () => (await allWorking()).working === o.sessions, 120_000, 1000);
      await phaseEnd("failover");
      await phase();
      await phaseEnd("after-failover");

      // 4. a node joins
      const beforeJoin = new Map<string, string>((await c.cluster()).assignments.map((a: any) => [a.workspaceId, a.node]));
      await c.startNode(`n${o.nodes + 1}`, { ...nodeEnv, ...prof("nodes") });
      await waitFor("the join's rebalance to settle", async () => {
        const a = (await c.cluster()).assignments;
        const w = await allWorking();
        return a.some((x: any) => x.node === `n${o.nodes + 1}`) && w.working === o.sessions;
      }, 180_000, 1000);
      await new Promise((r) => setTimeout(r, 3000));
      const afterJoin = (await c.cluster()).assignments;
      joinMoves = afterJoin.filter((a: any) => beforeJoin.get(a.workspaceId) !== a.node).length;
      log(`join: ${joinMoves} of ${workspaces.length} workspaces moved`);
      await phaseEnd("join");
      await phase();
      await phaseEnd("after-join");
    }
    stop = true;
    await load;

    // 5. oracle: every accepted send delivered exactly once; every incoming message to the webhook
    await waitFor("every session WORKING at the end", async () => (await allWorking()).working === o.sessions, 180_000, 1000).catch(() => undefined);
    const finalWorking = (await allWorking()).working === o.sessions;
    const counts = new Map<string, number>();
    for (const contact of CONTACTS) for (const m of await c.inbox(contact)) counts.set(m.body, (counts.get(m.body) ?? 0) + 1);
    const lost = accepted.filter((t) => !counts.has(t)).length;
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    const receivedIds = () => new Set(receiver.requests.filter((r) => r.status < 300 && r.body?.event === "wa.message.received").map((r) => r.body.message?.id));
    await waitFor("webhooks to catch up", () => incomingIds.every((id) => receivedIds().has(id)), 120_000, 500).catch(() => undefined);
    const delivered = incomingIds.filter((id) => receivedIds().has(id)).length;
    const stats = await c.simStats();

    // 6. figures
    const figures: Figure[] = [];
    const health = summarize(await Promise.all(Array.from({ length: 200 }, async () => {
      const t = process.hrtime.bigint();
      await request(c.api, "GET", "/healthz");
      return Number(process.hrtime.bigint() - t) / 1e6;
    })));
    figures.push(figure("scale.link.seconds", "s", linkSeconds, { name: "sessions / link concurrency x one link round trip (POST+GET qr)", value: (o.sessions / o.linkConcurrency) * ((summarize(lat.get("POST /sessions")!).p50 + summarize(lat.get("GET /qr")!).p50) / 1000) }, { sessions: o.sessions, workspaces: workspaces.length, nodes: o.nodes, pollEndSeconds: linkPollEndSeconds }));
    for (const [route, samples] of lat) {
      const s = summarize(samples);
      figures.push(figure(`scale.api.${route}.p50`, "ms", s.p50, { name: "GET /healthz on the same gateway (no action)", value: health.p50 }, { n: s.n }));
      figures.push(figure(`scale.api.${route}.p99`, "ms", s.p99, { name: "GET /healthz on the same gateway (no action)", value: health.p99 }, { n: s.n }));
    }
    const sl = summarize(sendLat);
    const reads = summarize(lat.get("GET /sessions/:s") ?? [0]);
    figures.push(figure("scale.send.p50", "ms", sl.p50, { name: "GET /sessions/:s p50 (routed read, same run)", value: reads.p50 }, { n: sl.n }));
    figures.push(figure("scale.send.p99", "ms", sl.p99, { name: "GET /sessions/:s p99 (routed read, same run)", value: reads.p99 }, { n: sl.n, redisFsync: c.redisFsync, loadAverage: loadavg().map((x) => Math.round(x * 10) / 10) }));
    figures.push(...hopFigures(hops));
    figures.push(figure("scale.send.refused", "attempts", [...refusals.values()].reduce((a, b) => a + b, 0), { name: "accepted sends", value: accepted.length }, { byPhaseAndCode: Object.fromEntries(refusals) }));
    figures.push(...loopDelayFigures(phases, [...c.nodes.entries(), ["gateway", c.gateway] as const, ...c.roles.entries(), ["sim", c.sim.proc] as const].map(([name, p]) => [name, p.output] as [string, string])));
    figures.push(figure("scale.delivery.rate", "ratio", accepted.length ? (accepted.length - lost) / accepted.length : 1, { name: "accepted sends", value: 1 }, { accepted: accepted.length, lost, duplicated, conflicts: stats.conflicts, loadErrors }));
    figures.push(figure("scale.webhook.delivery.rate", "ratio", incomingIds.length ? delivered / incomingIds.length : 1, { name: "incoming messages", value: 1 }, { incoming: incomingIds.length, delivered }));
    if (o.faults) {
      figures.push(figure("scale.failover.seconds", "s", failoverSeconds, { name: "lease TTL + takeover margin (protocol floor)", value: 13 }, { sessionsMoved: moved, pollEndSeconds }));
      // kill -> the coordinator's reassignment (the protocol: lease expiry, margin, a tick), and the rest (adoption, engines, the harness's poll)
      if (reassignedSeconds) figures.push(figure("scale.failover.reassigned.seconds", "s", reassignedSeconds, { name: "lease TTL + takeover margin (protocol floor)", value: 13 }, { restoreSeconds: Math.round((failoverSeconds - reassignedSeconds) * 10) / 10, adoptedSeconds: adoptedSeconds || null, sessionsMoved: moved }));
      figures.push(figure("scale.join.moves", "workspaces", joinMoves, { name: "1/(N+1) of the workspaces", value: workspaces.length / (o.nodes + 1) }, { workspaces: workspaces.length }));
    }
    const sessionPeaks = nodeNames.map((n) => peakRss.get(n) ?? 0);
    const perNodeSessions = o.sessions / o.nodes;
    for (const [name, peak] of peakRss) figures.push(figure(`scale.rss.peak.${name}`, "MiB", peak / 1048576, { name: "a session node's RSS before any session", value: idleRss / 1048576 }));
    // where the CPU went while linking (QR codes rendered, sessions created): cores used on average
    for (const [name, end] of cpuAtLinkEnd) figures.push(figure(`scale.cpu.link.${name}`, "cores", (end - (cpuAtLinkStart.get(name) ?? 0)) / linkSeconds, { name: "one core for the whole link phase", value: 1 }, { cpuSeconds: Math.round(end - (cpuAtLinkStart.get(name) ?? 0)), wallSeconds: Math.round(linkSeconds) }));
    // and over the whole run
    const wall = (Date.now() - started) / 1000;
    for (const [name, secs] of cpuSeconds) figures.push(figure(`scale.cpu.${name}`, "cores", secs / wall, { name: "one core for the whole run", value: 1 }, { cpuSeconds: Math.round(secs), wallSeconds: Math.round(wall) }));
    figures.push(...costFigures(costs, { sessions: o.sessions, workspaces: workspaces.length, nodes: nodeNames }));
    // resident memory per session with every session linked and nothing asked (the idle phase's end)
    const linkedRss = nodeNames.reduce((sum, n) => sum + ((rssIdle.rss.get(n) ?? 0) - (rssBefore.get(n) ?? 0)), 0) / o.sessions / 1024;
    figures.push(figure("scale.cost.node.rss.per.session", "KiB", linkedRss, { name: "a session node's RSS before any session / 1000", value: idleRss / 1000 / 1024 }, { note: "sum over session nodes of (RSS linked and idle - RSS before any session) / sessions" }));
    figures.push(figure("scale.rss.per.session", "KiB", ((Math.max(...sessionPeaks) - idleRss) / perNodeSessions) / 1024, { name: "idle session node RSS / 1000", value: idleRss / 1000 / 1024 }, { note: "runtime overhead per simulated session (no browser)" }));
    return { figures, conflicts: stats.conflicts, lost, duplicated, accepted: accepted.length, incoming: incomingIds.length, webhooksDelivered: delivered, allWorking: finalWorking, costs };
  } catch (err) {
    log(`the run failed: ${(err as Error).message}\n${c.logs(25)}`);
    throw err;
  } finally {
    clearInterval(sampler);
    meter?.close();
    if (o.profileDir) {
      // --cpu-prof writes its file on a clean exit: SIGTERM (session nodes drain first) and wait
      const procs = [c.gateway, ...c.nodes.values(), ...c.roles.values(), c.sim?.proc].filter((p) => p?.running);
      await Promise.all(procs.map((p) => Promise.race([p.kill("SIGTERM"), new Promise((r) => setTimeout(r, 150_000))])));
      // the session nodes share a folder; a profile's file name carries its pid
      const pids = Object.fromEntries([...c.nodes.entries()].map(([n, p]) => [p.pid, n]));
      writeFileSync(`${o.profileDir}/nodes/pids.json`, JSON.stringify(pids));
      log(`CPU profiles in ${o.profileDir}`);
    }
    await c.stop();
    await receiver.down().catch(() => undefined);
  }
}

/**
 * The lines of processes' outputs whose message matches `message` (a regular expression source),
 * each dated by its own time (Moleculer's short format, "[HH:MM:SS.mmmZ] WARN ..."; a line without
 * a time is dated `now`). `after` (ms) is a time shortly before the lines: the lines carry no date.
 */
export function datedLines(outputs: string[], message: string, after: number, now = Date.now()): Array<{ at: number; m: RegExpMatchArray }> {
  const re = new RegExp(`^(?:\\[(\\d\\d):(\\d\\d):(\\d\\d(?:\\.\\d+)?)Z\\])?.*?${message}`, "gm");
  const lines: Array<{ at: number; m: RegExpMatchArray }> = [];
  for (const out of outputs) {
    for (const m of out.matchAll(re)) {
      let at = now;
      if (m[1] !== undefined) {
        const d = new Date(after);
        d.setUTCHours(Number(m[1]), Number(m[2]), 0, 0);
        at = d.getTime() + Number(m[3]) * 1000;
        // the kill just before midnight, the line after it
        if (at < after - 43_200_000) at += 86_400_000;
      }
      lines.push({ at, m: m.slice(4) as RegExpMatchArray });
    }
  }
  return lines.sort((a, b) => a.at - b.at);
}

/**
 * When the coordinator had reassigned `workspaces` workspaces of the dead node `victim`: its
 * "coordinator: failover of <victim>: <k> workspaces reassigned" lines, k summed over the ticks a
 * failover may take (and over a dying coordinator and its successor), in time order. Undefined
 * until the lines cover every workspace.
 */
export function reassignedAt(outputs: string[], victim: string, workspaces: number, after: number, now = Date.now()): number | undefined {
  let sum = 0;
  for (const l of datedLines(outputs, `coordinator: failover of ${victim.replace(/[^\w-]/g, "\\$&")}: (\\d+) workspaces reassigned`, after, now)) {
    sum += Number(l.m[0]);
    if (sum >= workspaces) return l.at;
  }
  return undefined;
}

/**
 * When the new owners had adopted every one of `workspaces` (their "workspace <w>: <n> sessions
 * loaded" lines: the sessions read from storage and their engines queued). Undefined until all.
 */
export function adoptedAt(outputs: string[], workspaces: readonly string[], after: number, now = Date.now()): number | undefined {
  const left = new Set(workspaces);
  for (const l of datedLines(outputs, "workspace (\\S+): \\d+ sessions loaded", after, now)) {
    left.delete(l.m[0]);
    if (!left.size) return l.at;
  }
  return undefined;
}

/**
 * The capacity model's inputs, one group of figures per phase: Redis commands and NATS messages per
 * second (beside the idle phase's: the background every process pays), per gateway request and per
 * send; JetStream bytes per stored event; gateway CPU per request; session-node CPU per session; the
 * cores of every process.
 */
export function costFigures(costs: CostPhase[], run: { sessions: number; workspaces: number; nodes: string[] }): Figure[] {
  const out: Figure[] = [];
  const idle = costs.find((p) => p.phase === "idle");
  const steady = costs.find((p) => p.phase === "steady");
  const rate = (n: number, p: CostPhase) => (p.seconds > 0 ? n / p.seconds : 0);
  const per = (n: number, d: number) => (d > 0 ? n / d : 0);
  const nodeCpu = (p: CostPhase) => Object.entries(p.cpu).filter(([name]) => /^n\d+$/.test(name)).reduce((sum, [, v]) => sum + v, 0);
  const gatewayMsPerRequest = (p: CostPhase) => per((p.cpu.gateway ?? 0) * 1000, p.requests);
  // microcores: CPU microseconds per session per second (millicores round away at 2 decimals)
  const microcoresPerSession = (p: CostPhase) => per(rate(nodeCpu(p), p) * 1e6, run.sessions);
  for (const p of costs) {
    const name = `scale.cost.${p.phase}`;
    const ops = { seconds: Math.round(p.seconds * 10) / 10, requests: p.requests, sends: p.sends, incoming: p.incoming };
    out.push(figure(`${name}.redis.commands.per_s`, "commands/s", rate(p.redisCommands, p), idle && { name: "idle phase (all linked, no load)", value: rate(idle.redisCommands, idle) }, {
      ...ops,
      commands: p.redisCommands,
      perRequest: round3(per(p.redisCommands, p.requests)),
      perSession: round3(per(p.redisCommands, run.sessions)),
      redisCores: round3(rate(p.redisSeconds, p)),
      byCommand: Object.fromEntries(Object.entries(p.redisByCommand).slice(0, 10)),
    }));
    out.push(figure(`${name}.nats.msgs.per_s`, "msgs/s", rate(p.natsInMsgs, p), idle && { name: "idle phase (all linked, no load)", value: rate(idle.natsInMsgs, idle) }, {
      ...ops,
      inMsgs: p.natsInMsgs,
      outMsgs: p.natsOutMsgs,
      inBytes: p.natsInBytes,
      outBytes: p.natsOutBytes,
      perRequest: round3(per(p.natsInMsgs, p.requests)),
      perSession: round3(per(p.natsInMsgs, run.sessions)),
    }));
    if (p.jsMessages > 0) {
      out.push(figure(`${name}.jetstream.bytes.per_event`, "B", per(p.jsBytes, p.jsMessages), { name: "NATS bytes in per message, same phase", value: per(p.natsInBytes, p.natsInMsgs) }, { events: p.jsMessages, bytes: p.jsBytes, eventsPerSecond: round3(rate(p.jsMessages, p)) }));
    }
    if (p.requests > 0 && steady) {
      out.push(figure(`${name}.gateway.cpu.ms_per_request`, "ms", gatewayMsPerRequest(p), { name: "steady phase", value: gatewayMsPerRequest(steady) }, { ...ops, gatewayCpuSeconds: p.cpu.gateway ?? 0 }));
    }
    out.push(figure(`${name}.node.cpu.microcores_per_session`, "microcores", microcoresPerSession(p), idle && { name: "idle phase (all linked, no load)", value: microcoresPerSession(idle) }, { ...ops, nodeCpuSeconds: Math.round(nodeCpu(p) * 100) / 100, nodes: run.nodes.length }));
    const cores = Object.fromEntries(Object.entries(p.cpu).map(([k, v]) => [k, round3(rate(v, p))]));
    out.push(figure(`${name}.cpu.cores`, "cores", Object.values(p.cpu).reduce((a, b) => a + b, 0) / (p.seconds || 1), { name: "the machine's cores", value: cpus().length }, { ...ops, byProcess: cores }));
  }
  return out;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** What phase follows a closed one (phaseEnd's argument); the load runs from "steady" on. */
const PHASE_AFTER: Record<string, string> = { webhooks: "link", link: "idle", idle: "steady", steady: "failover", failover: "after-failover", "after-failover": "join", join: "after-join", "after-join": "end" };

/** The hops of one send, in microseconds (see HOPS). */
export interface SendHops {
  phase: string;
  /** From the first attempt to the accepted answer (retries included). */
  total: number;
  /** Earlier attempts refused (e.g. SESSION_NOT_READY during a failover) and their pauses. */
  retries: number;
  hops: number[];
}

/**
 * A send's hops, each between two stamps: the harness's (h0 before the request, h1 after the
 * answer), the gateway's (g0 request parsed, g1 admitted, g2 idempotency key reserved and calling,
 * g3 answer back, g4 key completed) and the owner's (n0 handler entered, n1 calling the engine, n2
 * the network's acknowledgement in).
 */
export const HOPS = [
  ["client.to.gateway", "h0", "g0"], // connection, HTTP parse, the gateway's loop
  ["gateway.admit", "g0", "g1"], // route, key, rate limit, body, params
  ["gateway.idempotency.begin", "g1", "g2"], // Redis SET NX
  ["gateway.to.owner", "g2", "n0"], // Workspace strategy, Moleculer over NATS, the owner's loop
  ["owner.before.engine", "n0", "n1"], // ownership check, content
  ["engine.network.ack", "n1", "n2"], // the frame to the simulated network and its SERVER ack back
  ["owner.to.gateway", "n2", "g3"], // the reply over NATS, the gateway's loop
  ["gateway.idempotency.complete", "g3", "g4"], // Redis SET of the answer
  ["gateway.to.client", "g4", "h1"], // the answer written and read
] as const;

export function hopsOf(phase: string, first: number, h0: number, h1: number, header: string | undefined): SendHops | undefined {
  const st: Record<string, number> = { ...parseTimingHeader(header), h0, h1 };
  if (HOPS.some(([, a, b]) => st[a] === undefined || st[b] === undefined)) return undefined;
  return { phase, total: h1 - first, retries: h0 - first, hops: HOPS.map(([, a, b]) => st[b]! - st[a]!) };
}

/**
 * Per hop: its p50 and p99 beside the sends' own (the ratio: how much of the send it is), its
 * mean over the slowest 1% of sends beside theirs (what makes the tail), and the sends' p50 / p99
 * per phase of the run.
 */
export function hopFigures(sends: SendHops[]): Figure[] {
  const out: Figure[] = [];
  if (!sends.length) return out;
  const ms = (us: number) => us / 1000;
  const all = summarize(sends.map((s) => ms(s.total)));
  // the slowest 1% (at least one), whatever the ties at the p99
  const tail = [...sends].sort((a, b) => b.total - a.total).slice(0, Math.max(1, Math.ceil(sends.length / 100)));
  const tailMean = tail.reduce((a, s) => a + ms(s.total), 0) / tail.length;
  HOPS.forEach(([name], i) => {
    const h = summarize(sends.map((s) => ms(s.hops[i]!)));
    out.push(figure(`scale.send.hop.${name}.p50`, "ms", h.p50, { name: "send p50 (the same sends)", value: all.p50 }, { n: h.n }));
    out.push(figure(`scale.send.hop.${name}.p99`, "ms", h.p99, { name: "send p99 (the same sends)", value: all.p99 }, { n: h.n }));
    out.push(figure(`scale.send.tail.${name}`, "ms", tail.reduce((a, s) => a + ms(s.hops[i]!), 0) / tail.length, { name: "mean of the slowest 1% of sends", value: tailMean }, { n: tail.length, byPhase: countBy(tail.map((s) => s.phase)) }));
  });
  out.push(figure("scale.send.tail.retries", "ms", tail.reduce((a, s) => a + ms(s.retries), 0) / tail.length, { name: "mean of the slowest 1% of sends", value: tailMean }, { n: tail.length }));
  for (const phase of [...new Set(sends.map((s) => s.phase))]) {
    const p = summarize(sends.filter((s) => s.phase === phase).map((s) => ms(s.total)));
    out.push(figure(`scale.send.phase.${phase}.p50`, "ms", p.p50, { name: "send p50, whole run", value: all.p50 }, { n: p.n }));
    out.push(figure(`scale.send.phase.${phase}.p99`, "ms", p.p99, { name: "send p99, whole run", value: all.p99 }, { n: p.n }));
  }
  return out;
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** A process's loop-delay lines (bench/support/loop-delay.ts) in its output. */
export function loopDelayLines(output: string): Array<{ at: number; p50: number; p99: number; max: number }> {
  const out: Array<{ at: number; p50: number; p99: number; max: number }> = [];
  for (const m of output.matchAll(/^\[loop-delay\] (\{.*\})$/gm)) {
    try {
      out.push(JSON.parse(m[1]!));
    } catch {
      // a line cut by another write: skipped
    }
  }
  return out;
}

/**
 * Each process's event-loop delay in the steady phase and over the whole load (steady to the end):
 * the mean of its 5 s windows' p99 beside the harness's own p99 in the same span (the client's
 * loop), with the worst window's p99 and the largest single delay.
 */
export function loopDelayFigures(phases: Array<{ name: string; from: number; to: number; harnessLoop: { p50: number; p99: number; max: number } }>, outputs: Array<[string, string]>): Figure[] {
  const out: Figure[] = [];
  const steady = phases.find((p) => p.name === "steady");
  if (!steady) return out;
  const loadPhases = phases.slice(phases.indexOf(steady));
  const spans: Array<[string, number, number, number]> = [
    ["steady", steady.from, steady.to, steady.harnessLoop.p99],
    ["load", steady.from, loadPhases[loadPhases.length - 1]!.to, Math.max(...loadPhases.map((p) => p.harnessLoop.p99))],
  ];
  for (const [span, from, to, harness] of spans) {
    for (const [name, output] of outputs) {
      const lines = loopDelayLines(output).filter((l) => l.at > from && l.at <= to + 1_000_000);
      if (!lines.length) continue;
      const mean = lines.reduce((a, l) => a + l.p99, 0) / lines.length;
      out.push(figure(`scale.loop.${span}.${name}.p99`, "ms", mean, { name: "the harness's own event-loop delay p99, same span", value: harness }, { windows: lines.length, worstP99: Math.max(...lines.map((l) => l.p99)), max: Math.max(...lines.map((l) => l.max)), p50: Math.round((lines.reduce((a, l) => a + l.p50, 0) / lines.length) * 100) / 100 }));
    }
  }
  return out;
}

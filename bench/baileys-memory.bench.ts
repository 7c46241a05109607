// Density of the baileys engine against wwebjs in the same run. Baileys sessions run in one child
// process (the simulated network with its fake WhatsApp server stays in the parent, so only the
// sessions are counted), linked through a launch queue at the node's socket defaults. At each step
// (100, 500, 1,000 up to --sessions; or --steps a,b,c) the bench reports RSS per session above the
// process's own base (linked idle, and peak under one message per session per minute each way),
// CPU per session (idle and under that load), launch time to the first QR, how long linking took,
// and sessions per GiB beside wwebjs's (PSS of each browser tree, a few sessions: a browser each,
// idle and under the same load).
//   npm run bench -- baileys-memory --sessions 100 --wwebjs-sessions 2 --load-seconds 30
//   npm run bench -- baileys-memory --sessions 1000 --load-seconds 60     (100, 500, 1,000 in one run)
//   --heap-snapshot DIR: a V8 heap snapshot of the fleet's process after the load at each step
//     (node scripts/heapsnapshot-top.cjs DIR/at-100.heapsnapshot --per 100)
//   --profile DIR: a V8 CPU profile of the fleet's process (node scripts/cpuprofile-top.cjs DIR/*.cpuprofile)
//   --hooks-als: the fleet without a node's --experimental-async-context-frame (Node 22's default
//     AsyncLocalStorage on async hooks), to measure what it saves; --node-flag F: more Node options
import { fork } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSimNetwork } from "../lib/simulator/network";
import { writeFakePage } from "../lib/simulator/fake-wa-web";
import type { BenchContext } from "./harness";
import { figure, intArg, summarize } from "./harness";
import { measureOurs } from "./wwebjs-memory.bench";
import { hooksFlags, nodeFlags } from "../lib/node-flags";

const MB = 1024 * 1024;
const GOAL_SESSIONS = 1000;
const GOAL_BYTES = 4 * 1024 * MB;

function stringArg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** The sizes measured in this run: 100, 500, 1,000 below --sessions, then --sessions itself. */
export function stepsOf(n: number, raw: string | undefined): number[] {
  const steps = raw ? raw.split(",").map((x) => Number.parseInt(x, 10)) : [100, 500, 1000].filter((x) => x < n).concat(n);
  if (!steps.length || steps.some((x) => !(x >= 1)) || steps.some((x, i) => i > 0 && x <= steps[i - 1]!)) throw new Error(`--steps must be increasing positive integers (got ${raw})`);
  return steps;
}

export default async function ({ emit, args }: BenchContext): Promise<void> {
  const n = intArg(args, "sessions", 100);
  const steps = stepsOf(n, stringArg(args, "steps"));
  const wn = intArg(args, "wwebjs-sessions", 2);
  const loadSeconds = intArg(args, "load-seconds", 30);
  const idleSeconds = intArg(args, "idle-seconds", 10);
  const concurrency = intArg(args, "launch-concurrency", 32);
  const profileDir = stringArg(args, "profile");
  const snapshotDir = stringArg(args, "heap-snapshot");
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-bench-baileys-"));
  const sim = await startSimNetwork({ port: 0, qrRotateMs: 600_000, keepaliveMs: 60_000, deviceAckDelayMs: 10 });
  // the fleet runs with a session node's own options (lib/node-flags.ts), unless --hooks-als (Node
  // 22's default AsyncLocalStorage, to measure what the flag saves); --node-flag F (repeatable): more
  // Node options for the fleet's process, e.g. --node-flag=--max-old-space-size=8192
  const hooksAls = args.includes("--hooks-als");
  const extraFlags = args.flatMap((a, i) => (a === "--node-flag" && args[i + 1] ? [args[i + 1]!] : a.startsWith("--node-flag=") ? [a.slice("--node-flag=".length)] : []));
  const alsFlags = hooksAls ? hooksFlags() : nodeFlags();
  const execArgv = ["--expose-gc", ...alsFlags, ...extraFlags, ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])];
  const child = fork(path.join(__dirname, "baileys-fleet.js"), [], { execArgv, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const ask = (msg: object) =>
    new Promise<any>((resolve, reject) => {
      const onExit = () => reject(new Error("the fleet process exited"));
      child.once("exit", onExit);
      child.once("message", (m: any) => {
        child.off("exit", onExit);
        if (m.error) reject(new Error(m.error));
        else resolve(m);
      });
      child.send(msg);
    });
  try {
    // wwebjs first, on the same machine in the same run: the baseline, idle and under the load
    const page = await writeFakePage(path.join(root, "fake-wa-web"));
    const w = await measureOurs(wn, root, sim, page, undefined, "ours", loadSeconds);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const wwebjsMb = mean(w.pss) / MB;
    const wwebjsLoadMb = mean(w.loadedPss!) / MB;
    const wl = summarize(w.launchMs);
    emit(figure("wwebjs memory per linked session (PSS of its browser tree)", "MB", wwebjsMb, undefined, { sessions: wn, underLoadMb: Math.round(wwebjsLoadMb), loadSeconds }));

    const { rss0 } = await ask({ cmd: "base" });
    // one start on its own first: the launch time to the first QR without a queue in front of it
    const alone = await ask({ cmd: "grow", to: 1, simUrl: sim.url, root, concurrency: 1 });
    emit(figure("launch to first QR, one baileys start alone", "ms", alone.launchMs[0], { name: "wwebjs, median of one at a time", value: wl.p50 }, { wwebjsP99: wl.p99 }));
    for (const size of steps) {
      const grown = await ask({ cmd: "grow", to: size, simUrl: sim.url, root, concurrency });
      const phones: string[] = grown.phones;
      const idle = await ask({ cmd: "idle", seconds: idleSeconds });
      const idleMb = (grown.rss - rss0) / size / MB;
      const at = { sessions: size, asyncLocalStorage: hooksAls ? "async hooks" : "AsyncContextFrame" };
      emit(figure(`memory per linked idle baileys session at ${size} (RSS above the process base)`, "MB", idleMb, { name: "wwebjs PSS per session", value: wwebjsMb }, { ...at, processBaseMb: Math.round(rss0 / MB), processRssMb: Math.round(grown.rss / MB), heapUsedMb: Math.round(grown.heapUsed / MB), heapTotalMb: Math.round(grown.heapTotal / MB), externalMb: Math.round(grown.external / MB) }));
      emit(figure(`linked idle sessions per GiB at ${size}`, "sessions", 1024 / idleMb, { name: "wwebjs", value: 1024 / wwebjsMb }, at));
      emit(figure(`CPU per linked idle baileys session at ${size}`, "% of a core", (idle.cpuMs / (idleSeconds * 1000) / size) * 100, undefined, { ...at, seconds: idleSeconds, processCpuPct: round1((idle.cpuMs / (idleSeconds * 1000)) * 100) }));
      const l = summarize(grown.launchMs);
      emit(figure(`launch to first QR per session, median, linking up to ${size} (${concurrency} at a time)`, "ms", l.p50, { name: "wwebjs, one at a time", value: wl.p50 }, { ...at, p99: l.p99, started: l.n }));
      const linked = grown.launchMs.length;
      emit(figure(`linking ${linked} baileys sessions (start, QR, link, 515 reconnect, login with 812 prekeys)`, "s", grown.linkMs / 1000, undefined, { ...at, fleetCpuMsPerLink: Math.round(grown.cpuMs / linked), concurrency, retriedStarts: grown.retries }));

      // the load: contacts write to every linked account at the pace the accounts write to them
      const perSecond = size / 60;
      let k = 0;
      const t0 = Date.now();
      const back = setInterval(() => {
        const due = Math.floor(((Date.now() - t0) / 1000) * perSecond) + 1 - k;
        for (let j = 0; j < due; j++, k++) sim.network.contactSend("4915100000009", { to: phones[k % size]!, body: `to you ${k}` });
      }, 100);
      const simCpu0 = process.cpuUsage();
      const loaded = await ask({ cmd: "load", seconds: loadSeconds }).finally(() => clearInterval(back));
      const simCpu = process.cpuUsage(simCpu0);
      const loadMb = (loaded.peakRss - rss0) / size / MB;
      emit(
        figure(`memory per baileys session under 1 msg/session/min each way at ${size} (peak RSS above base)`, "MB", loadMb, { name: "wwebjs PSS per session under the same load", value: wwebjsLoadMb }, {
          ...at,
          seconds: loadSeconds,
          asked: loaded.asked,
          sent: loaded.sent,
          failed: loaded.failed,
          inFlightAtEnd: loaded.lateAtEnd,
          receivedByAccounts: k,
          peakRssMb: Math.round(loaded.peakRss / MB),
        }),
      );
      emit(figure(`sessions per GiB under load at ${size}`, "sessions", 1024 / loadMb, { name: "wwebjs under the same load", value: 1024 / wwebjsLoadMb }, at));
      emit(
        figure(`CPU per baileys session under load at ${size}`, "% of a core", (loaded.cpuMs / (loadSeconds * 1000) / size) * 100, undefined, {
          ...at,
          processCpuPct: round1((loaded.cpuMs / (loadSeconds * 1000)) * 100),
          // the parent: the simulated network and its fake WhatsApp server, not counted per session
          networkCpuPct: round1(((simCpu.user + simCpu.system) / 1000 / (loadSeconds * 1000)) * 100),
        }),
      );
      if (snapshotDir) process.stderr.write(`[baileys-memory] heap snapshot: ${(await ask({ cmd: "snapshot", dir: path.resolve(snapshotDir), name: `at-${size}` })).file}\n`);
      if (size >= GOAL_SESSIONS) {
        const bytes = loaded.peakRss;
        emit(figure(`goal: ${size} linked baileys sessions under load in one process, peak RSS (goal: under 4 GiB)`, "MB", bytes / MB, { name: "4 GiB", value: GOAL_BYTES / MB }, { met: bytes < GOAL_BYTES, ...at }));
        emit(figure(`goal: baileys sessions per GiB under load over wwebjs's (goal: at least 20x)`, "x", wwebjsLoadMb / loadMb, undefined, { met: wwebjsLoadMb / loadMb >= 20, ...at }));
      }
    }
    const stats = sim.network.stats();
    emit(figure("network oracle after the run: conflicts + duplicates", "count", stats.conflicts + stats.duplicates, undefined, { sent: stats.sent, delivered: stats.delivered, queued: stats.queued }));
  } finally {
    if (child.connected) {
      child.send({ cmd: "stop" });
      await exited;
    }
    await sim.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

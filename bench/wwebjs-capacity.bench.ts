// Real engine capacity (issue 10): links real wwebjs sessions (whatsapp-web.js 1.34.7 + Chromium +
// the fake WhatsApp Web page) one after another until their summed PSS would pass a memory budget,
// then measures PSS per session, launch time and steady CPU per session, and derives sessions per
// GiB. Baseline: the original design's planning figure (an 8 GB instance = +500 sessions, about
// 62.5 per GiB), which assumed far less memory per browser than Chromium needs.
//   npm run bench wwebjs-capacity -- --budget-mb 2048 --max 40
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { processTree, treePss } from "../lib/engines/wwebjs/chromium";
import { WwebjsEngine } from "../lib/engines/wwebjs";
import { fakePageBootScript, writeFakePage } from "../lib/simulator/fake-wa-web";
import { startSimNetwork } from "../lib/simulator/network";
import type { BenchContext } from "./harness";
import { CLK_TCK, cpuTicksOf, figure, intArg, summarize } from "./harness";

const MB = 1024 * 1024;
const CHROME_PATH = process.env.CHROME_PATH || "/usr/bin/chromium";

async function treeTicks(pids: number[]): Promise<number> {
  let t = 0;
  for (const root of pids) for (const p of await processTree(root)) t += cpuTicksOf(p.pid);
  return t;
}

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const budget = intArg(args, "budget-mb", 2048) * MB;
  const max = intArg(args, "max", 40);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-capacity-"));
  const sim = await startSimNetwork({ port: 0, host: "127.0.0.1" });
  const page = await writeFakePage(path.join(root, "page"));
  const engines: WwebjsEngine[] = [];
  const launchMs: number[] = [];
  try {
    let used = 0;
    for (let i = 0; i < max; i++) {
      const avg = engines.length ? used / engines.length : 0;
      if (used + avg > budget) break;
      const engine = new WwebjsEngine(
        { workspaceId: "capacity", sessionId: `s${i}`, authDir: path.join(root, `s${i}`) },
        { chromePath: CHROME_PATH, ...page, evalOnNewDoc: fakePageBootScript({ simUrl: sim.url }), startTimeoutMs: 120000 },
      );
      engines.push(engine);
      const t0 = Date.now();
      const qr = new Promise<string>((resolve) => engine.once("qr", (q: string) => resolve(q)));
      const ready = new Promise<void>((resolve) => engine.once("ready", () => resolve()));
      await engine.start();
      const res = await fetch(`${sim.url}/sim/link`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ qr: await qr, phone: `1666${String(i).padStart(7, "0")}` }) });
      if (res.status !== 200) throw new Error(`link failed: ${await res.text()}`);
      await ready;
      launchMs.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 1500));
      used = 0;
      for (const e of engines) used += (await treePss(e.browserPid()!)).bytes;
      process.stderr.write(`[capacity] ${engines.length} sessions, ${Math.round(used / MB)} MB PSS of ${Math.round(budget / MB)} MB\n`);
    }
    // steady state: every session linked and idle
    await new Promise((r) => setTimeout(r, 3000));
    const pids = engines.map((e) => e.browserPid()!);
    const pss = await Promise.all(pids.map(async (p) => (await treePss(p)).bytes));
    const windowMs = 10_000;
    const t0 = await treeTicks(pids);
    const self0 = cpuTicksOf(process.pid);
    await new Promise((r) => setTimeout(r, windowMs));
    const cpuPerSession = ((await treeTicks(pids)) - t0) / CLK_TCK / (windowMs / 1000) / engines.length;
    const selfCpu = (cpuTicksOf(process.pid) - self0) / CLK_TCK / (windowMs / 1000);
    const perSession = pss.reduce((a, b) => a + b, 0) / pss.length;
    const launch = summarize(launchMs);
    emit(figure("wwebjs.capacity.sessions", "sessions", engines.length, { name: "the budget / the first session's PSS", value: budget / pss[0]! }, { budgetMiB: budget / MB }));
    emit(figure("wwebjs.capacity.pss.per.session", "MiB", perSession / MB, { name: "the first session's PSS", value: pss[0]! / MB }, { sessions: engines.length }));
    emit(figure("wwebjs.capacity.sessions.per.gib", "sessions/GiB", 1024 / (perSession / MB), { name: "original design's planning (8 GB instance = +500 sessions)", value: 500 / 8 }));
    emit(figure("wwebjs.capacity.launch.p50", "ms", launch.p50, { name: "the first (cold) launch", value: launchMs[0]! }, { p99: launch.p99 }));
    emit(figure("wwebjs.capacity.cpu.per.session", "cores", cpuPerSession, { name: "the benchmark process itself (idle driver)", value: selfCpu }, { windowSeconds: windowMs / 1000 }));
  } finally {
    await Promise.all(engines.map((e) => e.stop().catch(() => undefined)));
    await sim.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

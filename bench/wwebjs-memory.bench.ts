// Memory and launch time of the real wwebjs engine (whatsapp-web.js 1.34.7 + Chromium) against the
// fake WhatsApp Web page: N linked sessions with wafleet's Chromium flags, beside N sessions of the
// plain library defaults (its own launch, only `--no-sandbox` and what the fake page needs) in the
// same run. PSS = sum of /proc/<pid>/smaps_rollup Pss over each browser's process tree.
//   npm run bench wwebjs-memory -- --sessions 5
//   npm run bench wwebjs-memory -- --sessions 3 --ablate   (also: each lean flag left out in turn)
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client, LocalAuth } from "whatsapp-web.js";
import { LEAN_CHROME_ARGS, treePss, withSandboxFlag } from "../lib/engines/wwebjs/chromium";
import { WwebjsEngine } from "../lib/engines/wwebjs";
import { fakePageBootScript, writeFakePage } from "../lib/simulator/fake-wa-web";
import { startSimNetwork } from "../lib/simulator/network";
import type { RunningSimNetwork } from "../lib/simulator/network";
import type { BenchContext } from "./harness";
import { figure, intArg, summarize } from "./harness";

const MB = 1024 * 1024;
const CHROME_PATH = process.env.CHROME_PATH || "/usr/bin/chromium";

interface Measured {
  /** ms from start to the first QR, per session */
  launchMs: number[];
  /** PSS bytes of each browser tree, all N sessions linked and idle */
  pss: number[];
  processes: number[];
  /** with `loadSeconds`: PSS bytes of each browser tree after that long at one message per session per minute each way */
  loadedPss?: number[];
}

async function link(sim: RunningSimNetwork, qr: string, phone: string): Promise<void> {
  const res = await fetch(`${sim.url}/sim/link`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ qr, phone }) });
  if (res.status !== 200) throw new Error(`link failed: ${res.status} ${await res.text()}`);
}

const settle = () => new Promise((r) => setTimeout(r, 3000));

export async function measureOurs(n: number, root: string, sim: RunningSimNetwork, page: Awaited<ReturnType<typeof writeFakePage>>, chromeArgs: readonly string[] = LEAN_CHROME_ARGS, tag = "ours", loadSeconds = 0): Promise<Measured> {
  const engines: WwebjsEngine[] = [];
  const phones: string[] = [];
  const out: Measured = { launchMs: [], pss: [], processes: [] };
  try {
    for (let i = 0; i < n; i++) {
      const engine = new WwebjsEngine(
        { workspaceId: "bench", sessionId: `${tag}${i}`, authDir: path.join(root, `${tag}${i}`) },
        { chromePath: CHROME_PATH, ...page, chromeArgs, evalOnNewDoc: fakePageBootScript({ simUrl: sim.url }), startTimeoutMs: 60000 },
      );
      engines.push(engine);
      const t0 = Date.now();
      const qr = new Promise<string>((resolve) => engine.once("qr", (q: string) => resolve(q)));
      const ready = new Promise<void>((resolve) => engine.once("ready", () => resolve()));
      await engine.start();
      out.launchMs.push(Date.now() - t0);
      const phone = `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
      phones.push(phone);
      await link(sim, await qr, phone);
      await ready;
    }
    await settle();
    for (const e of engines) {
      const t = await treePss(e.browserPid()!);
      out.pss.push(t.bytes);
      out.processes.push(t.processes);
    }
    if (loadSeconds > 0) {
      // one message per session per minute each way, spread over the minute (at least one each way)
      const count = Math.max(1, Math.round(loadSeconds / 60));
      const gap = (loadSeconds * 1000) / (count * n);
      const t0 = Date.now();
      for (let k = 0; k < count * n; k++) {
        await new Promise((r) => setTimeout(r, Math.max(0, t0 + k * gap - Date.now())));
        const j = k % n;
        await engines[j]!.sendMessage("4915100000009", { text: `load ${k}` });
        sim.network.contactSend("4915100000009", { to: phones[j]!, body: `to you ${k}` });
      }
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + loadSeconds * 1000 - Date.now())));
      out.loadedPss = [];
      for (const e of engines) out.loadedPss.push((await treePss(e.browserPid()!)).bytes);
    }
  } finally {
    await Promise.all(engines.map((e) => e.stop()));
  }
  return out;
}

async function measureLibraryDefaults(n: number, root: string, sim: RunningSimNetwork, page: Awaited<ReturnType<typeof writeFakePage>>): Promise<Measured> {
  const clients: Client[] = [];
  const out: Measured = { launchMs: [], pss: [], processes: [] };
  try {
    for (let i = 0; i < n; i++) {
      const client = new Client({
        authStrategy: new LocalAuth({ clientId: `lib${i}`, dataPath: path.join(root, `lib${i}`) }),
        puppeteer: { executablePath: CHROME_PATH, args: withSandboxFlag([...page.extraChromeArgs]) },
        webVersion: page.webVersion,
        webVersionCache: page.webVersionCache,
        evalOnNewDoc: fakePageBootScript({ simUrl: sim.url }) as any,
      });
      clients.push(client);
      const t0 = Date.now();
      const qr = new Promise<string>((resolve) => client.once("qr", (q: string) => resolve(q)));
      const ready = new Promise<void>((resolve) => client.once("ready", () => resolve()));
      void client.initialize().catch(() => undefined);
      const code = await qr;
      out.launchMs.push(Date.now() - t0);
      await link(sim, code, `1555001${String(1000 + i)}`);
      await ready;
    }
    await settle();
    for (const c of clients) {
      const t = await treePss(c.pupBrowser!.process()!.pid!);
      out.pss.push(t.bytes);
      out.processes.push(t.processes);
    }
  } finally {
    await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
  }
  return out;
}

export default async function ({ emit, args }: BenchContext): Promise<void> {
  const n = intArg(args, "sessions", 5);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-bench-wwebjs-"));
  const sim = await startSimNetwork({ port: 0, qrRotateMs: 600_000, keepaliveMs: 30_000 });
  try {
    const page = await writeFakePage(path.join(root, "fake-wa-web"));
    // the library's defaults first, then ours, one after the other on the same idle machine
    const lib = await measureLibraryDefaults(n, root, sim, page);
    const ours = await measureOurs(n, root, sim, page);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
    const baselineName = "whatsapp-web.js defaults";
    emit(figure(`PSS per linked session, ${n} sessions (browser process tree)`, "MB", avg(ours.pss) / MB, { name: baselineName, value: avg(lib.pss) / MB }, { sessions: n, processesPerSession: avg(ours.processes), baselineProcessesPerSession: avg(lib.processes) }));
    const o = summarize(ours.launchMs);
    const l = summarize(lib.launchMs);
    emit(figure("launch to first QR per session, median", "ms", o.p50, { name: baselineName, value: l.p50 }, { sessions: n, p99: o.p99, baselineP99: l.p99 }));
    if (args.includes("--ablate")) {
      // what each flag buys: the lean set without it, against the full lean set
      for (const [i, flag] of LEAN_CHROME_ARGS.entries()) {
        const without = await measureOurs(n, root, sim, page, LEAN_CHROME_ARGS.filter((f) => f !== flag), `abl${i}x`);
        emit(figure(`PSS per linked session without ${flag}`, "MB", avg(without.pss) / MB, { name: "lean flags", value: avg(ours.pss) / MB }, { sessions: n, launchP50: summarize(without.launchMs).p50 }));
      }
    }
  } finally {
    await sim.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

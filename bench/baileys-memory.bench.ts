// Density of the baileys engine against wwebjs in the same run: N linked baileys sessions in one
// child process (RSS per session above the process's own base, idle and under a load of one message
// per session per minute each way, CPU per session), launch time to the first QR, and sessions per
// GiB beside wwebjs's (PSS of each browser tree, a few sessions: a browser each).
//   npm run bench baileys-memory -- --sessions 100 --wwebjs-sessions 2 --load-seconds 30
import { fork } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSimNetwork } from "../lib/simulator/network";
import { writeFakePage } from "../lib/simulator/fake-wa-web";
import type { BenchContext } from "./harness";
import { figure, intArg, summarize } from "./harness";
import { measureOurs } from "./wwebjs-memory.bench";

const MB = 1024 * 1024;

export default async function ({ emit, args }: BenchContext): Promise<void> {
  const n = intArg(args, "sessions", 100);
  const wn = intArg(args, "wwebjs-sessions", 2);
  const loadSeconds = intArg(args, "load-seconds", 30);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-bench-baileys-"));
  const sim = await startSimNetwork({ port: 0, qrRotateMs: 600_000, keepaliveMs: 60_000, deviceAckDelayMs: 10 });
  const child = fork(path.join(__dirname, "baileys-fleet.js"), [], { execArgv: ["--expose-gc"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const ask = (msg: object) =>
    new Promise<any>((resolve, reject) => {
      child.once("message", (m: any) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      child.send(msg);
    });
  try {
    // wwebjs first, on the same machine in the same run: the baseline
    const page = await writeFakePage(path.join(root, "fake-wa-web"));
    const w = await measureOurs(wn, root, sim, page);
    const wwebjsMb = w.pss.reduce((a, b) => a + b, 0) / w.pss.length / MB;

    const started = await ask({ cmd: "start", n, simUrl: sim.url, root });
    const idleMb = (started.rss - started.rss0) / n / MB;
    emit(figure(`memory per linked idle baileys session, ${n} sessions (RSS above the process base)`, "MB", idleMb, { name: "wwebjs PSS per session", value: wwebjsMb }, { sessions: n, processBaseMb: Math.round(started.rss0 / MB), processRssMb: Math.round(started.rss / MB) }));
    emit(figure("linked idle sessions per GiB", "sessions", 1024 / idleMb, { name: "wwebjs", value: 1024 / wwebjsMb }, { sessions: n }));
    const l = summarize(started.launchMs);
    const wl = summarize(w.launchMs);
    emit(figure("launch to first QR per session, median", "ms", l.p50, { name: "wwebjs", value: wl.p50 }, { sessions: n, p99: l.p99 }));

    // the load: contacts write to every account at the same rate the accounts write to them
    const phones: string[] = started.phones;
    let k = 0;
    const back = setInterval(() => {
      const due = Math.max(1, Math.round(phones.length / 60 / 5));
      for (let j = 0; j < due; j++) sim.network.contactSend("4915100000009", { to: phones[k++ % phones.length]!, body: `to you ${k}` });
    }, 200);
    const loaded = await ask({ cmd: "load", seconds: loadSeconds });
    clearInterval(back);
    const loadMb = (loaded.peakRss - started.rss0) / n / MB;
    emit(figure(`memory per baileys session under 1 msg/session/min each way, ${n} sessions (peak RSS above base)`, "MB", loadMb, { name: "wwebjs PSS per idle session", value: wwebjsMb }, { sessions: n, seconds: loadSeconds, sent: loaded.sent, peakRssMb: Math.round(loaded.peakRss / MB) }));
    emit(figure("sessions per GiB under load", "sessions", 1024 / loadMb, { name: "wwebjs (idle)", value: 1024 / wwebjsMb }, { sessions: n }));
    emit(figure("CPU per baileys session under load", "% of a core", (loaded.cpuMs / (loadSeconds * 1000) / n) * 100, undefined, { sessions: n, processCpuPct: Math.round((loaded.cpuMs / (loadSeconds * 1000)) * 100) }));
    const stats = sim.network.stats();
    emit(figure("network oracle after the load: conflicts + duplicates", "count", stats.conflicts + stats.duplicates, undefined, { sent: stats.sent, delivered: stats.delivered, queued: stats.queued }));
  } finally {
    if (child.connected) {
      child.send({ cmd: "stop" });
      await new Promise((r) => child.once("exit", r));
    }
    await sim.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

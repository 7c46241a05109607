// A child process of the baileys-memory bench: runs N baileys engines against a simulated network
// (which stays in the parent, so its memory is not counted here) and reports its own RSS and CPU.
// Driven over IPC: {cmd: "start", n, simUrl, root} -> {rss0, rss, launchMs}; {cmd: "load", seconds}
// -> {rss, cpuMs, sent}; {cmd: "stop"}.
import path from "node:path";
import { BaileysEngine, simulatedEndpoint } from "../lib/engines/baileys";
import { loadBaileys } from "../lib/engines/baileys/library";

const engines: BaileysEngine[] = [];
const phones: string[] = [];
const gc = () => (global as any).gc?.();
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(n: number, simUrl: string, root: string): Promise<void> {
  loadBaileys();
  gc();
  await settle(200);
  const rss0 = process.memoryUsage().rss;
  const launchMs: number[] = [];
  const endpoint = simulatedEndpoint(simUrl);
  for (let i = 0; i < n; i++) {
    const phone = `1666${String(i).padStart(7, "0")}`;
    const engine = new BaileysEngine({ workspaceId: "bench", sessionId: `b${i}`, authDir: path.join(root, `b${i}`) }, { endpoint, startTimeoutMs: 120000, sendTimeoutMs: 60000, qrTimeoutMs: 600000 });
    engines.push(engine);
    phones.push(phone);
    const t0 = Date.now();
    const qr = new Promise<string>((resolve) => engine.once("qr", (q: string) => resolve(q)));
    const ready = new Promise<void>((resolve) => engine.once("ready", () => resolve()));
    await engine.start();
    const code = await qr;
    launchMs.push(Date.now() - t0);
    const res = await fetch(`${simUrl}/sim/link`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ qr: code, phone }) });
    if (res.status !== 200) throw new Error(`link failed: ${res.status} ${await res.text()}`);
    await ready;
  }
  await settle(3000);
  gc();
  await settle(500);
  process.send!({ rss0, rss: process.memoryUsage().rss, launchMs, phones });
}

/** One message per session per minute (spread evenly), while the parent's contacts send as many back. */
async function load(seconds: number): Promise<void> {
  const cpu0 = process.cpuUsage();
  const until = Date.now() + seconds * 1000;
  const perSecond = engines.length / 60;
  let sent = 0;
  let i = 0;
  let peakRss = 0;
  while (Date.now() < until) {
    const due = Math.max(1, Math.round(perSecond));
    for (let k = 0; k < due; k++) {
      const e = engines[i++ % engines.length]!;
      e.sendMessage("4915100000009", { text: `load ${sent}` }).catch(() => undefined);
      sent++;
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await settle(Math.max(50, Math.round((1000 * due) / Math.max(perSecond, 0.001))));
  }
  const cpu = process.cpuUsage(cpu0);
  process.send!({ rss: process.memoryUsage().rss, peakRss, cpuMs: (cpu.user + cpu.system) / 1000, sent });
}

process.on("message", (m: any) => {
  const run = m.cmd === "start" ? start(m.n, m.simUrl, m.root) : m.cmd === "load" ? load(m.seconds) : Promise.all(engines.map((e) => e.stop())).then(() => process.exit(0));
  run.catch((err: Error) => {
    process.send!({ error: err.message });
    process.exit(1);
  });
});

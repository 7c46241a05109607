// A child process of the baileys-memory bench: runs baileys engines against a simulated network
// (which stays in the parent, so its memory is not counted here) and reports its own RSS and CPU.
// Sessions start through a LaunchQueue at the node's socket defaults (LAUNCH_CONCURRENCY_SOCKET), as
// a node starts them after a failover, rather than one after another.
// Driven over IPC:
//   {cmd: "base"} -> {rss0}
//   {cmd: "grow", to, simUrl, root, concurrency} -> {rss, launchMs, linkMs, cpuMs, retries, phones}
//   {cmd: "idle", seconds} -> {cpuMs, rss}
//   {cmd: "load", seconds} -> {rss, peakRss, cpuMs, sent, failed}
//   {cmd: "snapshot", dir, name} -> {file}   (a V8 heap snapshot, for scripts/heapsnapshot-top.cjs)
//   {cmd: "stop"}
import path from "node:path";
import v8 from "node:v8";
import { BaileysEngine, simulatedEndpoint } from "../lib/engines/baileys";
import { loadBaileys } from "../lib/engines/baileys/library";
import { LaunchQueue } from "../lib/engines/launch-queue";

const engines: BaileysEngine[] = [];
const phones: string[] = [];
const gc = () => (global as any).gc?.();
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cpuMsSince = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};

async function base(): Promise<void> {
  loadBaileys();
  gc();
  await settle(200);
  process.send!({ rss0: process.memoryUsage().rss });
}

/** Links sessions until there are `to`, `concurrency` starts at a time; reports after a settle and a GC. */
async function grow(to: number, simUrl: string, root: string, concurrency: number): Promise<void> {
  const endpoint = simulatedEndpoint(simUrl);
  const queue = new LaunchQueue({ concurrency, staggerMs: 0 });
  const launchMs: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const from = engines.length;
  let done = 0;
  let retries = 0;
  let cpuAt = process.cpuUsage();
  // one attempt: start, first QR (a retry whose earlier attempt got as far as linking logs in
  // without one), link on the network's phone, ready; the slot is held until the session is linked,
  // as the actor's start holds it until WORKING
  const attempt = (engine: BaileysEngine, phone: string) =>
    queue.run(async () => {
      const failed = new Promise<never>((_, reject) => engine.once("failed", (err: Error) => reject(err)));
      failed.catch(() => undefined);
      const qr = new Promise<string>((resolve) => engine.once("qr", (q: string) => resolve(q)));
      const ready = new Promise<void>((resolve) => engine.once("ready", () => resolve()));
      const started = Date.now();
      await Promise.race([engine.start(), failed]);
      const first = await Promise.race([qr, ready.then(() => undefined), failed]);
      if (first === undefined) return;
      launchMs.push(Date.now() - started);
      const res = await fetch(`${simUrl}/sim/link`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ qr: first, phone }) });
      if (res.status !== 200) throw new Error(`link failed: ${res.status} ${await res.text()}`);
      await Promise.race([ready, failed]);
    });
  const linkOne = async (i: number): Promise<void> => {
    const phone = `1666${String(i).padStart(7, "0")}`;
    // a start that fails (a connect timing out on a saturated machine) is retried, as the session
    // actor retries it, and counted
    for (let tries = 1; ; tries++) {
      const engine = new BaileysEngine({ workspaceId: "bench", sessionId: `b${i}`, authDir: path.join(root, `b${i}`) }, { endpoint, startTimeoutMs: 300_000, sendTimeoutMs: 120_000, qrTimeoutMs: 600_000 });
      try {
        await attempt(engine, phone);
        engines.push(engine);
        phones.push(phone);
        break;
      } catch (err) {
        await engine.stop().catch(() => undefined);
        if (tries >= 5) throw err;
        retries++;
        process.stderr.write(`[baileys-fleet] session b${i}: ${(err as Error).message}; retrying\n`);
        await settle(1000 * tries);
      }
    }
    if (++done % 50 === 0) {
      const cpu = cpuMsSince(cpuAt);
      cpuAt = process.cpuUsage();
      process.stderr.write(`[baileys-fleet] ${from + done} linked, ${Math.round(process.memoryUsage().rss / 1048576)} MB RSS, ${Math.round((Date.now() - t0) / 1000)} s, ${Math.round(cpu / 50)} ms CPU per link lately\n`);
    }
  };
  await Promise.all(Array.from({ length: to - from }, (_, k) => linkOne(from + k)));
  const linkMs = Date.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  // the first minutes after a login carry its one-off work (prekey upload, app state): let it pass
  await settle(3000);
  gc();
  await settle(500);
  const mem = process.memoryUsage();
  process.send!({ rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, launchMs, linkMs, cpuMs, retries, phones });
}

/** CPU and RSS of the linked sessions left alone (keepalives, timers) for `seconds`. */
async function idle(seconds: number): Promise<void> {
  const cpu0 = process.cpuUsage();
  await settle(seconds * 1000);
  process.send!({ cpuMs: cpuMsSince(cpu0), rss: process.memoryUsage().rss });
}

/** One message per session per minute (spread evenly), while the parent's contacts send as many back. */
async function load(seconds: number): Promise<void> {
  const cpu0 = process.cpuUsage();
  const until = Date.now() + seconds * 1000;
  const perSecond = engines.length / 60;
  let sent = 0;
  let failed = 0;
  let i = 0;
  let peakRss = 0;
  const inFlight = new Set<Promise<unknown>>();
  const started = Date.now();
  while (Date.now() < until) {
    // as many as are due by now: the pace holds even when a tick comes late
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond) + 1 - i;
    for (let k = 0; k < due; k++) {
      const e = engines[i++ % engines.length]!;
      const p = e.sendMessage("4915100000009", { text: `load ${i}` }).then(
        () => sent++,
        () => failed++,
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await settle(100);
  }
  const cpuMs = cpuMsSince(cpu0);
  // sends still in flight at the end are waited for (bounded), and counted apart
  const late = inFlight.size;
  await Promise.race([Promise.all(inFlight), settle(30_000)]);
  process.send!({ rss: process.memoryUsage().rss, peakRss, cpuMs, asked: i, sent, failed, lateAtEnd: late });
}

/** A heap snapshot after a GC, written to `dir`. */
async function snapshot(dir: string, name: string): Promise<void> {
  gc();
  try {
    // where the process's resident memory is: malloc's brk heap, anonymous maps (V8's heap, malloc's mmaps), files
    const kb: Record<string, number> = {};
    let cur = "";
    for (const line of (await import("node:fs")).readFileSync("/proc/self/smaps", "utf8").split("\n")) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) cur = head[1] === "[heap]" ? "brk" : head[1] === "" ? "anon" : head[1].startsWith("/") ? "file" : head[1];
      const m = /^Rss:\s+(\d+) kB/.exec(line);
      if (m) kb[cur] = (kb[cur] ?? 0) + Number(m[1]);
    }
    process.stderr.write(`[baileys-fleet] RSS by mapping (MB): ${JSON.stringify(Object.fromEntries(Object.entries(kb).map(([k, v]) => [k, Math.round(v / 1024)])))}, ${JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1048576)])))}\n`);
  } catch {
    // not Linux
  }
  process.send!({ file: v8.writeHeapSnapshot(path.join(dir, `${name}.heapsnapshot`)) });
}

process.on("message", (m: any) => {
  const run =
    m.cmd === "snapshot"
      ? snapshot(m.dir, m.name)
      : m.cmd === "base"
      ? base()
      : m.cmd === "grow"
        ? grow(m.to, m.simUrl, m.root, m.concurrency)
        : m.cmd === "idle"
          ? idle(m.seconds)
          : m.cmd === "load"
            ? load(m.seconds)
            : Promise.all(engines.map((e) => e.stop())).then(() => process.exit(0));
  run.catch((err: Error) => {
    process.send!({ error: err.message });
    process.exit(1);
  });
});

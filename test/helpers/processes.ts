// Real child processes for integration and e2e tests: free loopback ports, log capture, waiting
// for a line or a condition, and kills that are real (SIGKILL, SIGSTOP).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, promises as fs, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { nodeFlags } from "../../lib/node-flags";

/** The repository root (these helpers also run compiled, from dist/test/helpers, for the benchmarks). */
export const ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/**
 * A port free on loopback now, for a process to listen on later. Chosen below the kernel's range of
 * ephemeral ports: a port from listen(0) is an ephemeral one, which any outgoing connection of this
 * busy machine may take before the process binds it (EADDRINUSE at start under load).
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const floor = 20000;
  if (low - floor > 1000) {
    for (let i = 0; i < 50; i++) {
      const port = floor + Math.floor(Math.random() * (low - floor));
      if (await canListen(port)) return port;
    }
  }
  return listenOnce(0);
}

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: the usual default
  }
  return [32768, 60999];
}

async function canListen(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const { port: bound } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(bound));
    });
  });
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `wafleet-${prefix}-`));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export class NodeProcess {
  readonly child: ChildProcess;
  output = "";
  private exited: Promise<number | null>;

  constructor(
    readonly name: string,
    script: string,
    env: Record<string, string>,
  ) {
    // a wafleet node starts with the options `npm start` and the container give it (lib/node-flags.ts)
    const flags = path.basename(script) === "wafleet.js" ? nodeFlags() : [];
    this.child = spawn(process.execPath, [...flags, path.join(ROOT, script)], {
      cwd: ROOT,
      // OPS_PORT 0: every process its own free port for /metrics, /healthz, /readyz (printed at start)
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "info", OPS_PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (d) => (this.output += d.toString()));
    this.child.stderr!.on("data", (d) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForOutput(re: RegExp, timeoutMs = 20000): Promise<RegExpMatchArray> {
    return waitFor(`${this.name} to print ${re}`, () => {
      // what it printed before exiting counts: a process may print its last line and end at once
      const m = this.output.match(re);
      if (m) return m;
      if (!this.running) throw new Error(`${this.name} exited:\n${this.output.slice(-3000)}`);
      return undefined;
    }, timeoutMs);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

/** Starts `dist/bin/sim.js` on a free port. */
export async function startSimProcess(env: Record<string, string> = {}): Promise<{ proc: NodeProcess; url: string }> {
  const port = await freePort();
  const proc = new NodeProcess("sim", "dist/bin/sim.js", { WA_SIM_PORT: String(port), ...env });
  await proc.waitForOutput(/listening on/);
  return { proc, url: `http://127.0.0.1:${port}` };
}

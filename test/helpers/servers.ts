// Real infrastructure for integration tests: `nats-server -js` and `redis-server` on free loopback
// ports, each in its own temp folder, killable and restartable on the same port (so a test can
// take Redis or NATS away and bring it back).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import net from "node:net";
import path from "node:path";
import { freePort, tempDir, waitFor } from "./processes";

export function binary(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin", "/usr/local/bin"])) {
    const p = path.join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${name} not found on PATH or in /usr/sbin; install the Debian package ${name}`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export abstract class ServerProcess {
  child?: ChildProcess;
  output = "";
  private exited?: Promise<void>;

  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  protected abstract command(): [string, string[]];

  /** Extra environment of the server process. */
  protected env(): Record<string, string> {
    return {};
  }

  async start(): Promise<this> {
    const [bin, args] = this.command();
    const child = spawn(bin, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...this.env() } });
    this.child = child;
    child.stdout!.on("data", (d) => (this.output += d.toString()));
    child.stderr!.on("data", (d) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    await waitFor(`${path.basename(bin)} on port ${this.port}`, async () => {
      if (child.exitCode !== null) throw new Error(`${bin} exited: ${this.output.slice(-2000)}`);
      return portOpen(this.port);
    }, 15000);
    return this;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the server (SIGKILL by default); its data folder stays for a restart. */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.running) this.child!.kill(signal);
    await this.exited;
  }

  async restart(): Promise<this> {
    await this.stop();
    return this.start();
  }

  /** Stops the server and removes its folder. */
  async destroy(): Promise<void> {
    await this.stop();
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

export interface NatsServerOptions {
  /** Extra nats-server configuration (authorization, accounts, tls blocks), written to a config file. */
  config?: string;
  /** Serve JetStream (default true). */
  jetstream?: boolean;
  /** Environment the configuration refers to ($VAR). */
  env?: Record<string, string>;
  /** Serve the HTTP monitoring endpoints (/varz, /jsz) on this port. */
  monitorPort?: number;
}

export class NatsServer extends ServerProcess {
  constructor(port: number, dir: string, readonly options: NatsServerOptions = {}) {
    super(port, dir);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  protected override env(): Record<string, string> {
    return this.options.env ?? {};
  }

  protected command(): [string, string[]] {
    const js = this.options.jetstream === false ? [] : ["-js", "-sd", path.join(this.dir, "js")];
    const config = this.options.config ? ["-c", path.join(this.dir, "nats.conf")] : [];
    const monitor = this.options.monitorPort ? ["-m", String(this.options.monitorPort)] : [];
    return [binary("nats-server"), [...config, "-a", "127.0.0.1", "-p", String(this.port), ...monitor, ...js]];
  }

  /** The monitoring endpoints' base URL, when started with monitorPort. */
  get monitorUrl(): string | undefined {
    return this.options.monitorPort ? `http://127.0.0.1:${this.options.monitorPort}` : undefined;
  }

  override async start(): Promise<this> {
    if (this.options.config) {
      await fs.mkdir(this.dir, { recursive: true });
      await fs.writeFile(path.join(this.dir, "nats.conf"), this.options.config);
    }
    return super.start();
  }
}

export interface RedisSecurity {
  /** requirepass */
  password?: string;
  /** TLS only (no plain port): the server's certificate and key, PEM files. */
  tls?: { cert: string; key: string; ca: string };
}

export class RedisServer extends ServerProcess {
  /**
   * A persistent server's AOF fsync: "always" (the default: every write on disk before its reply, a
   * restart loses nothing) or "everysec" (k8s/base/redis.yaml's: at most a second lost, a write
   * waits for no disk). Set before start().
   */
  fsync: "always" | "everysec" = "always";

  /** persistent: append-only file fsynced on every write, as production should run it (a restart loses nothing). */
  constructor(port: number, dir: string, readonly persistent = false, readonly security: RedisSecurity = {}) {
    super(port, dir);
  }

  get url(): string {
    return `${this.security.tls ? "rediss" : "redis"}://127.0.0.1:${this.port}`;
  }

  async prepare(): Promise<this> {
    await fs.mkdir(this.dir, { recursive: true });
    return this;
  }

  protected command(): [string, string[]] {
    const durability = this.persistent ? ["--appendonly", "yes", "--appendfsync", this.fsync] : ["--appendonly", "no"];
    const { password, tls } = this.security;
    const auth = password ? ["--requirepass", password] : [];
    // TLS only: the plain port is closed, clients need no certificate of their own
    const listen = tls
      ? ["--port", "0", "--tls-port", String(this.port), "--tls-cert-file", tls.cert, "--tls-key-file", tls.key, "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no"]
      : ["--port", String(this.port)];
    return [binary("redis-server"), ["--bind", "127.0.0.1", ...listen, "--save", "", ...durability, "--dir", this.dir, "--protected-mode", "no", ...auth]];
  }
}

export async function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  return new NatsServer(await freePort(), await tempDir("nats"), options).start();
}

export async function startRedis(): Promise<RedisServer> {
  return new RedisServer(await freePort(), await tempDir("redis")).start();
}

/** Any server binary run with the arguments given (e.g. as a Kubernetes manifest runs it). */
export class CommandServer extends ServerProcess {
  constructor(port: number, dir: string, private readonly cmd: [string, string[]]) {
    super(port, dir);
  }

  protected command(): [string, string[]] {
    return this.cmd;
  }
}

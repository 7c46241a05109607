// The container image, as far as it can be checked without a Docker engine: the Dockerfile passes a
// real linter (dockerfile-utils, the VS Code Docker language server's) and its structure is read
// with a Dockerfile parser (dockerfile-ast); the entry point script passes `bash -n` and its
// commands are run against this checkout's dist/ (what the image's /app holds).
import { spawn, spawnSync } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { loadConfig } from "../../lib/config";
import { configVariables } from "../helpers/config-vars";
import { ROOT } from "../helpers/processes";

const text = readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
const dockerfile = DockerfileParser.parse(text);
const ENTRYPOINT = path.join(ROOT, "docker/entrypoint.sh");

const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** An exec-form (JSON) instruction's strings; a shell-form one has none. */
const jsonArgs = (i: Instruction) => ((i as any).getJSONStrings?.() ?? []).map((a: { getValue(): string }) => JSON.parse(a.getValue()) as string);
const withFlags = (i: Instruction) => [...(i as any).getFlags().map((f: any) => `--${f.getName()}=${f.getValue()}`), ...args(i)];
/** The instructions of each stage, by stage name. */
function stages(): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const i of dockerfile.getInstructions()) {
    if (i.getKeyword() === "FROM") {
      current = [i];
      out.set(dockerfile.getFROMs().find((f) => f.getRange().start.line === i.getRange().start.line)!.getBuildStage()!, current);
    } else current?.push(i);
  }
  return out;
}
const defaults = Object.fromEntries(dockerfile.getARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue()]));
const resolve = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, n) => defaults[n] ?? "");

describe("Dockerfile", () => {
  it("passes the linter with no problem of any severity (and the linter does find problems)", () => {
    expect(validate(text, {})).toEqual([]);
    expect(validate("FROM node:22\nEXPOSE port\nUSER\n", {}).length).toBeGreaterThan(0);
  });

  it("builds in two stages from Node 22 slim: compile, then a runtime holding dist/ and production modules", () => {
    const s = stages();
    expect([...s.keys()]).toEqual(["build", "runtime"]);
    for (const f of dockerfile.getFROMs()) expect(`${f.getImageName()}:${resolve(f.getImageTag()!)}`).toBe("node:22-bookworm-slim");
    const build = s.get("build")!.map((i) => `${i.getKeyword()} ${args(i).join(" ")}`);
    expect(build).toContain("RUN npm ci --no-audit --no-fund");
    expect(build.some((l) => /^RUN npm run build && npm prune --omit=dev/.test(l))).toBe(true);
    const copies = s.get("runtime")!.filter((i) => i.getKeyword() === "COPY").map(withFlags);
    expect(copies).toEqual(
      expect.arrayContaining([
        ["--from=build", "/src/node_modules", "./node_modules"],
        ["--from=build", "/src/dist", "./dist"],
        ["docker/entrypoint.sh", "/usr/local/bin/wafleet"],
      ]),
    );
  });

  it("installs Debian's chromium and tini, runs tini as PID 1 in front of the entry point, as a non-root user", () => {
    const runtime = stages().get("runtime")!;
    const installs = runtime.filter((i) => i.getKeyword() === "RUN").map((i) => args(i).join(" ")).join(" ");
    expect(installs).toMatch(/apt-get install -y --no-install-recommends [^&]*\bchromium\b/);
    expect(installs).toMatch(/apt-get install [^&]*\btini\b/);
    expect(installs).toContain("rm -rf /var/lib/apt/lists/*");
    const users = runtime.filter((i) => i.getKeyword() === "USER").map((i) => args(i)[0]);
    expect(users.length).toBeGreaterThan(0);
    expect(["root", "0"]).not.toContain(users.at(-1));
    expect(installs).toContain(`useradd --system --uid 10001 --gid wafleet`);
    const entry = runtime.find((i) => i.getKeyword() === "ENTRYPOINT")!;
    // exec form (no shell in between), tini first, forwarding signals to the entry point only
    expect(jsonArgs(entry)).toEqual(["/usr/bin/tini", "--", "/usr/local/bin/wafleet"]);
    expect(jsonArgs(runtime.find((i) => i.getKeyword() === "CMD")!)).toEqual(["start"]);
  });

  it("sets only variables the config module reads, and exposes its default API and ops ports", () => {
    const known = configVariables();
    const runtime = stages().get("runtime")!;
    const env = runtime.filter((i) => i.getKeyword() === "ENV").flatMap((i) => (i as any).getProperties().map((p: any) => [p.getName(), p.getValue()] as [string, string]));
    // NODE_ENV and PUPPETEER_SKIP_DOWNLOAD belong to Node and puppeteer, not to wafleet
    const own = env.filter(([k]) => !["NODE_ENV", "PUPPETEER_SKIP_DOWNLOAD"].includes(k));
    for (const [k] of own) expect(known).toContain(k);
    const d = loadConfig({});
    const values = Object.fromEntries(env);
    expect(values.API_PORT).toBe(String(d.apiPort));
    expect(values.OPS_PORT).toBe(String(d.opsPort));
    expect(values.CHROME_PATH).toBe(d.chromePath);
    const exposed = runtime.filter((i) => i.getKeyword() === "EXPOSE").flatMap(args);
    expect(exposed.sort()).toEqual([String(d.apiPort), String(d.opsPort)].sort());
  });

  it(".dockerignore keeps node_modules, dist and the data folder out of the build context", async () => {
    const ignored = (await fs.readFile(path.join(ROOT, ".dockerignore"), "utf8")).split("\n").filter((l) => l && !l.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", "data", ".git"]));
    // what the build copies by name must not be ignored
    for (const needed of ["package.json", "package-lock.json", ".puppeteerrc.cjs", "docker", "bin", "lib", "services", "moleculer.config.ts"]) expect(ignored).not.toContain(needed);
  });
});

describe("docker/entrypoint.sh", () => {
  const run = (argv: string[], env: Record<string, string>) =>
    spawnSync("bash", [ENTRYPOINT, ...argv], { env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), WAFLEET_HOME: ROOT, ...env }, encoding: "utf8", timeout: 20_000 });

  it("is valid bash and executable", async () => {
    expect(spawnSync("bash", ["-n", ENTRYPOINT]).status).toBe(0);
    expect((await fs.stat(ENTRYPOINT)).mode & 0o111).not.toBe(0);
  });

  it("refuses to start a session node on a sessions folder it cannot write", () => {
    const r = run(["start"], { SERVICES: "sessions", SESSIONS_DIR: "/proc/wafleet-sessions" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/wafleet: SESSIONS_DIR \/proc\/wafleet-sessions is not writable|mkdir: cannot create directory/);
  });

  it("start execs wafleet, which fails fast on a bad setting with the variable named", () => {
    const r = run(["start"], { SERVICES: "api", LEASE_TTL_MS: "never" });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain("Invalid configuration: LEASE_TTL_MS");
  });

  it("start runs the node with the options this Node needs: AsyncLocalStorage on AsyncContextFrame for baileys sessions", async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-entrypoint-"));
    const child = spawn("bash", [ENTRYPOINT, "start"], {
      env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), WAFLEET_HOME: ROOT, DATA_DIR: dataDir, API_PORT: "0", OPS_PORT: "0", WA_SIM_PORT: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no AsyncLocalStorage line in 60 s:\n${out}`)), 60_000);
        const onData = (d: Buffer) => {
          out += d.toString();
          if (/AsyncLocalStorage: /.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", onData);
        child.once("exit", () => reject(new Error(`the node exited:\n${out}`)));
      });
      expect(out).toContain("AsyncLocalStorage: AsyncContextFrame");
    } finally {
      child.kill("SIGTERM");
      await exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it("drain needs NODE_ID; repl needs the cluster's TRANSPORTER; anything else runs as given", () => {
    const drain = run(["drain"], {});
    expect(drain.status).toBe(78);
    expect(drain.stderr).toContain("NODE_ID is not set");
    const repl = run(["repl", "wa-nodes"], {});
    expect(repl.status).toBe(78);
    expect(repl.stderr).toContain("Invalid configuration: TRANSPORTER: the console joins a cluster");
    const other = run(["echo", "hello"], {});
    expect(other.stdout).toBe("hello\n");
  });
});

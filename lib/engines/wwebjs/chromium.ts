// Chromium as wafleet runs it: the memory-lean flag set, launch through whatsapp-web.js's own
// puppeteer, and the process bookkeeping the library does not do (process trees, PSS, process-group
// kills, stale profile locks, and the sweep of browsers a killed node left behind).
import { promises as fs } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Browser, LaunchOptions } from "puppeteer";

/**
 * Flags chosen by measurement (bench/wwebjs-memory.bench.ts, docs/engines.md), on top of
 * puppeteer's own defaults (which already disable background networking, sync, extensions,
 * default apps, first-run UI, component extensions and crash reporting). Each one left the page
 * working; together they cut the PSS of a session's process tree.
 */
export const LEAN_CHROME_ARGS: readonly string[] = [
  "--disable-gpu",
  "--in-process-gpu",
  "--disable-software-rasterizer",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--disable-default-apps",
  "--mute-audio",
  "--disable-dev-shm-usage",
  "--enable-low-end-device-mode",
  "--renderer-process-limit=1",
  "--disk-cache-size=1048576",
  // no `--blink-settings=imagesEnabled=false`: whatsapp-web.js decodes pictures in the page (an
  // Image drawn on a canvas, re-encoded as JPEG, e.g. GroupChat.setPicture), and with images off
  // that Image never loads nor fails: the call hangs
  "--enable-features=NetworkServiceInProcess2",
  // Chromium 14x+ starts an omnibox-popup WebUI renderer even headless; the spare renderer and the
  // back-forward cache keep processes and pages alive that one WhatsApp tab never needs
  "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup,SpareRendererForSitePerProcess,BackForwardCache,Translate,MediaRouter,OptimizationHints",
  "--js-flags=--max-semi-space-size=1 --optimize-for-size",
];

/** What whatsapp-web.js itself adds when it launches Chromium (we launch, so we add them). */
export const CLIENT_CHROME_ARGS: readonly string[] = ["--disable-blink-features=AutomationControlled"];

/** `CHROME_ARGS`: flags separated by whitespace; a flag whose value has spaces is quoted ("..." or '...'). */
export function parseChromeArgs(raw: string | undefined): string[] | undefined {
  if (raw === undefined || !raw.trim()) return undefined;
  const out: string[] = [];
  const re = /(?:[^\s"']+|"[^"]*"|'[^']*')+/g;
  for (const m of raw.match(re) ?? []) out.push(m.replace(/"([^"]*)"|'([^']*)'/g, (_, a, b) => a ?? b));
  return out;
}

/**
 * Chromium's own sandbox (CHROME_SANDBOX): "auto" keeps it except as root, where Chromium refuses
 * to run with it; "off" adds `--no-sandbox` (a container whose seccomp profile forbids the user
 * namespaces the sandbox needs, such as Kubernetes' RuntimeDefault: the pod is then the sandbox);
 * "on" never adds it (Chromium fails to start where the sandbox cannot work, rather than run without).
 */
export type ChromeSandbox = "auto" | "on" | "off";

export function withSandboxFlag(args: readonly string[], uid = process.getuid?.() ?? -1, sandbox: ChromeSandbox = "auto"): string[] {
  const out = [...args];
  const off = sandbox === "off" || (sandbox === "auto" && uid === 0);
  if (off && !out.includes("--no-sandbox")) out.push("--no-sandbox");
  return out;
}

type Puppeteer = typeof import("puppeteer");
let puppeteerModule: Puppeteer | undefined;

/** whatsapp-web.js's own puppeteer (pinned by it), so our browser and its connect speak the same CDP. */
export function libraryPuppeteer(): Puppeteer {
  puppeteerModule ??= createRequire(require.resolve("whatsapp-web.js"))("puppeteer") as Puppeteer;
  return puppeteerModule;
}

export interface ChromiumLaunch {
  executablePath: string;
  userDataDir: string;
  args: readonly string[];
  headless?: boolean;
  /** puppeteer's wait for the browser's DevTools endpoint. */
  timeoutMs?: number;
}

export interface LaunchedChromium {
  browser: Browser;
  pid: number;
}

/** Starts one Chromium; the caller owns the process (puppeteer's signal handlers are off). */
export async function launchChromium(opts: ChromiumLaunch): Promise<LaunchedChromium> {
  await fs.access(opts.executablePath).catch(() => {
    throw new Error(`Chromium not found at ${opts.executablePath}: install it (Debian: apt-get install chromium) or set CHROME_PATH`);
  });
  const launch: LaunchOptions = {
    executablePath: opts.executablePath,
    headless: opts.headless ?? true,
    userDataDir: opts.userDataDir,
    // puppeteer moves --enable/--disable-features out of the array it is given: a fresh copy each time
    args: [...opts.args],
    defaultViewport: null,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: opts.timeoutMs ?? 30000,
  };
  const browser = await libraryPuppeteer().launch(launch);
  const pid = browser.process()?.pid;
  if (!pid) {
    await browser.close().catch(() => undefined);
    throw new Error("Chromium started without a process id");
  }
  return { browser, pid };
}

// --- processes (Linux /proc) ---

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  comm: string;
  args: string[];
}

export async function readProc(pid: number): Promise<ProcInfo | undefined> {
  try {
    const [stat, cmdline] = await Promise.all([fs.readFile(`/proc/${pid}/stat`, "utf8"), fs.readFile(`/proc/${pid}/cmdline`, "utf8")]);
    // comm may hold spaces and parentheses: the fields after the last ')' are fixed
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    if (fields[0] === "Z") return undefined;
    let args = cmdline.split("\0").filter(Boolean);
    // Chromium's helpers rewrite their command line into one string (setproctitle): split it back
    if (args.length === 1 && args[0].includes(" --")) args = args[0].split(/ (?=--)/);
    return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), comm, args };
  } catch {
    return undefined;
  }
}

export async function listProcs(): Promise<ProcInfo[]> {
  const names = await fs.readdir("/proc").catch(() => [] as string[]);
  const infos = await Promise.all(names.filter((n) => /^\d+$/.test(n)).map((n) => readProc(Number(n))));
  return infos.filter((p): p is ProcInfo => p !== undefined);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: any) {
    return err?.code === "EPERM";
  }
}

/** `pid` and all its descendants. */
export async function processTree(pid: number, procs?: ProcInfo[]): Promise<ProcInfo[]> {
  const all = procs ?? (await listProcs());
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const root = all.find((p) => p.pid === pid);
  if (!root) return [];
  const out: ProcInfo[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(byParent.get(p.pid) ?? []));
  }
  return out;
}

/** Proportional set size of one process in bytes (shared pages split among their users), 0 if gone. */
export async function pssOf(pid: number): Promise<number> {
  try {
    const text = await fs.readFile(`/proc/${pid}/smaps_rollup`, "utf8");
    const m = /^Pss:\s+(\d+) kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** PSS of a browser's whole process tree, in bytes: what one session really costs the node. */
export async function treePss(pid: number): Promise<{ bytes: number; processes: number }> {
  const tree = await processTree(pid);
  const sizes = await Promise.all(tree.map((p) => pssOf(p.pid)));
  return { bytes: sizes.reduce((a, b) => a + b, 0), processes: tree.length };
}

/** The `--user-data-dir` a Chromium process runs with, if any. */
export function userDataDirOf(p: ProcInfo): string | undefined {
  const arg = p.args.find((a) => a.startsWith("--user-data-dir="));
  return arg ? path.resolve(arg.slice("--user-data-dir=".length)) : undefined;
}

/** A Chromium browser (main) process: a user data dir and no `--type=` (renderers, GPU, utilities have one). */
function isBrowserMain(p: ProcInfo): boolean {
  return userDataDirOf(p) !== undefined && !p.args.some((a) => a.startsWith("--type="));
}

function inside(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

/**
 * Every Chromium process whose profile is `profileDir` or lies under `root`: the browsers (only
 * they name `--user-data-dir`) and their helpers (zygotes, renderers, GPU and utility processes:
 * the browser's descendants and the members of its process group).
 */
export async function chromiumProcessesUsing(where: { profileDir?: string; root?: string }): Promise<ProcInfo[]> {
  const procs = await listProcs();
  const target = where.profileDir ? path.resolve(where.profileDir) : undefined;
  const root = where.root ? path.resolve(where.root) : undefined;
  const mains = procs.filter((p) => {
    const dir = userDataDirOf(p);
    if (!dir) return false;
    return (target !== undefined && dir === target) || (root !== undefined && inside(dir, root));
  });
  const found = new Map<number, ProcInfo>();
  for (const m of mains) {
    for (const p of await processTree(m.pid, procs)) found.set(p.pid, p);
    for (const p of procs) if (p.pgid === m.pid && m.pgid === m.pid) found.set(p.pid, p);
  }
  return [...found.values()];
}

/** SIGKILLs the process group led by `pid` (puppeteer starts Chromium detached: its own group), then `pid`. */
export function killProcessGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Waits (polling /proc, bounded) until none of `pids` is alive. Returns the ones still alive. */
export async function waitGone(pids: number[], timeoutMs = 5000): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 25));
    alive = alive.filter(isAlive);
  }
  return alive;
}

/** Kills every Chromium process using `profileDir` (with their groups) and waits for them to go. */
export async function killChromiumUsing(profileDir: string): Promise<number[]> {
  const procs = await chromiumProcessesUsing({ profileDir });
  for (const p of procs) killProcessGroup(p.pid);
  await waitGone(procs.map((p) => p.pid));
  return procs.filter(isBrowserMain).map((p) => p.pid);
}

const SINGLETON_FILES = ["SingletonLock", "SingletonSocket", "SingletonCookie"];

/**
 * Makes a profile launchable: a Chromium still holding it (left by a killed node) is killed, then
 * the `Singleton*` files a SIGKILL leaves behind are removed (Chromium would refuse the profile as
 * "in use" by the dead pid, or by a pid on another host after a failover).
 */
export async function releaseProfile(profileDir: string): Promise<{ killed: number[]; removed: string[] }> {
  const killed = await killChromiumUsing(profileDir);
  const removed: string[] = [];
  for (const name of SINGLETON_FILES) {
    const file = path.join(profileDir, name);
    try {
      await fs.lstat(file);
    } catch {
      continue;
    }
    await fs.rm(file, { force: true });
    removed.push(name);
  }
  return { killed, removed };
}

/**
 * At node start: kills the Chromium browsers a previous run of this node left behind, i.e. every
 * browser whose profile lies under `sessionsDir` and whose parent is no longer a live Node process
 * (a SIGKILLed node's browsers are re-parented to init or a subreaper). Browsers of another live
 * wafleet process sharing the folder on this host are left alone.
 */
export async function sweepOrphanChromium(sessionsDir: string): Promise<ProcInfo[]> {
  const procs = await listProcs();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const root = path.resolve(sessionsDir);
  const orphans = procs.filter((p) => {
    const dir = userDataDirOf(p);
    if (!dir || !inside(dir, root) || !isBrowserMain(p)) return false;
    const parent = byPid.get(p.ppid);
    return p.ppid <= 1 || !parent || !isNodeProcess(parent);
  });
  const doomed = new Set<number>();
  for (const o of orphans) {
    for (const p of await processTree(o.pid, procs)) doomed.add(p.pid);
    for (const p of procs) if (p.pgid === o.pid) doomed.add(p.pid);
  }
  for (const o of orphans) killProcessGroup(o.pid);
  for (const pid of doomed) if (isAlive(pid)) killProcessGroup(pid);
  await waitGone([...doomed]);
  return orphans;
}

function isNodeProcess(p: ProcInfo): boolean {
  const exe = path.basename(p.args[0] ?? "");
  return p.comm === "node" || p.comm === "MainThread" || exe === "node" || exe.startsWith("node");
}

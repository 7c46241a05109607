// The operations runbook names only things that exist: npm scripts, console commands with flags the
// console accepts, the image's entry point commands, environment variables lib/config reads (or an
// error code, a status), REST routes of the route table, ops endpoints, alerts, metrics and files,
// and the measured figures it quotes are the ones the benchmark docs hold.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { ERROR_CATALOGUE } from "../../lib/errors";
import { RESTRICTION_REASONS, UNLINKED_REASONS } from "../../lib/engines/types";
import { RouteTable } from "../../lib/api/routes";
import { configVariables } from "../helpers/config-vars";
import { parseCommandLine, waCommands, WA_COMMAND_NAMES } from "../../lib/ops/repl-commands";
import { registeredMetricNames } from "../helpers/metrics";
import { ROOT } from "../helpers/processes";

const RUNBOOK = readFileSync(path.join(ROOT, "docs/operations/whatsapp-instances-runbook.md"), "utf8");
const lines = RUNBOOK.split("\n");
const spans = [...RUNBOOK.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
const codeLines = (() => {
  const out: string[] = [];
  let inside = false;
  for (const l of lines) {
    if (l.startsWith("```")) inside = !inside;
    else if (inside) out.push(l);
  }
  return out;
})();

it("every npm script it runs exists in package.json", () => {
  const scripts = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>;
  const used = [...RUNBOOK.matchAll(/\bnpm (?:run ([a-z:-]+)|(start|test)\b)/g)].map((m) => m[1] ?? m[2]!);
  expect(used).toEqual(expect.arrayContaining(["repl", "start", "bench"]));
  for (const s of used) expect({ script: s, exists: s in scripts }).toEqual({ script: s, exists: true });
});

it("every console command exists, and every invocation parses with the console's own flags", () => {
  const named = new Set([...RUNBOOK.matchAll(/\bwa-[a-z]+/g)].map((m) => m[0]));
  expect([...named].sort()).toEqual([...WA_COMMAND_NAMES].sort());
  const commands = waCommands(() => undefined);
  const invocations = [
    ...codeLines.filter((l) => l.startsWith("wafleet $ ")).map((l) => l.slice("wafleet $ ".length)),
    // inline invocations (a bare `wa-drain` is a mention, not a call)
    ...spans.filter((s) => /^wa-[a-z]+ \S/.test(s) && !/[<[]/.test(s)),
    ...[...RUNBOOK.matchAll(/wafleet repl (wa-[^\n`]+)/g)].map((m) => m[1]!),
  ].map((l) => l.replace(/\s+#.*$/, "").trim());
  expect(invocations.length).toBeGreaterThan(12);
  for (const line of invocations) {
    const [name, ...words] = line.split(/\s+/);
    const cmd = commands.find((c) => c.command.split(" ")[0] === name);
    expect({ line, known: !!cmd }).toEqual({ line, known: true });
    expect(() => parseCommandLine(cmd!, words)).not.toThrow();
    // required positionals are there
    const required = [...cmd!.command.matchAll(/<([a-z]+)>/g)].map((m) => m[1]!);
    const args = parseCommandLine(cmd!, words);
    for (const r of required) expect({ line, [r]: typeof args[r] }).toEqual({ line, [r]: "string" });
    if (name === "wa-backup" && args.op) expect(["now", "list", "verify"]).toContain(args.op);
  }
  // the usage lines in the command table are the commands' own
  for (const c of commands) {
    const usage = spans.find((s) => s.startsWith(c.command.split(" ")[0]! + (c.command.includes(" ") || c.options ? " " : "")) && /[<[]/.test(s)) ?? spans.find((s) => s === c.command);
    expect({ command: c.command, documented: !!usage }).toEqual({ command: c.command, documented: true });
    for (const o of c.options ?? []) expect(usage).toContain(/--[a-z]+/.exec(o.option)![0]);
  }
});

it("every entry point command it uses is one docker/entrypoint.sh handles", () => {
  const entry = readFileSync(path.join(ROOT, "docker/entrypoint.sh"), "utf8");
  const used = new Set([...RUNBOOK.matchAll(/(?:-- |`)wafleet (start|repl|drain|sim|[a-z]+)\b/g)].map((m) => m[1]!));
  expect([...used]).toEqual(expect.arrayContaining(["repl", "drain"]));
  for (const c of used) expect(entry).toMatch(new RegExp(`\\n {2}${c}\\)\\n`));
});

it("every environment variable it names is one lib/config reads; other capitals are error codes, statuses or disconnect reasons", () => {
  const vars = configVariables();
  const codes = new Set([...Object.keys(ERROR_CATALOGUE), ...RESTRICTION_REASONS, ...UNLINKED_REASONS]);
  const statuses = new Set(["STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED", "CONFLICT", "REASON"]);
  const capitals = spans.filter((s) => /^[A-Z][A-Z0-9_]+$/.test(s));
  const assigned = codeLines.flatMap((l) => [...l.matchAll(/\b([A-Z][A-Z0-9_]{2,})=/g)].map((m) => m[1]!));
  expect(capitals.filter((s) => vars.has(s)).length).toBeGreaterThan(15);
  for (const s of capitals) expect({ name: s, known: vars.has(s) || codes.has(s) || statuses.has(s) }).toEqual({ name: s, known: true });
  for (const s of assigned) expect({ name: s, known: vars.has(s) || s.startsWith("AWS_") }).toEqual({ name: s, known: true });
  // inside prose too: anything written like a wafleet setting (X_Y in capitals followed by a space or punctuation)
  for (const m of RUNBOOK.matchAll(/`([A-Z]+_[A-Z0-9_]+)`/g)) expect(vars.has(m[1]!) || codes.has(m[1]!) || statuses.has(m[1]!)).toBe(true);
});

it("every REST call it shows is a route of the route table, and every ops endpoint is served", () => {
  const table = new RouteTable();
  const calls: Array<{ method: string; path: string }> = [];
  for (const l of lines) {
    for (const m of l.matchAll(/(?:(GET|POST|PUT|DELETE) )?"?\$api(\/[^\s"'`]*)/g)) {
      const method = /-X (GET|POST|PUT|DELETE)/.exec(l)?.[1] ?? m[1] ?? "GET";
      calls.push({ method, path: `/api/v1${m[2]!.split("?")[0]}` });
    }
  }
  expect(calls.length).toBeGreaterThan(10);
  for (const c of calls) {
    const r = table.match(c.method, c.path);
    expect({ ...c, route: !!(r && "def" in r) }).toEqual({ ...c, route: true });
  }
  const ops = readFileSync(path.join(ROOT, "lib/ops/ops-server.ts"), "utf8");
  const served = new Set([...ops.matchAll(/url === "(\/[a-z]+)"/g)].map((m) => m[1]!));
  expect([...served].sort()).toEqual(["/health", "/healthz", "/metrics", "/readyz"]);
  const used = [...RUNBOOK.matchAll(/\$ops(\/[a-z]+)/g), ...RUNBOOK.matchAll(/`(\/(?:healthz|readyz|metrics|health))`/g)].map((m) => m[1]!);
  expect(new Set(used)).toEqual(served);
});

it("its alerts, metrics, files and measured figures are real", () => {
  const rules = parseYaml(readFileSync(path.join(ROOT, "k8s/monitoring/alert-rules.yml"), "utf8"));
  const alerts = new Set<string>(rules.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert)));
  const named = [...RUNBOOK.matchAll(/`(Wafleet[A-Za-z]+)`/g)].map((m) => m[1]!);
  expect(named.length).toBeGreaterThan(5);
  for (const a of named) expect({ alert: a, exists: alerts.has(a) }).toEqual({ alert: a, exists: true });

  const registered = registeredMetricNames();
  for (const m of RUNBOOK.matchAll(/`(wafleet_[a-z0-9_]+)`/g)) expect({ metric: m[1], registered: registered.has(m[1]!) }).toEqual({ metric: m[1], registered: true });

  for (const m of RUNBOOK.matchAll(/`((?:k8s|docs|lib|test)\/[A-Za-z0-9_./-]+)`/g)) expect({ file: m[1], exists: existsSync(path.join(ROOT, m[1]!)) }).toEqual({ file: m[1], exists: true });
  for (const f of ["Dockerfile", "k8s/overlays/prod/kustomization.yaml", "k8s/overlays/dev"]) expect(existsSync(path.join(ROOT, f))).toBe(true);

  // the figures it quotes are the measured ones
  const benchmarks = readFileSync(path.join(ROOT, "docs/benchmarks.md"), "utf8");
  const engines = readFileSync(path.join(ROOT, "docs/engines.md"), "utf8");
  expect(RUNBOOK).toContain("14.5 s after `kill -9`");
  expect(benchmarks).toMatch(/"failover\.seconds\.1000","unit":"s","value":14\.4\d/);
  expect(benchmarks).toMatch(/"failover\.seconds\.300","unit":"s","value":13\.3\d/);
  expect(RUNBOOK).toContain("300 sessions in 13.4 s");
  expect(engines).toMatch(/\*\*128 MB\*\* PSS per session/);
  expect(RUNBOOK).toContain("**103-128 MB PSS**");
  expect(benchmarks).toContain("about 110 KiB per session");
  // the prod overlay's sizing the runbook explains
  const prodConfig = parseYaml(readFileSync(path.join(ROOT, "k8s/base/config.yaml"), "utf8"));
  expect(RUNBOOK).toContain(`MAX_SESSIONS_PER_INSTANCE=${prodConfig.data.MAX_SESSIONS_PER_INSTANCE}`);
});

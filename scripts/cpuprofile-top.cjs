#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench:scale -- --profile DIR`):
// self time by module (a node_modules package, a wafleet file, node internals, GC, idle) and the
// top functions by self and by total time. Several files (e.g. every session node's) are summed.
//   node scripts/cpuprofile-top.cjs FILE.cpuprofile [FILE ...] [--top 25] [--from S --to S]
// --from / --to (Unix time in seconds, e.g. from `ts '%.s'` on the bench's log) keep only the samples
// taken in that window, such as a failover's restore: a profile's times are the monotonic clock's
// (CLOCK_MONOTONIC, as process.hrtime), mapped to wall time with this machine's offset now, so the
// window is right only for profiles taken since the last boot.
"use strict";
const fs = require("node:fs");

// piped into head: stop quietly when the reader goes
process.stdout.on("error", (err) => process.exit(err.code === "EPIPE" ? 0 : 1));

const args = process.argv.slice(2);
const options = new Map();
const files = [];
for (let i = 0; i < args.length; i++) {
  if (["--top", "--from", "--to"].includes(args[i])) options.set(args[i], Number(args[++i]));
  else files.push(args[i]);
}
const TOP = options.get("--top") ?? 25;
if (!files.length || [...options.values()].some((v) => !Number.isFinite(v))) {
  process.stderr.write("usage: cpuprofile-top.cjs FILE.cpuprofile [FILE ...] [--top N] [--from UNIX_S --to UNIX_S]\n");
  process.exit(2);
}
// wall time (us) = monotonic time (us) + offset
const offsetUs = Date.now() * 1000 - Number(process.hrtime.bigint() / 1000n);
const fromUs = options.has("--from") ? options.get("--from") * 1e6 - offsetUs : -Infinity;
const toUs = options.has("--to") ? options.get("--to") * 1e6 - offsetUs : Infinity;

function moduleOf(frame) {
  const url = frame.url || "";
  if (!url) {
    if (["(idle)", "(garbage collector)", "(program)", "(root)"].includes(frame.functionName)) return frame.functionName;
    return "(native)";
  }
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0];
  const d = url.indexOf("/dist/");
  return d >= 0 ? url.slice(d + 6) : url;
}
const label = (f) => `${f.functionName || "(anonymous)"} ${moduleOf(f)}:${f.lineNumber + 1}`;

let total = 0;
let idle = 0;
const modules = new Map();
const fnSelf = new Map();
const fnTotal = new Map();
const add = (m, k, ms) => m.set(k, (m.get(k) ?? 0) + ms);
for (const file of files) {
  const prof = JSON.parse(fs.readFileSync(file, "utf8"));
  // self time per node: the sample counts weighted by their time deltas
  const self = new Map();
  let at = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    at += prof.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  }
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  for (const [id, ms] of self) {
    const f = byId.get(id).callFrame;
    total += ms;
    if (f.functionName === "(idle)") idle += ms;
    add(modules, moduleOf(f), ms);
    add(fnSelf, label(f), ms);
    // total time: every distinct frame on the stack, once
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur).callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      add(fnTotal, l, ms);
    }
  }
}
const busy = total - idle;
const pct = (ms) => `${((100 * ms) / busy).toFixed(1)}%`.padStart(6);
const table = (title, m) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, ms] of [...m].filter(([k]) => k !== "(idle)" && !k.startsWith("(idle)") && !k.startsWith("(root)")).sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    process.stdout.write(`${pct(ms)} ${(ms / 1000).toFixed(2).padStart(8)} s  ${k}\n`);
  }
};
const window = Number.isFinite(fromUs) || Number.isFinite(toUs) ? ` in the window ${options.get("--from") ?? "start"} to ${options.get("--to") ?? "end"}` : "";
process.stdout.write(`${files.join("\n")}\nprofiled${window} ${(total / 1000).toFixed(1)} s, busy (not idle) ${(busy / 1000).toFixed(1)} s; percentages are of busy time\n`);
table("self time by module", modules);
table("self time by function", fnSelf);
table("total time by function", fnTotal);

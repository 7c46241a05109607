#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench:scale -- --profile DIR`):
// self time by module (a node_modules package, a wafleet file, node internals, GC, idle) and the
// top functions by self and by total time. Several files (e.g. every session node's) are summed.
//   node scripts/cpuprofile-top.cjs FILE.cpuprofile [FILE ...] [--top 25]
"use strict";
const fs = require("node:fs");

// piped into head: stop quietly when the reader goes
process.stdout.on("error", (err) => process.exit(err.code === "EPIPE" ? 0 : 1));

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const TOP = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const files = args.filter((_, i) => topAt < 0 || (i !== topAt && i !== topAt + 1));
if (!files.length) {
  process.stderr.write("usage: cpuprofile-top.cjs FILE.cpuprofile [FILE ...] [--top N]\n");
  process.exit(2);
}

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
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
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
process.stdout.write(`${files.join("\n")}\nprofiled ${(total / 1000).toFixed(1)} s, busy (not idle) ${(busy / 1000).toFixed(1)} s; percentages are of busy time\n`);
table("self time by module", modules);
table("self time by function", fnSelf);
table("total time by function", fnTotal);

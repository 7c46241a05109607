#!/usr/bin/env node
// Summarises a V8 .heapsnapshot (from `v8.writeHeapSnapshot()`, e.g. `npm run bench -- baileys-memory
// --heap-snapshot DIR`): self size and count by constructor (objects) or by node type (strings,
// arrays, code, ...), largest first, with the share of the heap. No retained sizes: the counts per
// constructor divided by the number of sessions are what tells a per-session structure apart.
//   node scripts/heapsnapshot-top.cjs FILE.heapsnapshot [--top 40] [--per N]   (--per: divide by N sessions)
"use strict";
const fs = require("node:fs");

process.stdout.on("error", (err) => process.exit(err.code === "EPIPE" ? 0 : 1));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const TOP = opt("top", 40);
const PER = opt("per", 0);
const file = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--")));
if (!file) {
  process.stderr.write("usage: heapsnapshot-top.cjs FILE.heapsnapshot [--top N] [--per SESSIONS]\n");
  process.exit(2);
}

const snap = JSON.parse(fs.readFileSync(file, "utf8"));
const meta = snap.snapshot.meta;
const F = meta.node_fields.length;
const typeAt = meta.node_fields.indexOf("type");
const nameAt = meta.node_fields.indexOf("name");
const sizeAt = meta.node_fields.indexOf("self_size");
const types = meta.node_types[0];
const { nodes, strings } = snap;
const groups = new Map();
let total = 0;
for (let i = 0; i < nodes.length; i += F) {
  const type = types[nodes[i + typeAt]];
  const size = nodes[i + sizeAt];
  total += size;
  // objects by constructor; closures by function name; the rest by type
  const key = type === "object" || type === "native" ? `${type} ${strings[nodes[i + nameAt]]}` : type === "closure" ? `closure ${strings[nodes[i + nameAt]] || "(anonymous)"}` : `(${type})`;
  const g = groups.get(key) ?? { size: 0, count: 0 };
  g.size += size;
  g.count += 1;
  groups.set(key, g);
}
const MB = 1024 * 1024;
const rows = [...groups.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, TOP);
process.stdout.write(`heap ${(total / MB).toFixed(1)} MB in ${nodes.length / F} nodes${PER ? `, per session (/${PER}): ${((total / PER) / 1024).toFixed(0)} KB` : ""}\n`);
for (const [key, g] of rows) {
  const per = PER ? `  ${((g.size / PER) / 1024).toFixed(1).padStart(8)} KB/s ${(g.count / PER).toFixed(0).padStart(6)}/s` : "";
  process.stdout.write(`${(g.size / MB).toFixed(1).padStart(9)} MB ${((g.size / total) * 100).toFixed(1).padStart(5)}% ${String(g.count).padStart(9)}${per}  ${key.slice(0, 100)}\n`);
}

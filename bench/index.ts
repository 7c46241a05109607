#!/usr/bin/env node
// `npm run bench [name ...]`: runs every bench/<name>.bench.ts (or the ones named) in turn and
// prints one JSON line per figure. Each figure carries the baseline measured in the same run and
// their ratio, because absolute times on a shared, noisy machine mean little.
import { promises as fs } from "node:fs";
import path from "node:path";
import type { BenchModule } from "./harness";

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const files = (await fs.readdir(__dirname)).filter((f) => f.endsWith(".bench.js")).sort();
  const chosen = files.filter((f) => !wanted.length || wanted.includes(f.replace(/\.bench\.js$/, "")));
  if (!chosen.length) {
    process.stderr.write(`no benchmark matches ${wanted.join(", ")}; have: ${files.map((f) => f.replace(/\.bench\.js$/, "")).join(", ")}\n`);
    process.exit(2);
  }
  let failed = 0;
  for (const f of chosen) {
    const name = f.replace(/\.bench\.js$/, "");
    // a CommonJS module imported dynamically: its exports object sits under `default`
    const loaded: any = await import(path.join(__dirname, f));
    const mod = (typeof loaded.default === "function" ? loaded : loaded.default) as BenchModule;
    const started = Date.now();
    try {
      await mod.default({ emit: (figure) => process.stdout.write(`${JSON.stringify({ bench: name, ...figure })}\n`), args: process.argv.slice(2) });
    } catch (err) {
      failed++;
      process.stdout.write(`${JSON.stringify({ bench: name, error: err instanceof Error ? err.message : String(err) })}\n`);
    }
    process.stderr.write(`[bench] ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  process.exit(failed ? 1 : 0);
}

void main();

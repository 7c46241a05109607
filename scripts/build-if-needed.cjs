#!/usr/bin/env node
// Runs the build (tsc, then the dashboard) when dist/ is missing or older than any source file, so
// `npm start` works on a fresh clone.
const fs = require("fs");
const path = require("path");
const { execSync } = require("child_process");

const root = path.join(__dirname, "..");
const stamps = [path.join(root, "dist", "bin", "wafleet.js"), path.join(root, "dist", "ui", "index.html")];
function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    // (generated files, openapi.gen.ts, are written by the build itself)
    else if (/\.(ts|tsx|css|html|svg)$/.test(e.name) && !e.name.endsWith(".gen.ts")) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}
const sources = ["bin", "lib", "services", "mixins", "ui"].map((d) => path.join(root, d)).filter((d) => fs.existsSync(d));
const srcTime = Math.max(fs.statSync(path.join(root, "moleculer.config.ts")).mtimeMs, ...sources.map(newest));
const stale = (stamp) => !fs.existsSync(stamp) || fs.statSync(stamp).mtimeMs < srcTime;
if (stamps.some(stale)) {
  console.error("[wafleet] building (tsc, dashboard)...");
  execSync("npm run build --silent", { cwd: root, stdio: "inherit" });
}

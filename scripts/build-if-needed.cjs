#!/usr/bin/env node
// Runs `tsc` when dist/ is missing or older than any source file, so `npm start` works on a fresh clone.
const fs = require("fs");
const path = require("path");
const { execSync } = require("child_process");

const root = path.join(__dirname, "..");
const stamp = path.join(root, "dist", "bin", "wafleet.js");
function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith(".ts") || e.name.endsWith(".html")) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}
const sources = ["bin", "lib", "services", "mixins"].map((d) => path.join(root, d)).filter((d) => fs.existsSync(d));
const srcTime = Math.max(fs.statSync(path.join(root, "moleculer.config.ts")).mtimeMs, ...sources.map(newest));
if (!fs.existsSync(stamp) || fs.statSync(stamp).mtimeMs < srcTime) {
  console.error("[wafleet] building (tsc)...");
  execSync("npm run build --silent", { cwd: root, stdio: "inherit" });
}

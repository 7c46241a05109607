// The Node options a wafleet node starts with (lib/node-flags.ts): Baileys' per-socket
// AsyncLocalStorage must not make every promise cost O(sessions), so nodes run with
// AsyncContextFrame on Node 22-23 (a flag) and 24+ (the default, which refuses the flag).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { ASYNC_CONTEXT_FRAME_FLAG, asyncContextFrameEnabled, hooksFlags, nodeFlags } from "../../lib/node-flags";

const ROOT = path.join(__dirname, "../..");

describe("nodeFlags", () => {
  it("asks for the flag only where Node knows it", () => {
    expect(nodeFlags(new Set(["--max-old-space-size", ASYNC_CONTEXT_FRAME_FLAG]))).toEqual([ASYNC_CONTEXT_FRAME_FLAG]);
    expect(nodeFlags(new Set(["--max-old-space-size"]))).toEqual([]);
  });

  it("gives this Node options it accepts, and with them AsyncLocalStorage is AsyncContextFrame", () => {
    const probe = `
      const { AsyncLocalStorage } = require("node:async_hooks");
      const { asyncContextFrameEnabled } = require(${JSON.stringify(path.join(ROOT, "dist/lib/node-flags.js"))});
      // the async-hooks implementation carries _propagate, which every promise runs per instance
      console.log(JSON.stringify({ enabled: asyncContextFrameEnabled(), hooks: typeof AsyncLocalStorage.prototype._propagate === "function" }));`;
    const run = (flags: string[]) => {
      const r = spawnSync(process.execPath, [...flags, "-e", probe], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
      expect(r.stderr).toBe("");
      return JSON.parse(r.stdout) as { enabled: boolean; hooks: boolean };
    };
    expect(run(nodeFlags())).toEqual({ enabled: true, hooks: false });
    expect(run(hooksFlags())).toEqual({ enabled: false, hooks: true });
  });

  it("bin/node-flags prints them for the shell (npm start, the container's entry point)", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "dist/bin/node-flags.js")], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(nodeFlags().join(" "));
  });
});

describe("asyncContextFrameEnabled", () => {
  it("reads the options the process started with, by Node version", () => {
    expect(asyncContextFrameEnabled("22.23.3", [])).toBe(false);
    expect(asyncContextFrameEnabled("22.23.3", ["--expose-gc", ASYNC_CONTEXT_FRAME_FLAG])).toBe(true);
    expect(asyncContextFrameEnabled("24.21.0", [])).toBe(true);
    expect(asyncContextFrameEnabled("24.21.0", ["--no-async-context-frame"])).toBe(false);
    expect(hooksFlags("22.23.3")).toEqual([]);
    expect(hooksFlags("24.21.0")).toEqual(["--no-async-context-frame"]);
  });
});

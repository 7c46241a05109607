// Chromium keeps its own sandbox as the image's user (uid 10001), not only as root with
// --no-sandbox: the flags wafleet launches it with (CHROME_SANDBOX=auto) leave the sandbox on for a
// non-root user, and Chromium starts with it. (Under Kubernetes' RuntimeDefault seccomp profile the
// user namespaces it needs are refused; k8s/base then sets CHROME_SANDBOX=off: see docs/engines.md.)
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { LEAN_CHROME_ARGS, withSandboxFlag } from "../../lib/engines/wwebjs/chromium";
import { loadConfig } from "../../lib/config";
import { tempDir } from "../helpers/processes";

jest.setTimeout(60_000);

const IMAGE_UID = 10001;

it("starts Chromium with its sandbox as uid 10001 (the image's user), with the flags wafleet uses", async () => {
  const root = process.getuid?.() === 0;
  const uid = root ? IMAGE_UID : process.getuid!();
  const args = withSandboxFlag(LEAN_CHROME_ARGS, uid, "auto");
  expect(args).not.toContain("--no-sandbox");
  const dir = await tempDir("chromium-sandbox");
  try {
    if (root) await fs.chown(dir, IMAGE_UID, IMAGE_UID);
    const chrome = loadConfig({}).chromePath;
    const child = spawn(chrome, [...args, "--headless=new", `--user-data-dir=${path.join(dir, "profile")}`, "--dump-dom", "data:text/html,<p id=x>sandboxed</p>"], {
      uid,
      gid: root ? IMAGE_UID : process.getgid!(),
      env: { HOME: dir, PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect({ code, dom: out.includes("sandboxed"), noUsableSandbox: /No usable sandbox|sandbox.*(failed|not)/i.test(err) }).toEqual({ code: 0, dom: true, noUsableSandbox: false });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

it("CHROME_SANDBOX: auto (on unless root), off adds --no-sandbox, on never does", () => {
  expect(withSandboxFlag(["--a"], 10001, "auto")).toEqual(["--a"]);
  expect(withSandboxFlag(["--a"], 0, "auto")).toEqual(["--a", "--no-sandbox"]);
  expect(withSandboxFlag(["--a"], 10001, "off")).toEqual(["--a", "--no-sandbox"]);
  expect(withSandboxFlag(["--a"], 0, "on")).toEqual(["--a"]);
  expect(loadConfig({ CHROME_SANDBOX: "off" }).chromeSandbox).toBe("off");
  expect(loadConfig({}).chromeSandbox).toBe("auto");
});

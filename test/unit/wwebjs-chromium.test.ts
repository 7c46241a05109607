// The Chromium plumbing of the wwebjs engine that needs no browser: flag parsing, the sandbox flag,
// configuration errors that name their variable, /proc parsing and the fake page's HTML.
import { ConfigError } from "../../lib/config";
import { LEAN_CHROME_ARGS, parseChromeArgs, processTree, readProc, withSandboxFlag } from "../../lib/engines/wwebjs/chromium";
import { assertChromium, chromeArgsFrom } from "../../lib/engines/wwebjs/factory";
import { FAKE_WA_WEB_VERSION, buildFakePage, fakePageBootScript } from "../../lib/simulator/fake-wa-web";

describe("CHROME_ARGS", () => {
  it("splits on whitespace and keeps quoted values with spaces whole", () => {
    expect(parseChromeArgs(`--disable-gpu  --js-flags="--max-semi-space-size=1 --optimize-for-size" --lang='en US'`)).toEqual([
      "--disable-gpu",
      "--js-flags=--max-semi-space-size=1 --optimize-for-size",
      "--lang=en US",
    ]);
  });

  it("is undefined when empty, so the lean set applies", () => {
    expect(parseChromeArgs(undefined)).toBeUndefined();
    expect(parseChromeArgs("   ")).toBeUndefined();
    expect(chromeArgsFrom("")).toBeUndefined();
  });

  it("refuses anything that is not a flag, naming CHROME_ARGS", () => {
    expect(() => chromeArgsFrom("--ok about:blank")).toThrow(ConfigError);
    expect(() => chromeArgsFrom("--ok about:blank")).toThrow(/CHROME_ARGS.*about:blank/);
  });
});

describe("the sandbox flag", () => {
  it("is added as root only, and only once", () => {
    expect(withSandboxFlag(["--a"], 0)).toEqual(["--a", "--no-sandbox"]);
    expect(withSandboxFlag(["--no-sandbox"], 0)).toEqual(["--no-sandbox"]);
    expect(withSandboxFlag(["--a"], 1000)).toEqual(["--a"]);
  });

  it("returns a new array each time (puppeteer rewrites the one it is given)", () => {
    const a = withSandboxFlag(LEAN_CHROME_ARGS, 0);
    const b = withSandboxFlag(LEAN_CHROME_ARGS, 0);
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
  });
});

describe("CHROME_PATH", () => {
  it("is checked at start and named when Chromium is missing", () => {
    expect(() => assertChromium("/nonexistent/chromium")).toThrow(ConfigError);
    expect(() => assertChromium("/nonexistent/chromium")).toThrow(/CHROME_PATH/);
  });
});

describe("/proc", () => {
  it("reads this process and finds it in its own tree", async () => {
    const me = await readProc(process.pid);
    expect(me).toMatchObject({ pid: process.pid, ppid: process.ppid });
    expect(me!.args.length).toBeGreaterThan(0);
    const tree = await processTree(process.ppid);
    expect(tree.map((p) => p.pid)).toContain(process.pid);
  });

  it("answers undefined for a process that does not exist", async () => {
    expect(await readProc(2 ** 22 + 12345)).toBeUndefined();
  });
});

describe("the fake page", () => {
  it("inlines its script with the version and loads nothing but what it is told to", () => {
    const html = buildFakePage();
    expect(html).toContain(JSON.stringify(FAKE_WA_WEB_VERSION));
    expect(html).not.toMatch(/<script src=/);
    expect(buildFakePage({ blockingScriptUrl: "http://127.0.0.1:9/never.js" })).toContain('<script src="http://127.0.0.1:9/never.js"></script>');
  });

  it("gets the network's address through a boot script", () => {
    expect(fakePageBootScript({ simUrl: "http://127.0.0.1:3100" })).toBe('window.__wafleetFakeWaWeb = {"simUrl":"http://127.0.0.1:3100"};');
  });
});

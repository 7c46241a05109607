// Builds the wwebjs engine factory from the node's configuration: the real WhatsApp Web by default,
// or, when WA_SIM_URL names a simulated network, the fake WhatsApp Web page connected to it (the
// real library, puppeteer and Chromium end to end, with the network as the oracle).
import { accessSync, constants, mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../../config";
import { ConfigError } from "../../config";
import { FAKE_PAGE_CHROME_ARGS, FAKE_WA_WEB_VERSION, buildFakePage, fakePageBootScript } from "../../simulator/fake-wa-web";
import { LaunchQueue } from "../launch-queue";
import type { EngineFactory } from "../types";
import { parseChromeArgs } from "./chromium";
import type { WwebjsEngineOptions } from "./engine";
import { createWwebjsEngineFactory } from "./engine";
import { pageWatchdogTimings } from "./page-watchdog";

/** Fails at node start, naming the variable, when Chromium cannot be run. */
export function assertChromium(chromePath: string): void {
  try {
    accessSync(chromePath, constants.X_OK);
  } catch {
    throw new ConfigError("CHROME_PATH", `no executable Chromium at ${JSON.stringify(chromePath)}: install it (Debian: apt-get install chromium) or set CHROME_PATH to its binary`);
  }
}

export function chromeArgsFrom(raw: string): string[] | undefined {
  const args = parseChromeArgs(raw);
  const bad = args?.find((a) => !a.startsWith("--"));
  if (bad !== undefined) throw new ConfigError("CHROME_ARGS", `expected Chromium flags separated by spaces, each starting with -- (got ${JSON.stringify(bad)})`);
  return args;
}

export function wwebjsOptionsFromConfig(config: Config, simUrl: string, log?: WwebjsEngineOptions["log"]): WwebjsEngineOptions {
  assertChromium(config.chromePath);
  const opts: WwebjsEngineOptions = {
    chromePath: config.chromePath,
    chromeArgs: chromeArgsFrom(config.chromeArgs),
    sandbox: config.chromeSandbox,
    startTimeoutMs: config.engineStartTimeoutMs,
    relaunchQueue: new LaunchQueue({ concurrency: config.launchConcurrency, staggerMs: config.launchStaggerMs }),
    // a Node process frozen without its Chromium must not keep WhatsApp connected past the lease
    pageWatchdog: pageWatchdogTimings(config.leaseTtlMs),
    log,
  };
  if (!simUrl) return opts;
  const dir = path.join(config.dataDir, "fake-wa-web");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${FAKE_WA_WEB_VERSION}.html`);
  writeFileSync(`${file}.${process.pid}.tmp`, buildFakePage());
  renameSync(`${file}.${process.pid}.tmp`, file);
  return {
    ...opts,
    webVersion: FAKE_WA_WEB_VERSION,
    webVersionCache: { type: "local", path: dir, strict: true },
    evalOnNewDoc: fakePageBootScript({ simUrl }),
    extraChromeArgs: FAKE_PAGE_CHROME_ARGS,
    qrLifetimeMs: config.simQrRotateMs,
  };
}

export function createWwebjsEngineFactoryFromConfig(config: Config, simUrl: string): EngineFactory {
  const log: WwebjsEngineOptions["log"] = (level, msg) => {
    if (level !== "info" || config.logLevel === "debug" || config.logLevel === "trace") process.stderr.write(`[wwebjs] ${level}: ${msg}\n`);
  };
  return createWwebjsEngineFactory(wwebjsOptionsFromConfig(config, simUrl, log));
}

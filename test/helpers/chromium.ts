// Real Chromium for the wwebjs tests: the binary, the fake WhatsApp Web page written to a temp
// folder, engines pointed at a simulated network, and /proc checks for browsers left running.
import path from "node:path";
import { promises as fs } from "node:fs";
import { chromiumProcessesUsing } from "../../lib/engines/wwebjs/chromium";
import type { WwebjsEngineOptions } from "../../lib/engines/wwebjs";
import { WwebjsEngine } from "../../lib/engines/wwebjs";
import type { EngineEvents } from "../../lib/engines/types";
import { fakePageBootScript, writeFakePage } from "../../lib/simulator/fake-wa-web";
import { waitFor } from "./processes";

export const CHROME_PATH = process.env.CHROME_PATH || "/usr/bin/chromium";

export const ENGINE_EVENTS: (keyof EngineEvents)[] = ["qr", "code", "authenticated", "ready", "message", "message_ack", "disconnected", "failed"];

/** Engine options that run the real client against the fake page talking to `simUrl`. */
export async function fakePageOptions(cacheDir: string, simUrl: string, over: Partial<WwebjsEngineOptions> = {}): Promise<WwebjsEngineOptions> {
  const page = await writeFakePage(cacheDir);
  return {
    chromePath: CHROME_PATH,
    ...page,
    evalOnNewDoc: fakePageBootScript({ simUrl, reconnectBaseMs: 100, reconnectMaxMs: 1000 }),
    startTimeoutMs: 30000,
    sendTimeoutMs: 10000,
    restart: { baseMs: 100, maxMs: 500 },
    ...over,
  };
}

/** A wwebjs engine whose events are recorded in order as [name, ...args]. */
export function recordedEngine(authDir: string, opts: WwebjsEngineOptions, ids = { workspaceId: "w1", sessionId: "s1" }) {
  const engine = new WwebjsEngine({ ...ids, authDir }, opts);
  const events: unknown[][] = [];
  for (const name of ENGINE_EVENTS) engine.on(name, (...args: unknown[]) => events.push([name, ...args]));
  return { engine, events, names: () => events.map((e) => e[0] as string) };
}

/** Chromium processes (any kind) whose profile lies under `root`. */
export async function chromiumUnder(root: string): Promise<number[]> {
  return (await chromiumProcessesUsing({ root: path.resolve(root) })).map((p) => p.pid);
}

export async function expectNoChromiumUnder(root: string, timeoutMs = 10000): Promise<void> {
  await waitFor(`no Chromium left under ${root}`, async () => (await chromiumUnder(root)).length === 0, timeoutMs);
}

/** The modules the page's `window.require` was asked for, and the ones it does not know. */
export async function pageModules(engine: WwebjsEngine): Promise<{ requested: string[]; unknown: string[] }> {
  const page = engine.page();
  if (!page) throw new Error("the engine has no page");
  return page.evaluate(() => {
    const d = (globalThis as any).__fakeWaWeb;
    return { requested: [...d.requested], unknown: [...d.unknown] };
  });
}

export async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

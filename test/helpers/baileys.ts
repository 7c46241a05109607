// A baileys engine linked to an account of the simulated network, for the Baileys integration
// tests: the real Baileys client against the network's fake WhatsApp server, linked by QR as a
// phone would (`/sim/link`), and ready.
import { once } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import { BaileysEngine, simulatedEndpoint } from "../../lib/engines/baileys";
import type { BaileysEngineOptions } from "../../lib/engines/baileys";
import type { EngineEvents } from "../../lib/engines/types";
import { tempDir } from "./processes";
import { startTestSim } from "./sim";
import type { TestSim } from "./sim";

/** The next `event` of `engine` (its arguments), or a rejection after `timeoutMs`. */
export function nextEvent<K extends keyof EngineEvents>(engine: BaileysEngine, event: K, timeoutMs = 30000): Promise<EngineEvents[K]> {
  return once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;
}

export interface LinkOptions {
  /** The engine's auth folder */
  authDir: string;
  /** The account it is linked to */
  phone: string;
  sessionId?: string;
  /** Engine options besides the endpoint (which is the network's fake server) */
  engine?: Omit<BaileysEngineOptions, "endpoint">;
}

/** Starts a baileys engine on `sim`, links it to `phone` with the QR it shows, and waits until it is ready. */
export async function linkedBaileys(sim: TestSim, opts: LinkOptions): Promise<BaileysEngine> {
  const engine = new BaileysEngine(
    { workspaceId: "w", sessionId: opts.sessionId ?? "s", authDir: opts.authDir },
    { startTimeoutMs: 30000, sendTimeoutMs: 10000, ...opts.engine, endpoint: simulatedEndpoint(sim.url) },
  );
  try {
    const qr = nextEvent(engine, "qr");
    await engine.start();
    const [code] = await qr;
    const ready = nextEvent(engine, "ready");
    const linked = await sim.post("/sim/link", { qr: code, phone: opts.phone });
    if (linked.status !== 200) throw new Error(`linking ${opts.phone}: ${linked.status} ${JSON.stringify(linked.json)}`);
    await ready;
    return engine;
  } catch (err) {
    await engine.stop();
    throw err;
  }
}

/** A test file's network and scratch folder, and the engines it linked: all stopped and removed by close(). */
export interface BaileysTestNet {
  sim: TestSim;
  root: string;
  /** An engine linked to `phone`, its auth in `<root>/<phone>` */
  link(phone: string, engine?: LinkOptions["engine"]): Promise<BaileysEngine>;
  close(): Promise<void>;
}

export async function baileysTestNet(name: string, simOpts: Parameters<typeof startTestSim>[0] = {}): Promise<BaileysTestNet> {
  const sim = await startTestSim(simOpts);
  const root = await tempDir(name);
  const engines: BaileysEngine[] = [];
  return {
    sim,
    root,
    link: async (phone, engine) => {
      const e = await linkedBaileys(sim, { authDir: path.join(root, phone), phone, sessionId: `s${phone}`, engine });
      engines.push(e);
      return e;
    },
    close: async () => {
      await Promise.all(engines.map((e) => e.stop()));
      await sim.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

// The simulator engine: a client of the simulated WhatsApp network (the oracle), cheap enough for
// thousands of sessions per node.
import path from "node:path";
import type { EngineContext, EngineFactory } from "../types";
import { CREDS_FILE, readCreds } from "./credentials";
import type { SimulatorEngineOptions } from "./engine";
import { SIMULATOR_CAPABILITIES, SimulatorEngine } from "./engine";

export { SIMULATOR_CAPABILITIES, SimulatorEngine } from "./engine";
export type { SimulatorEngineOptions } from "./engine";

export function createSimulatorEngineFactory(opts: SimulatorEngineOptions): EngineFactory {
  // credentials are written when the network pairs the device
  return Object.assign((ctx: EngineContext) => new SimulatorEngine(ctx, opts), {
    engine: "simulator",
    capabilities: SIMULATOR_CAPABILITIES,
    linked: async (authDir: string) => (await readCreds(path.join(authDir, CREDS_FILE))) !== undefined,
  });
}

// The engines this node can run: the default (WA_ENGINE) and every other one installed here
// (WA_ENGINES, or all whose prerequisites the node has). A session runs on the engine chosen at its
// create (meta.json), so every session node should have every engine a session may use.
import { accessSync, constants } from "node:fs";
import type { Config, EngineName } from "../config";
import { ConfigError, ENGINES } from "../config";
import { createBaileysEngineFactory } from "./baileys";
import { createSimulatorEngineFactory } from "./simulator";
import type { EngineFactory } from "./types";
import { createWwebjsEngineFactoryFromConfig } from "./wwebjs";

export function createEngineFactory(config: Config, simUrl: string, engine: EngineName = config.engine): EngineFactory {
  switch (engine) {
    case "simulator":
      if (!simUrl) throw new ConfigError("WA_SIM_URL", "the simulator engine needs a simulated network: set WA_SIM_URL, or leave it empty in embedded mode to start one in-process");
      return createSimulatorEngineFactory({ url: simUrl, startTimeoutMs: config.engineStartTimeoutMs });
    case "wwebjs":
      // WA_SIM_URL set: the real client against the fake WhatsApp Web page on that simulated network
      return createWwebjsEngineFactoryFromConfig(config, simUrl);
    case "baileys":
      // WA_SIM_URL set (or embedded): the real Baileys client against the network's fake WhatsApp server
      return createBaileysEngineFactory({ simUrl, startTimeoutMs: config.engineStartTimeoutMs });
  }
}

/**
 * The engines a node can run without being told: baileys always (an npm dependency, no external
 * program), wwebjs when CHROME_PATH is an executable, the simulator when there is a simulated
 * network to talk to. The default engine is always among them (its own checks fail the start).
 */
export function installedEngines(config: Config, simUrl: string): EngineName[] {
  if (config.engines) return config.engines;
  const runnable = (e: EngineName): boolean => {
    if (e === config.engine || e === "baileys") return true;
    if (e === "simulator") return simUrl !== "";
    try {
      accessSync(config.chromePath, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  return ENGINES.filter(runnable);
}

/** The node's engine factories by name (the default among them). */
export function createEngineSet(config: Config, simUrl: string): { default: EngineFactory; engines: Map<string, EngineFactory> } {
  const engines = new Map<string, EngineFactory>();
  for (const e of installedEngines(config, simUrl)) engines.set(e, createEngineFactory(config, simUrl, e));
  return { default: engines.get(config.engine)!, engines };
}

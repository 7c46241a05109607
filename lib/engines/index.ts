// Picks the engine factory for this node from the configuration.
import type { Config } from "../config";
import { ConfigError } from "../config";
import { createBaileysEngineFactory } from "./baileys";
import { createSimulatorEngineFactory } from "./simulator";
import type { EngineFactory } from "./types";
import { createWwebjsEngineFactoryFromConfig } from "./wwebjs";

export function createEngineFactory(config: Config, simUrl: string): EngineFactory {
  switch (config.engine) {
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

#!/usr/bin/env node
// `npm run sim`: the simulated WhatsApp network on its own (WA_SIM_PORT, WA_SIM_KEEPALIVE_MS,
// WA_SIM_QR_ROTATE_MS, WA_SIM_HOST; WA_SIM_STATE_FILE keeps linked devices across restarts), all
// read through lib/config.
import { ConfigError, loadConfig } from "../lib/config";
import { startSimNetwork } from "../lib/simulator/network";

async function main() {
  const config = loadConfig();
  const sim = await startSimNetwork({
    port: config.simPort,
    host: config.simHost,
    keepaliveMs: config.simKeepaliveMs,
    qrRotateMs: config.simQrRotateMs,
    stateFile: config.simStateFile || undefined,
    log: (level: string, msg: string) => process.stderr.write(`[sim] ${level}: ${msg}\n`),
  });
  process.stdout.write(`Simulated WhatsApp network listening on ${sim.url} (engines: ${sim.url.replace(/^http/, "ws")}/ws, admin: ${sim.url}/sim)\n`);
  const stop = async () => {
    await sim.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `simulated network failed: ${err?.message ?? err}`}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
});

// Broker options built from the typed config: embedded (no transporter) or cluster (NATS).
import type { BrokerOptions } from "moleculer";
import type { Config } from "./lib/config";

export function buildBrokerOptions(config: Config): BrokerOptions {
  const sessionNode = config.services.includes("sessions");
  return {
    namespace: "wafleet",
    nodeID: config.nodeId,
    transporter: config.embedded ? undefined : { type: "NATS", options: { url: config.transporter } },
    logger: { type: "Console", options: { level: config.logLevel, formatter: "short", colors: process.stdout.isTTY === true } },
    // engine starts and sends may take seconds; nothing should hang forever on a dead node
    requestTimeout: 30000,
    // DESIGN section 5: 2 s / 6 s detects a crashed node in about 7-10 s
    heartbeatInterval: 2,
    heartbeatTimeout: 6,
    registry: { strategy: "RoundRobin", preferLocal: !sessionNode || config.embedded },
    metrics: { enabled: false },
    tracing: { enabled: false },
    errorHandler(err) {
      throw err;
    },
  };
}

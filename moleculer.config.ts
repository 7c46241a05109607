// Broker options built from the typed config: embedded (no transporter) or cluster (NATS).
import type { BrokerOptions } from "moleculer";
import type { Config } from "./lib/config";
import { natsConnectionOptions } from "./lib/config/connections";
import { CoalescingNatsTransporter } from "./lib/net/nats-transporter";
import { registerWorkspaceStrategy, workspaceRoutingMiddleware } from "./lib/placement/routing";

export interface BrokerExtras {
  /** The ops endpoint (Prometheus reporter + probes); without it metrics stay off. */
  reporter?: unknown;
}

export function buildBrokerOptions(config: Config, extras: BrokerExtras = {}): BrokerOptions {
  const sessionNode = config.services.includes("sessions");
  // every node that may call sessions.* must know the strategy before it starts
  registerWorkspaceStrategy();
  return {
    namespace: "wafleet",
    nodeID: config.nodeId,
    // servers, credentials and TLS as nats.js options (Moleculer passes them to nats.connect as they
    // are); Moleculer's NATS transporter, sending a turn's packets in one write (lib/net/nats-transporter.ts)
    transporter: config.embedded ? undefined : (new CoalescingNatsTransporter(natsConnectionOptions(config)) as any),
    logger: { type: "Console", options: { level: config.logLevel, formatter: "short", colors: process.stdout.isTTY === true } },
    // engine starts and sends may take seconds; nothing should hang forever on a dead node
    requestTimeout: 30000,
    // DESIGN section 5: 2 s / 6 s detects a crashed node in about 7-10 s
    heartbeatInterval: 2,
    heartbeatTimeout: 6,
    registry: { strategy: "RoundRobin", preferLocal: !sessionNode || config.embedded },
    middlewares: [workspaceRoutingMiddleware(config.moveWaitMs) as any],
    // Moleculer's built-in Prometheus reporter (moleculer-prometheus is obsolete) on OPS_PORT, with
    // /healthz, /readyz and /health beside /metrics (lib/ops/ops-server.ts)
    metrics: extras.reporter ? { enabled: true, reporter: [extras.reporter as any] } : { enabled: false },
    tracing: { enabled: false },
    // bin/wafleet.ts handles SIGTERM/SIGINT itself: drain first, then stop (Moleculer's own handler
    // would stop the services in the middle of the drain)
    skipProcessEventRegistration: true,
    errorHandler(err) {
      throw err;
    },
  };
}

// The broker behind `npm run repl`: a cluster node that hosts no wafleet role, knows the Workspace
// routing strategy (so it can see and call sessions.*), and carries the wa-* commands.
import os from "node:os";
import type { BrokerOptions } from "moleculer";
import { buildBrokerOptions } from "../../moleculer.config";
import { ConfigError, loadConfig } from "../config";
import { waCommands, type Print } from "./repl-commands";

type Env = Record<string, string | undefined>;

/** Broker options for the console; throws ConfigError when TRANSPORTER is not set (nothing to join). */
export function consoleBrokerOptions(env: Env = process.env, print?: Print): BrokerOptions {
  // the console hosts no role: parse the shared settings (TRANSPORTER, NODE_ID, LOG_LEVEL) as a
  // role that needs nothing else would, then drop the role
  const config = { ...loadConfig({ ...env, SERVICES: "webhooks", LOG_LEVEL: env.LOG_LEVEL || "warn" }), services: [] };
  if (config.embedded) throw new ConfigError("TRANSPORTER", "the console joins a cluster: set TRANSPORTER=nats://host:4222 (the cluster's NATS)");
  // never the NODE_ID of the pod it runs in (`kubectl exec ... wafleet repl` in an api pod): two
  // nodes with one id would confuse the whole cluster's registry
  const base = (env.NODE_ID || os.hostname()).replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40);
  config.nodeId = `repl-${base}-${process.pid}`;
  // Moleculer types a command's args as string[]; moleculer-repl 0.8 passes {options, ...positionals}
  const replOptions = { delimiter: "wafleet $", customCommands: waCommands(print) } as unknown as BrokerOptions["replOptions"];
  return { ...buildBrokerOptions(config), replOptions };
}

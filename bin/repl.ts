#!/usr/bin/env node
// `npm run repl`: the operators' console. Joins the cluster named by TRANSPORTER as a node with no
// role and opens moleculer-repl with wafleet's commands (wa-nodes, wa-sessions, wa-move, wa-drain,
// wa-backup, wa-restore, wa-deadletters) beside Moleculer's own (nodes, services, call, ...).
import { ServiceBroker } from "moleculer";
import { ConfigError } from "../lib/config";
import { consoleBrokerOptions } from "../lib/ops/repl-console";

async function main(): Promise<void> {
  const broker = new ServiceBroker(consoleBrokerOptions());
  await broker.start();
  // give the registry one heartbeat round to learn the cluster's services before the prompt
  await broker.waitForServices(["placement"], 10_000).catch(() => broker.logger.warn("no placement service yet: are session nodes running on this TRANSPORTER?"));
  await broker.repl();
}

main().catch((err) => {
  process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `wafleet repl failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
});

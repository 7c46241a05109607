#!/usr/bin/env node
// `npm run repl`: the operators' console. Joins the cluster named by TRANSPORTER as a node with no
// role and opens moleculer-repl with wafleet's commands (wa-nodes, wa-sessions, wa-move, wa-drain,
// wa-backup, wa-restore, wa-deadletters) beside Moleculer's own (nodes, services, call, ...).
// With a command on its command line (`repl.js wa-drain n1`) it runs that one and exits: 0 when
// it printed no error line, 1 when it did (scripts, the session pods' preStop drain).
import { ServiceBroker } from "moleculer";
import { ConfigError } from "../lib/config";
import { errorLine, parseCommandLine, type ReplCommand } from "../lib/ops/repl-commands";
import { consoleBrokerOptions } from "../lib/ops/repl-console";

async function main(argv: string[]): Promise<number> {
  let failed = false;
  const options = consoleBrokerOptions(process.env, (text) => {
    if (text.startsWith("✖")) failed = true;
    process.stdout.write(`${text}\n`);
  });
  const broker = new ServiceBroker(options);
  const commands = (options.replOptions as unknown as { customCommands: ReplCommand[] }).customCommands;
  const [name, ...rest] = argv;
  const oneShot = name ? commands.find((c) => c.command.split(" ")[0] === name) : undefined;
  if (name && !oneShot) throw new ConfigError("command", `unknown command ${name}; expected one of ${commands.map((c) => c.command.split(" ")[0]).join(", ")}`);
  const args = oneShot ? parseOneShot(oneShot, rest) : undefined;
  if (oneShot && !args) return 1;

  await broker.start();
  // give the registry a heartbeat round to learn the cluster's services before the first command
  await broker.waitForServices(["placement"], 10_000).catch(() => broker.logger.warn("no placement service yet: are session nodes running on this TRANSPORTER?"));
  if (!oneShot) {
    await broker.repl();
    return -1; // the REPL's own exit command ends the process
  }
  await oneShot.action(broker, args!);
  await broker.stop();
  return failed ? 1 : 0;

  function parseOneShot(cmd: ReplCommand, words: string[]) {
    try {
      return parseCommandLine(cmd, words);
    } catch (err) {
      process.stdout.write(`${errorLine(cmd.command.split(" ")[0]!, err)}\n`);
      return undefined;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `wafleet repl failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof ConfigError ? 78 : 1);
  },
);

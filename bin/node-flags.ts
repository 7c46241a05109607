#!/usr/bin/env node
// Prints the Node options a wafleet node should start with on this Node (space-separated, maybe
// none): `node $(node dist/bin/node-flags.js) dist/bin/wafleet.js`. Used by `npm start` and the
// container's entry point; see lib/node-flags.ts for why.
import { nodeFlags } from "../lib/node-flags";

process.stdout.write(nodeFlags().join(" "));

// Every metric name wafleet's code registers, as Prometheus shows it: "wafleet.x.y" in Moleculer's
// registry (or already "wafleet_x") anywhere under lib/ and services/. The dashboard, the alert
// rules and the runbook may only name these.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./processes";

export function registeredMetricNames(): Set<string> {
  const registered = new Set<string>();
  const scan = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) scan(p);
      else if (p.endsWith(".ts")) for (const m of readFileSync(p, "utf8").matchAll(/["'](wafleet[._][a-z0-9_.]+)["']/g)) registered.add(m[1]!.replace(/\./g, "_"));
    }
  };
  scan(path.join(ROOT, "lib"));
  scan(path.join(ROOT, "services"));
  return registered;
}

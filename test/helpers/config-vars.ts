// The environment variables wafleet's config module reads, found by running it against an
// environment that records every name asked for (so the list can never drift from lib/config).
// The manifests, the image and the runbook are checked against it.
import { loadConfig } from "../../lib/config";

export function configVariables(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(_target, name) {
      if (typeof name === "string") read.add(name);
      return undefined;
    },
  });
  loadConfig(env, "/");
  return read;
}

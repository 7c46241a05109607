// What one process holds of the cluster's placement: the directory (Redis or memory), its
// in-memory view (read by the routing strategy), and on session nodes the lease, the node's
// ownership and the coordinator. Services share it; bin/wafleet.ts creates it.
import type { Config } from "../config";
import { redisConnectionOptions } from "../config/connections";
import type { Coordinator } from "./coordinator";
import type { Directory } from "./directory";
import type { LeaseKeeper } from "./lease";
import { MemoryDirectory } from "./memory-directory";
import type { Ownership } from "./ownership";
import { RedisDirectory } from "./redis-directory";
import { DirectoryView, setActiveView } from "./view";

export interface ClusterRuntime {
  directory: Directory;
  view: DirectoryView;
  /** Set by the sessions service on session nodes. */
  lease?: LeaseKeeper;
  ownership?: Ownership;
  coordinator?: Coordinator;
}

export function createClusterRuntime(config: Config, onError: (err: Error) => void): ClusterRuntime {
  const directory: Directory = config.redisUrl
    ? new RedisDirectory({ url: config.redisUrl, prefix: config.redisPrefix, commandTimeoutMs: Math.max(500, Math.floor(config.leaseTtlMs / 4)), onError, connection: redisConnectionOptions(config) })
    : new MemoryDirectory();
  const view = new DirectoryView(directory, 2000, onError);
  setActiveView(view);
  return { directory, view };
}

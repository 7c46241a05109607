// What every workspace-routed `sessions` action shares: the `Workspace` strategy that sends the call
// to the workspace's owner (lib/placement/routing.ts), and the ownership check the owner makes
// before it acts (a stale route answers NOT_OWNER, and the caller retries on the owner).
import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { Config } from "../lib/config";
import { WafleetError } from "../lib/errors";
import type { EventLog } from "../lib/events/log";
import type { MediaStore } from "../lib/media/store";
import type { OutboxHost } from "../lib/outbox/host";
import type { MetricRegistryLike } from "../lib/ops/metrics";
import type { MemoryWatchdog } from "../lib/ops/watchdog";
import type { Coordinator } from "../lib/placement/coordinator";
import type { LeaseKeeper } from "../lib/placement/lease";
import type { Ownership } from "../lib/placement/ownership";
import type { SessionActor } from "../lib/sessions/actor";
import type { CursorCodec } from "../lib/sessions/cursor";
import type { SessionManager } from "../lib/sessions/manager";

/** Spread into an action: the `Workspace` strategy routes it to the workspace's owner. */
export const ROUTED = { strategy: "Workspace" } as const;

export type Ref = { workspaceId: string; sessionId: string };

/** The `sessions` service as its mixins see it (`this` in actions and methods). */
export interface SessionsService extends Service {
  config: Config;
  manager: SessionManager;
  /** Signs and checks list cursors (CURSOR_SECRET) */
  cursors: CursorCodec;
  ownership: Ownership;
  lease: LeaseKeeper;
  coordinator: Coordinator;
  eventLog?: EventLog;
  /** Received media is written here before its event; uploads are read from here to send them. */
  media?: MediaStore;
  metrics?: MetricRegistryLike;
  /** The outboxes of the sessions this node owns (lib/outbox/host.ts). */
  outboxes: OutboxHost;
  watchdog?: MemoryWatchdog;
  /** The memory this node may use (its cgroup limit or the machine's), for the watchdog and /health. */
  memoryLimit: number;
  /** The token when this node owns the workspace (claiming it when `claim`); throws NOT_OWNER / WORKSPACE_MOVING / LEASE_LOST. */
  own(workspaceId: string, claim?: boolean): Promise<number | undefined>;
  /** The session's actor on this node, its owner; SESSION_NOT_FOUND when the workspace has no owner yet or no such session. */
  owned(workspaceId: string, sessionId: string): Promise<SessionActor>;
}

/** A mixin of the `sessions` service. */
export type SessionsMixin = Partial<ServiceSchema<ServiceSettingSchema, Record<string, any>, Record<string, any>, SessionsService>>;

export const WorkspaceMixin: SessionsMixin = {
  methods: {
    own(workspaceId: string, claim = false) {
      return this.ownership.ensure(workspaceId, claim);
    },
    async owned(workspaceId: string, sessionId: string) {
      if ((await this.own(workspaceId)) === undefined) throw new WafleetError("SESSION_NOT_FOUND", `Session ${sessionId} not found in workspace ${workspaceId}`);
      return this.manager.get(workspaceId, sessionId);
    },
  },
};

// wafleet_* metrics (Moleculer's metric registry; the Prometheus reporter adds `namespace` and
// `nodeID` labels and turns dots into underscores). Label cardinality stays bounded: statuses,
// results and levels are small closed sets; per-session series exist only for engines that
// report memory (wwebjs), and only for sessions the node holds.
import { EVENT_NAMES, type EventName, type EventPayloads } from "../events";

export interface MetricRegistryLike {
  register(opts: Record<string, unknown>): unknown;
  getMetric(name: string): unknown;
  set(name: string, value: number | null, labels?: Record<string, unknown>): void;
  increment(name: string, labels?: Record<string, unknown>, value?: number): void;
  observe(name: string, value: number, labels?: Record<string, unknown>): void;
}

const SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];
const SEND_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];

export const M = {
  sessions: "wafleet.sessions",
  capacity: "wafleet.sessions.capacity",
  sessionsByEngine: "wafleet.sessions.engine",
  load: "wafleet.sessions.load",
  utilization: "wafleet.sessions.utilization",
  workspaces: "wafleet.workspaces.owned",
  startSeconds: "wafleet.session.start.seconds",
  qr: "wafleet.qr.generated.total",
  sent: "wafleet.messages.sent.total",
  outboxItems: "wafleet.outbox.items",
  outboxPaused: "wafleet.outbox.paused.sessions",
  outboxDone: "wafleet.outbox.done.total",
  outboxGuardPauses: "wafleet.outbox.guard.pauses.total",
  received: "wafleet.messages.received.total",
  sendSeconds: "wafleet.message.send.seconds",
  restarts: "wafleet.engine.restarts.total",
  disconnects: "wafleet.session.disconnects.total",
  sessionMemory: "wafleet.session.memory.bytes",
  engineMemory: "wafleet.node.engine.memory.bytes",
  watchdogRestarts: "wafleet.watchdog.restarts.total",
  failovers: "wafleet.failovers.total",
  failoverSeconds: "wafleet.failover.seconds",
  capacityAlert: "wafleet.capacity.alert.level",
  nodeUp: "wafleet.cluster.node.up",
  leaseValid: "wafleet.lease.valid",
  launchWaiting: "wafleet.launch.queue.waiting",
  launchRunning: "wafleet.launch.queue.running",
  eventLogRejected: "wafleet.event_log.rejected.total",
} as const;

function ensure(reg: MetricRegistryLike, opts: Record<string, unknown>): void {
  if (!reg.getMetric(opts.name as string)) reg.register(opts);
}

/**
 * Shows a counter at 0 for each known label set from the start: a series that appears only at
 * its first event hides that event from increase() and rate(), so an alert on it never fires.
 */
export function zeroCounter(reg: Pick<MetricRegistryLike, "increment">, name: string, labelSets: Array<Record<string, string> | undefined> = [undefined]): void {
  for (const labels of labelSets) reg.increment(name, labels, 0);
}

/** The `result` values of M.sent, the `reason` values of M.restarts. */
export const SEND_RESULTS = ["ok", "not_ready", "error"] as const;
export const RESTART_REASONS = ["retry", "memory"] as const;

/** Session-node metrics. */
export function registerSessionMetrics(reg: MetricRegistryLike): void {
  ensure(reg, { type: "gauge", name: M.sessions, labelNames: ["status"], description: "Sessions on this node by status" });
  ensure(reg, { type: "gauge", name: M.capacity, description: "MAX_SESSIONS_PER_INSTANCE of this node (in sessions of its default engine)" });
  ensure(reg, { type: "gauge", name: M.sessionsByEngine, labelNames: ["engine"], description: "Running sessions on this node by engine" });
  ensure(reg, { type: "gauge", name: M.load, description: "What the running sessions weigh, in sessions of the node's default engine (ENGINE_WEIGHTS)" });
  ensure(reg, { type: "gauge", name: M.utilization, description: "Load / capacity (0..1): running sessions weighted by engine" });
  ensure(reg, { type: "gauge", name: M.workspaces, description: "Workspaces this node owns" });
  ensure(reg, { type: "histogram", name: M.startSeconds, buckets: SECONDS_BUCKETS, quantiles: false, description: "Engine start to WORKING (restores) or to the first QR (new links), seconds" });
  ensure(reg, { type: "counter", name: M.qr, description: "QR codes shown" });
  ensure(reg, { type: "counter", name: M.sent, labelNames: ["result"], description: "Messages sent, by result (ok, not_ready, error)" });
  ensure(reg, { type: "counter", name: M.received, description: "Messages received" });
  ensure(reg, { type: "gauge", name: M.outboxItems, labelNames: ["state"], description: "Outbox items of the sessions this node owns, by state (queued, sending, sent, failed, cancelled; kept ones)" });
  ensure(reg, { type: "gauge", name: M.outboxPaused, description: "Sessions on this node whose outbox is paused (asked, or by the ban-risk guard)" });
  ensure(reg, { type: "counter", name: M.outboxDone, labelNames: ["result"], description: "Outbox items finished on this node, by result (sent, failed)" });
  ensure(reg, { type: "counter", name: M.outboxGuardPauses, labelNames: ["trigger"], description: "Outboxes the ban-risk guard paused on this node, by trigger (refusals, stuck, restriction)" });
  ensure(reg, { type: "histogram", name: M.sendSeconds, buckets: SEND_BUCKETS, quantiles: false, description: "Send latency until the network accepted the message, seconds" });
  ensure(reg, { type: "counter", name: M.restarts, labelNames: ["reason"], description: "Engine restarts (retry after a failure, watchdog)" });
  ensure(reg, {
    type: "counter",
    name: M.disconnects,
    labelNames: ["reason"],
    description: "Sessions disconnected from WhatsApp, by reason (CONNECTION_LOST, BROWSER_CRASHED, HEARTBEAT_LOST, CONFLICT, LOGOUT, UNPAIRED, other)",
  });
  ensure(reg, { type: "gauge", name: M.sessionMemory, labelNames: ["workspace", "session"], description: "Memory of one session's engine (wwebjs: PSS of its browser tree), bytes" });
  ensure(reg, { type: "gauge", name: M.engineMemory, description: "Memory of every engine on this node (wwebjs: summed PSS), bytes" });
  ensure(reg, { type: "counter", name: M.watchdogRestarts, description: "Sessions restarted by the memory watchdog" });
  ensure(reg, { type: "counter", name: M.failovers, description: "Dead nodes whose workspaces this coordinator reassigned" });
  ensure(reg, { type: "histogram", name: M.failoverSeconds, buckets: SECONDS_BUCKETS, quantiles: false, description: "From a lease found expired to its workspaces reassigned, seconds" });
  ensure(reg, { type: "gauge", name: M.leaseValid, description: "1 while this node holds its cluster lease" });
  ensure(reg, { type: "gauge", name: M.launchWaiting, labelNames: ["kind"], description: "Engine starts waiting in this node's launch queue, by kind (browser: wwebjs; socket: baileys, simulator)" });
  ensure(reg, { type: "gauge", name: M.launchRunning, labelNames: ["kind"], description: "Engine starts in progress on this node, by launch queue (browser, socket)" });
  zeroCounter(reg, M.qr);
  zeroCounter(reg, M.received);
  zeroCounter(reg, M.watchdogRestarts);
  zeroCounter(reg, M.failovers);
  zeroCounter(reg, M.sent, SEND_RESULTS.map((result) => ({ result })));
  zeroCounter(reg, M.outboxDone, ["sent", "failed"].map((result) => ({ result })));
  zeroCounter(reg, M.outboxGuardPauses, ["refusals", "stuck", "restriction"].map((trigger) => ({ trigger })));
  zeroCounter(reg, M.restarts, RESTART_REASONS.map((reason) => ({ reason })));
  zeroCounter(reg, M.disconnects, [...DISCONNECT_REASONS, "other"].map((reason) => ({ reason })));
}

// TOS_BLOCK, SMB_TOS_BLOCK: WhatsApp restricted the account (lib/engines/types.ts RESTRICTION_REASONS)
const DISCONNECT_REASONS = new Set(["CONNECTION_LOST", "BROWSER_CRASHED", "HEARTBEAT_LOST", "CONFLICT", "LOGOUT", "UNPAIRED", "TOS_BLOCK", "SMB_TOS_BLOCK"]);

/** Event-log metrics, on every node that appends (session nodes) or replays (webhooks nodes). */
export function registerEventLogMetrics(reg: MetricRegistryLike): void {
  ensure(reg, { type: "counter", name: M.eventLogRejected, labelNames: ["event"], description: "Events the event log refused (larger than it carries), by event type" });
  zeroCounter(reg, M.eventLogRejected, EVENT_NAMES.map((event) => ({ event })));
}

/** Health-node metrics. */
export function registerHealthMetrics(reg: MetricRegistryLike): void {
  ensure(reg, { type: "gauge", name: M.capacityAlert, labelNames: ["node"], description: "Capacity alert level per session node: 0 ok, 1 warning (70%), 2 critical (85%)" });
  ensure(reg, { type: "gauge", name: M.nodeUp, labelNames: ["node", "status"], description: "1 for each session node's current health status" });
}

/**
 * Turns session events into metrics: QR codes, received messages, start durations (from entering
 * STARTING to WORKING or the first QR) and engine restarts (FAILED -> STARTING).
 */
export class SessionEventMetrics {
  private readonly startedAt = new Map<string, number>();

  constructor(
    private readonly reg: MetricRegistryLike,
    private readonly now: () => number = Date.now,
  ) {}

  record<N extends EventName>(name: N, scope: { workspaceId: string; sessionId: string }, payload: EventPayloads[N]): void {
    const key = `${scope.workspaceId}\u0000${scope.sessionId}`;
    switch (name) {
      case "wa.session.qr":
        this.reg.increment(M.qr);
        this.finishStart(key);
        break;
      case "wa.message.received":
        this.reg.increment(M.received);
        break;
      case "wa.session.disconnected": {
        // the engines' own reasons; anything else (WhatsApp's TOS_BLOCK, ...) is "other", so the
        // label's values stay few
        const reason = (payload as EventPayloads["wa.session.disconnected"]).reason;
        this.reg.increment(M.disconnects, { reason: DISCONNECT_REASONS.has(reason) ? reason : "other" });
        break;
      }
      case "wa.session.status": {
        const p = payload as EventPayloads["wa.session.status"];
        if (p.status === "STARTING" && p.previous !== "SCAN_QR_CODE" && p.previous !== "WORKING") this.startedAt.set(key, this.now());
        if (p.status === "STARTING" && p.previous === "FAILED") this.reg.increment(M.restarts, { reason: "retry" });
        if (p.status === "WORKING") this.finishStart(key);
        if (p.status === "STOPPED" || p.status === "FAILED") this.startedAt.delete(key);
        break;
      }
      default:
        break;
    }
  }

  private finishStart(key: string): void {
    const t = this.startedAt.get(key);
    if (t === undefined) return;
    this.startedAt.delete(key);
    this.reg.observe(M.startSeconds, (this.now() - t) / 1000);
  }
}

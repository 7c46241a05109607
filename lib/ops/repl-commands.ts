// The operators' console: wafleet's commands for moleculer-repl (`npm run repl`). Each command calls
// the cluster's own actions (placement, sessions, backup, webhooks) from a node that joined the
// cluster, prints a plain-text table, and reports any failure as one line starting with "✖".
import type { ServiceBroker } from "moleculer";
import { bytes, duration, percent, renderTable, type Cell } from "./text-table";
import { SESSION_STATUSES } from "../sessions/status";

/** A moleculer-repl 0.8 custom command (`replOptions.customCommands`). */
export interface ReplCommand {
  command: string;
  description: string;
  options?: Array<{ option: string; description: string }>;
  allowUnknownOptions?: boolean;
  action(broker: ServiceBroker, args: ReplArgs, helpers?: unknown): Promise<void>;
}

/** What moleculer-repl hands an action: positional arguments by name, flags under `options`. */
export interface ReplArgs {
  options?: Record<string, unknown>;
  [positional: string]: unknown;
}

export type Print = (text: string) => void;

const BACKUP_OPS = ["now", "list", "verify"] as const;

// Deadlines of the slow actions: a drain waits up to 120 s on the coordinator; a move, a snapshot
// and a restore stop and start engines (Chromium) or stream a whole storage folder.
const T = { quick: 10_000, move: 120_000, drain: 130_000, backup: 15 * 60_000 };

/** The one line a failed command prints: the stable error code and its message. */
export function errorLine(command: string, err: unknown): string {
  const e = err as { type?: unknown; code?: unknown; name?: unknown; message?: unknown };
  const code = typeof e?.type === "string" && e.type ? e.type : typeof e?.code === "string" ? e.code : typeof e?.name === "string" ? e.name : "ERROR";
  const message = String(e?.message ?? err).replace(/\s+/g, " ").trim();
  return `✖ ${command}: ${code}: ${message}`;
}

/** An operator's mistake caught before any call (a missing or malformed argument). */
class UsageError extends Error {
  readonly type = "USAGE";
}

function opt(args: ReplArgs, name: string): string | undefined {
  const v = args.options?.[name];
  if (v === undefined || v === null || v === false || v === "") return undefined;
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return String(v);
}

function arg(args: ReplArgs, name: string): string {
  const v = args[name];
  if (v === undefined || v === null || v === "") throw new UsageError(`<${name}> is required`);
  return String(v);
}

interface ClusterNode {
  node: string;
  status: string;
  sessions: number;
  byStatus: Record<string, number> | null;
  capacity: number;
  utilization: number;
  workspaces: number;
  leaseAgeMs: number | null;
  joinedAt: string;
}
interface ClusterView {
  coordinator: string | null;
  summary: { nodes: number; nodesDown: number; sessions: number; capacity: number; utilization: number; workspaces: number };
  nodes: ClusterNode[];
  assignments: Array<{ workspaceId: string; node: string; token: number }>;
}
interface NodeStats {
  total: number;
  capacity: number;
  utilization: number;
  memory: { used: number; total: number; rss: number };
  uptime: number;
  leaseValid: boolean;
  leaseAgeMs: number;
}
interface SessionRow {
  workspaceId: string;
  sessionId: string;
  status: string;
  desired: string;
  node: string;
  me: { phone?: string } | null;
  reason: string | null;
  updatedAt: string;
}
interface DeadLetter {
  id: string;
  workspaceId: string;
  sessionId: string;
  event: string;
  status: string;
  attempts: number;
  replays: number;
  lastStatus?: number;
  lastError?: string;
  updatedAt: string;
}

const clusterView = (broker: ServiceBroker) => broker.call("placement.cluster", {}, { timeout: T.quick }) as Promise<ClusterView>;

async function replay(broker: ServiceBroker, workspaceId: string, deliveryId: string): Promise<string> {
  const r = (await broker.call("webhooks.retry", { workspaceId, deliveryId }, { timeout: T.quick })) as { id: string; status: string; replays: number };
  return `${renderTable(["WORKSPACE", "DELIVERY", "STATUS", "REPLAYS"], [[workspaceId, r.id, r.status, r.replays]], { right: [3] })}\nreplaying ${r.id}: back in the delivery queue`;
}

/** The seven wa-* commands, printing through `print` (the console by default). */
export function waCommands(print: Print = (t) => console.log(t)): ReplCommand[] {
  const guarded = (name: string, body: (broker: ServiceBroker, args: ReplArgs) => Promise<void>) => async (broker: ServiceBroker, args: ReplArgs) => {
    try {
      await body(broker, args ?? {});
    } catch (err) {
      print(errorLine(name, err));
    }
  };

  const waNodes: ReplCommand = {
    command: "wa-nodes",
    description: "Session nodes: sessions, capacity, utilisation, memory, lease age",
    action: guarded("wa-nodes", async (broker) => {
      const c = await clusterView(broker);
      const stats = await Promise.all(
        c.nodes.map((n) => (n.status === "up" || n.status === "draining" ? (broker.call("sessions.nodeStats", {}, { nodeID: n.node, timeout: T.quick }) as Promise<NodeStats>).catch(() => undefined) : Promise.resolve(undefined))),
      );
      const rows: Cell[][] = c.nodes.map((n, i) => {
        const s = stats[i];
        const memory = s ? (s.memory.total ? `${bytes(s.memory.used)} / ${bytes(s.memory.total)}` : bytes(s.memory.used)) : null;
        const mark = n.node === c.coordinator ? " *" : "";
        return [n.node + mark, n.status, n.sessions, n.capacity, percent(n.utilization), n.workspaces, memory, duration(s?.leaseAgeMs ?? n.leaseAgeMs), s ? duration(s.uptime * 1000) : null];
      });
      print(renderTable(["NODE", "STATUS", "SESSIONS", "CAPACITY", "UTIL", "WORKSPACES", "MEMORY (used / limit)", "LEASE AGE", "UPTIME"], rows, { right: [2, 3, 4, 5] }));
      const m = c.summary;
      print(`${m.nodes} nodes (${m.nodesDown} down), ${m.sessions} running sessions of ${m.capacity} (${percent(m.utilization)}), ${m.workspaces} workspaces; coordinator ${c.coordinator ?? "none"} (*)`);
    }),
  };

  const waSessions: ReplCommand = {
    command: "wa-sessions",
    description: "Sessions across the cluster, as their owners hold them",
    options: [
      { option: "-w, --workspace <workspace>", description: "only this workspace" },
      { option: "-n, --node <node>", description: "only sessions on this node" },
      { option: "-s, --status <status>", description: `only this status (${SESSION_STATUSES.join(", ")})` },
    ],
    action: guarded("wa-sessions", async (broker, args) => {
      const workspaceId = opt(args, "workspace");
      const only = opt(args, "node");
      const status = opt(args, "status")?.toUpperCase();
      if (status && !(SESSION_STATUSES as readonly string[]).includes(status)) throw new UsageError(`--status must be one of ${SESSION_STATUSES.join(", ")}`);
      const c = await clusterView(broker);
      if (only) {
        const n = c.nodes.find((x) => x.node === only);
        if (!n) throw new UsageError(`no session node ${only} (known: ${c.nodes.map((x) => x.node).join(", ") || "none"})`);
        if (n.status !== "up" && n.status !== "draining") throw new UsageError(`node ${only} is ${n.status}`);
      }
      const nodes = c.nodes.filter((n) => (n.status === "up" || n.status === "draining") && (!only || n.node === only));
      const params = { ...(workspaceId ? { workspaceId } : {}), ...(status ? { status } : {}) };
      const missed: string[] = [];
      const lists = await Promise.all(
        nodes.map((n) =>
          (broker.call("sessions.localList", params, { nodeID: n.node, timeout: T.quick }) as Promise<SessionRow[]>).catch((err: Error) => {
            missed.push(`${n.node} (${err.message})`);
            return [] as SessionRow[];
          }),
        ),
      );
      const all = lists.flat().sort((a, b) => (a.workspaceId === b.workspaceId ? (a.sessionId < b.sessionId ? -1 : 1) : a.workspaceId < b.workspaceId ? -1 : 1));
      print(
        renderTable(
          ["WORKSPACE", "SESSION", "STATUS", "DESIRED", "NODE", "PHONE", "REASON", "UPDATED"],
          all.map((s) => [s.workspaceId, s.sessionId, s.status, s.desired, s.node, s.me?.phone, s.reason, s.updatedAt]),
        ),
      );
      print(`${all.length} sessions on ${nodes.length - missed.length} nodes${missed.length ? `; not answering: ${missed.join(", ")}` : ""}`);
    }),
  };

  const waMove: ReplCommand = {
    command: "wa-move <workspace> <node>",
    description: "Hand a workspace to another session node (its sessions stop, then start there)",
    action: guarded("wa-move", async (broker, args) => {
      const workspaceId = arg(args, "workspace");
      const node = arg(args, "node");
      const r = (await broker.call("placement.move", { workspaceId, node }, { timeout: T.move })) as { workspaceId: string; from: string | null; to: string; token: number };
      print(renderTable(["WORKSPACE", "FROM", "TO", "TOKEN"], [[r.workspaceId, r.from, r.to, r.token]], { right: [3] }));
      print(r.from === r.to ? `${workspaceId} was already on ${r.to}` : `moved ${workspaceId} to ${r.to}`);
    }),
  };

  const waDrain: ReplCommand = {
    command: "wa-drain <node>",
    description: "Move every workspace off a session node (before maintenance); it takes no new ones",
    action: guarded("wa-drain", async (broker, args) => {
      const node = arg(args, "node");
      const r = (await broker.call("placement.drain", { node }, { timeout: T.drain })) as { node: string; moved: string[]; remaining: number };
      const after = await clusterView(broker).catch(() => undefined);
      const owner = new Map(after?.assignments.map((a) => [a.workspaceId, a.node]) ?? []);
      print(renderTable(["WORKSPACE", "NOW ON"], r.moved.sort().map((w) => [w, owner.get(w)])));
      print(`drained ${r.node}: ${r.moved.length} workspaces handed off, ${r.remaining} left${r.remaining ? " (the deadline passed; run wa-drain again)" : ""}`);
    }),
  };

  const waBackup: ReplCommand = {
    command: "wa-backup [op]",
    description: "Backups: now (snapshot, verify, prune), list (default), verify [--snapshot id] (default the newest)",
    options: [{ option: "--snapshot <snapshot>", description: "the snapshot verify checks" }],
    action: guarded("wa-backup", async (broker, args) => {
      const op = (args.op === undefined || args.op === null || args.op === "" ? "list" : String(args.op)) as (typeof BACKUP_OPS)[number];
      if (!BACKUP_OPS.includes(op)) throw new UsageError(`unknown operation "${op}"; expected ${BACKUP_OPS.join(", ")}`);
      if (op === "now") {
        const r = (await broker.call("backup.now", {}, { timeout: T.backup })) as {
          snapshot: string;
          createdAt: string;
          durationMs: number;
          totals: { workspaces: number; sessions: number; bytes: number };
          verified: boolean;
          pruned: number;
        };
        print(
          renderTable(
            ["SNAPSHOT", "CREATED", "DURATION", "WORKSPACES", "SESSIONS", "SIZE", "VERIFIED", "PRUNED"],
            [[r.snapshot, r.createdAt, duration(r.durationMs), r.totals.workspaces, r.totals.sessions, bytes(r.totals.bytes), r.verified ? "yes" : "NO", r.pruned]],
            { right: [3, 4, 5, 7] },
          ),
        );
        if (!r.verified) print(`snapshot ${r.snapshot} did not verify: run wa-backup verify --snapshot ${r.snapshot} for the archives at fault`);
        return;
      }
      if (op === "list") {
        const list = (await broker.call("backup.list", {}, { timeout: T.quick * 3 })) as Array<{ id: string; time: string; complete: boolean; verified: boolean; objects: number; bytes: number }>;
        print(renderTable(["SNAPSHOT", "TIME", "COMPLETE", "VERIFIED", "OBJECTS", "SIZE"], list.map((s) => [s.id, s.time, s.complete ? "yes" : "NO", s.verified ? "yes" : "no", s.objects, bytes(s.bytes)]), { right: [4, 5] }));
        print(`${list.length} snapshots, newest first`);
        return;
      }
      const snapshot = opt(args, "snapshot");
      const r = (await broker.call("backup.verify", snapshot ? { snapshot } : {}, { timeout: T.backup })) as { snapshot: string; ok: boolean; archives: Array<{ workspaceId: string; ok: boolean; error?: string }>; durationMs: number };
      print(renderTable(["WORKSPACE", "OK", "ERROR"], r.archives.map((a) => [a.workspaceId, a.ok ? "yes" : "NO", a.error])));
      print(`snapshot ${r.snapshot}: ${r.ok ? "verified" : "FAILED verification"}, ${r.archives.length} archives checked in ${duration(r.durationMs)}`);
    }),
  };

  const waRestore: ReplCommand = {
    command: "wa-restore <snapshot>",
    description: "Restore a snapshot: one workspace (--workspace), or everything it holds",
    options: [{ option: "-w, --workspace <workspace>", description: "only this workspace" }],
    action: guarded("wa-restore", async (broker, args) => {
      const snapshot = arg(args, "snapshot");
      const workspaceId = opt(args, "workspace");
      const r = (await broker.call("backup.restore", { snapshot, ...(workspaceId ? { workspaceId } : {}) }, { timeout: T.backup })) as {
        snapshot: string;
        workspaces: Array<{ workspaceId: string; sessions: Array<{ sessionId: string; outcome: string; error?: string }> }>;
        durationMs: number;
      };
      const rows = r.workspaces.flatMap((w) => w.sessions.map((s) => [w.workspaceId, s.sessionId, s.outcome, s.error] as Cell[]));
      print(renderTable(["WORKSPACE", "SESSION", "OUTCOME", "ERROR"], rows));
      const failed = rows.filter((x) => x[2] === "failed").length;
      print(`restored ${rows.length} sessions of ${r.workspaces.length} workspaces from ${r.snapshot} in ${duration(r.durationMs)}${failed ? `; ${failed} failed: run wa-restore again` : ""}`);
    }),
  };

  const waDeadLetters: ReplCommand = {
    command: "wa-deadletters",
    description: "Webhook dead letters (of one workspace, or of every workspace, newest first); --retry <id> replays one",
    options: [
      { option: "-w, --workspace <workspace>", description: "only this workspace" },
      { option: "-r, --retry <id>", description: "replay this dead letter" },
    ],
    action: guarded("wa-deadletters", async (broker, args) => {
      const workspaceId = opt(args, "workspace");
      const retry = opt(args, "retry");
      if (retry && workspaceId) {
        print(await replay(broker, workspaceId, retry));
        return;
      }
      // one workspace's, or the store-wide list (the newest 500)
      const letters = (
        workspaceId
          ? await broker.call("webhooks.deliveries", { workspaceId, status: "failed", limit: 500 }, { timeout: T.quick })
          : await broker.call("webhooks.deadLetters", { limit: 500 }, { timeout: T.quick })
      ) as DeadLetter[];
      if (retry) {
        const target = letters.find((d) => d.id === retry);
        if (!target) throw new UsageError(`no dead letter ${retry} among the newest ${letters.length}; name its workspace with --workspace`);
        print(await replay(broker, target.workspaceId, retry));
        return;
      }
      print(
        renderTable(
          ["WORKSPACE", "DELIVERY", "EVENT", "SESSION", "ATTEMPTS", "REPLAYS", "LAST STATUS", "LAST ERROR", "UPDATED"],
          letters.map((d) => [d.workspaceId, d.id, d.event, d.sessionId, d.attempts, d.replays, d.lastStatus, d.lastError, d.updatedAt]),
          { right: [4, 5, 6] },
        ),
      );
      const spread = new Set(letters.map((d) => d.workspaceId)).size;
      print(`${letters.length} dead letters in ${spread} workspace${spread === 1 ? "" : "s"}${letters.length === 500 ? " (the newest 500)" : ""}`);
    }),
  };

  return [waNodes, waSessions, waMove, waDrain, waBackup, waRestore, waDeadLetters];
}

/** The commands' names (`wa-move`), as an operator types them. */
export const WA_COMMAND_NAMES: string[] = waCommands(() => undefined).map((c) => c.command.split(" ")[0]!);

/**
 * Parses a one-shot command line (`wa-sessions --workspace acme`, `wa-drain n1`) into the args
 * moleculer-repl would hand the action, for `repl.js <command> ...` in scripts and preStop hooks.
 */
export function parseCommandLine(cmd: ReplCommand, argv: string[]): ReplArgs {
  const positionals = [...cmd.command.matchAll(/[<[]([a-zA-Z]+)[>\]]/g)].map((m) => m[1]!);
  const flags = new Map<string, string>();
  for (const o of cmd.options ?? []) {
    const long = /--([a-z-]+)/.exec(o.option)![1]!;
    const short = /(?:^|\s)-([a-z]),/.exec(o.option)?.[1];
    flags.set(`--${long}`, long);
    if (short) flags.set(`-${short}`, long);
  }
  const args: ReplArgs = { options: {} };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const key = a.startsWith("-") && eq > 0 ? a.slice(0, eq) : a;
    const name = flags.get(key);
    if (name) args.options![name] = eq > 0 && a.startsWith("-") ? a.slice(eq + 1) : (argv[++i] ?? true);
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a} for ${cmd.command.split(" ")[0]}`);
    else rest.push(a);
  }
  if (rest.length > positionals.length) throw new UsageError(`too many arguments for ${cmd.command}`);
  positionals.forEach((p, i) => {
    if (rest[i] !== undefined) args[p] = rest[i];
  });
  return args;
}

// Per-operation costs of the scale run (issue 23, item 2), from the run's own servers: Redis
// commands (INFO commandstats of the harness's redis-server), NATS messages and bytes (/varz of the
// harness's nats-server, started with a monitoring port), JetStream messages and bytes (/jsz), and
// the CPU and RSS of every process (/proc). A snapshot is taken at each phase boundary; a phase's
// figures are the differences. Counts and bytes per operation do not depend on how loaded the
// machine is; rates and CPU do.
import { Redis } from "ioredis";
import { request } from "../test/helpers/http";

export interface CostSnapshot {
  at: number;
  /** Redis: calls and microseconds per command (lower case), cumulative. */
  redis: Map<string, { calls: number; usec: number }>;
  nats: { inMsgs: number; outMsgs: number; inBytes: number; outBytes: number };
  js: { messages: number; bytes: number; api: number };
  /** CPU seconds per process, cumulative. */
  cpu: Map<string, number>;
  rss: Map<string, number>;
  /** What the harness did so far (requests through the gateway, sends accepted, incoming messages). */
  ops: { requests: number; sends: number; incoming: number };
}

export interface CostPhase {
  phase: string;
  seconds: number;
  redisCommands: number;
  /** Redis's own CPU for them (commandstats usec), in seconds. */
  redisSeconds: number;
  redisByCommand: Record<string, number>;
  natsInMsgs: number;
  natsOutMsgs: number;
  natsInBytes: number;
  natsOutBytes: number;
  jsMessages: number;
  jsBytes: number;
  cpu: Record<string, number>;
  requests: number;
  sends: number;
  incoming: number;
}

/** Parses `INFO commandstats` (cmdstat_<name>:calls=N,usec=N,...). */
export function parseCommandStats(info: string): Map<string, { calls: number; usec: number }> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out.set(m[1]!.toLowerCase(), { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

export class CostMeter {
  private readonly redis: Redis;

  constructor(
    redisUrl: string,
    private readonly natsMonitorUrl: string | undefined,
    private readonly cpu: () => Map<string, number>,
    private readonly rss: () => Map<string, number>,
    private readonly ops: () => CostSnapshot["ops"],
  ) {
    this.redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
    this.redis.on("error", () => undefined);
  }

  async snapshot(): Promise<CostSnapshot> {
    const [info, varz, jsz] = await Promise.all([
      this.redis.info("commandstats").catch(() => ""),
      this.natsMonitorUrl ? request(this.natsMonitorUrl, "GET", "/varz").then((r) => r.json, () => undefined) : undefined,
      this.natsMonitorUrl ? request(this.natsMonitorUrl, "GET", "/jsz").then((r) => r.json, () => undefined) : undefined,
    ]);
    return {
      at: Date.now(),
      redis: parseCommandStats(info),
      nats: { inMsgs: varz?.in_msgs ?? 0, outMsgs: varz?.out_msgs ?? 0, inBytes: varz?.in_bytes ?? 0, outBytes: varz?.out_bytes ?? 0 },
      js: { messages: jsz?.messages ?? 0, bytes: jsz?.bytes ?? 0, api: jsz?.api?.total ?? 0 },
      cpu: this.cpu(),
      rss: this.rss(),
      ops: this.ops(),
    };
  }

  static phase(name: string, a: CostSnapshot, b: CostSnapshot): CostPhase {
    const byCommand: Record<string, number> = {};
    let commands = 0;
    let usec = 0;
    for (const [cmd, v] of b.redis) {
      const before = a.redis.get(cmd) ?? { calls: 0, usec: 0 };
      // the meter's own INFO calls are not the cluster's
      const calls = v.calls - before.calls - (cmd === "info" ? 1 : 0);
      if (calls <= 0) continue;
      byCommand[cmd] = calls;
      commands += calls;
      usec += v.usec - before.usec;
    }
    const cpu: Record<string, number> = {};
    for (const [p, s] of b.cpu) cpu[p] = Math.round((s - (a.cpu.get(p) ?? 0)) * 100) / 100;
    return {
      phase: name,
      seconds: (b.at - a.at) / 1000,
      redisCommands: commands,
      redisSeconds: usec / 1e6,
      redisByCommand: Object.fromEntries(Object.entries(byCommand).sort((x, y) => y[1] - x[1])),
      natsInMsgs: b.nats.inMsgs - a.nats.inMsgs,
      natsOutMsgs: b.nats.outMsgs - a.nats.outMsgs,
      natsInBytes: b.nats.inBytes - a.nats.inBytes,
      natsOutBytes: b.nats.outBytes - a.nats.outBytes,
      jsMessages: b.js.messages - a.js.messages,
      jsBytes: b.js.bytes - a.js.bytes,
      cpu,
      requests: b.ops.requests - a.ops.requests,
      sends: b.ops.sends - a.ops.sends,
      incoming: b.ops.incoming - a.ops.incoming,
    };
  }

  close(): void {
    this.redis.disconnect();
  }
}

// Server-sent event streams: `GET /workspaces/:w/events` gets every wa.* event of the workspace's
// sessions as it happens (optionally only the `types` it names), `GET /cluster/events` the
// cluster's own events (wa.cluster.*, which carry the workspace "*"), with a comment line as
// heartbeat so proxies keep the connection open. The gateway publishes each event it receives once; this
// module fans it out to the open streams.
//
// One tenant must not degrade a shared gateway: streams are bounded per key and per gateway (429
// TOO_MANY_STREAMS), a stream whose client stops reading is dropped once its unsent bytes pass a
// bound (instead of the gateway buffering without end), and a workspace key is checked again on
// every heartbeat, so a revoked key loses its open streams.
import { WafleetError } from "../errors";
import { EVENT_NAMES, type WafleetEvent } from "../events";
import type { Principal } from "./keys";
import type { Exchange, RouteHandler } from "./pipeline";
import type { ServerResponse } from "node:http";

/** The workspace cluster events carry (makeEvent with workspaceId "*"). */
const CLUSTER_SCOPE = "*";

export interface EventStreamOptions {
  /** A comment line this often on every stream (default 15 s); keys are re-checked as often. */
  heartbeatMs?: number;
  /** Streams one key may hold open on this gateway (default 10; 0 = no limit). */
  maxPerKey?: number;
  /** Streams this gateway holds open at once (default 1000; 0 = no limit). */
  maxStreams?: number;
  /** A stream with more unsent bytes than this is dropped: its client stopped reading (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Whether a workspace key still exists (not revoked); checked on every heartbeat. Admin keys are not checked. */
  keyActive?: (keyId: string) => Promise<boolean>;
  /** Told why a stream was dropped (the gateway's log). */
  onDrop?: (reason: "slow" | "revoked", keyId: string | undefined) => void;
}

interface Subscriber {
  workspaceId: string;
  types: Set<string> | null;
  res: ServerResponse;
  keyId?: string;
  /** A workspace key (re-checked on heartbeats); admin keys come from the configuration. */
  workspaceKey: boolean;
}

export class EventStreams {
  private readonly subscribers = new Set<Subscriber>();
  private readonly perKey = new Map<string, number>();
  private heartbeat?: NodeJS.Timeout;
  private checking = false;
  private readonly maxPerKey: number;
  private readonly maxStreams: number;
  private readonly maxBuffered: number;

  constructor(private opts: EventStreamOptions = {}) {
    this.maxPerKey = opts.maxPerKey ?? 10;
    this.maxStreams = opts.maxStreams ?? 1000;
    this.maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024;
  }

  /** Adds what is known only later (the key store), before the first stream opens. */
  configure(more: Pick<EventStreamOptions, "keyActive" | "onDrop">): void {
    this.opts = { ...this.opts, ...more };
  }

  /** Open streams on this gateway. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Open streams of one key on this gateway. */
  openFor(keyId: string): number {
    return this.perKey.get(keyId) ?? 0;
  }

  /** The pipeline handler of the event-stream route (its params already validated). */
  readonly handler: RouteHandler = (x: Exchange) => this.open(x, x.params.workspaceId);

  /** The pipeline handler of the cluster's stream (admin): the events of no workspace. */
  readonly clusterHandler: RouteHandler = (x: Exchange) => this.open(x, CLUSTER_SCOPE);

  private open(x: Exchange, workspaceId: string): void {
    const types = parseTypes(x.params.types);
    const keyId = x.principal?.keyId;
    if (this.maxStreams > 0 && this.subscribers.size >= this.maxStreams) {
      throw new WafleetError("TOO_MANY_STREAMS", `This gateway holds as many event streams as it may (${this.maxStreams}); retry later or through another gateway`, { retryAfter: 5 });
    }
    if (keyId !== undefined && this.maxPerKey > 0 && this.openFor(keyId) >= this.maxPerKey) {
      throw new WafleetError("TOO_MANY_STREAMS", `This key has ${this.maxPerKey} event streams open on this gateway, the most it may; close one first`, { retryAfter: 5 });
    }
    const { res } = x;
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.write(": wafleet event stream\n\n");
    const sub: Subscriber = { workspaceId, types, res, keyId, workspaceKey: isWorkspaceKey(x.principal) };
    this.subscribers.add(sub);
    if (keyId !== undefined) this.perKey.set(keyId, this.openFor(keyId) + 1);
    res.on("close", () => this.forget(sub));
  }

  private forget(sub: Subscriber): void {
    if (!this.subscribers.delete(sub)) return;
    if (sub.keyId === undefined) return;
    const n = this.openFor(sub.keyId) - 1;
    if (n > 0) this.perKey.set(sub.keyId, n);
    else this.perKey.delete(sub.keyId);
  }

  private drop(sub: Subscriber, reason: "slow" | "revoked"): void {
    this.forget(sub);
    // a revoked key's client gets a last word; a slow one would not read it anyway
    if (reason === "revoked") sub.res.end(": key revoked\n\n");
    else sub.res.destroy();
    this.opts.onDrop?.(reason, sub.keyId);
  }

  /** Writes a frame unless the client has stopped reading (then the stream goes). */
  private send(sub: Subscriber, frame: string): void {
    if (sub.res.writableLength > this.maxBuffered) return this.drop(sub, "slow");
    sub.res.write(frame);
  }

  /** One event to every stream of its workspace that wants its type. */
  publish(name: string, event: WafleetEvent): void {
    if (!this.subscribers.size) return;
    const frame = `id: ${event.id}\nevent: ${name}\ndata: ${JSON.stringify(event)}\n\n`;
    for (const sub of [...this.subscribers]) {
      if (sub.workspaceId !== event.workspaceId) continue;
      if (sub.types && !sub.types.has(name)) continue;
      this.send(sub, frame);
    }
  }

  start(): void {
    this.heartbeat ??= setInterval(() => void this.beat(), this.opts.heartbeatMs ?? 15000);
  }

  /** A heartbeat on every stream, and every workspace key with open streams looked up again (once each). */
  private async beat(): Promise<void> {
    for (const sub of [...this.subscribers]) this.send(sub, ": keepalive\n\n");
    const check = this.opts.keyActive;
    if (!check || this.checking) return;
    this.checking = true;
    try {
      const keys = new Set([...this.subscribers].filter((s) => s.workspaceKey && s.keyId !== undefined).map((s) => s.keyId!));
      for (const keyId of keys) {
        // the store unreachable: keep the streams (the next heartbeat asks again)
        const active = await check(keyId).catch(() => true);
        if (active) continue;
        for (const sub of [...this.subscribers]) if (sub.keyId === keyId) this.drop(sub, "revoked");
      }
    } finally {
      this.checking = false;
    }
  }

  /** Ends every stream (the gateway is stopping). */
  stop(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const sub of this.subscribers) sub.res.end();
    this.subscribers.clear();
    this.perKey.clear();
  }
}

const isWorkspaceKey = (p: Principal | undefined) => p?.kind === "workspace";

/** `types=a,b`: null for every type; each name must be an event wafleet emits. */
function parseTypes(raw: unknown): Set<string> | null {
  if (raw === undefined || raw === "") return null;
  const types = new Set(String(raw).split(","));
  const unknown = [...types].filter((t) => !EVENT_NAMES.includes(t as any));
  if (unknown.length) throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): types", [{ field: "types", message: `unknown event type(s): ${unknown.join(", ").slice(0, 200)}`, type: "enumValue" }]);
  return types;
}

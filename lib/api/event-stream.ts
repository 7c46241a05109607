// Server-sent event streams: `GET /workspaces/:w/events` gets every wa.* event of the workspace's
// sessions as it happens (optionally only the `types` it names), with a comment line as heartbeat
// so proxies keep the connection open. The gateway publishes each event it receives once; this
// module fans it out to the open streams.
import { WafleetError } from "../errors";
import { EVENT_NAMES, type WafleetEvent } from "../events";
import type { Exchange, RouteHandler } from "./pipeline";
import type { ServerResponse } from "node:http";

export interface EventStreamOptions {
  /** A comment line this often on every stream (default 15 s). */
  heartbeatMs?: number;
}

interface Subscriber {
  workspaceId: string;
  types: Set<string> | null;
  res: ServerResponse;
}

export class EventStreams {
  private readonly subscribers = new Set<Subscriber>();
  private heartbeat?: NodeJS.Timeout;

  constructor(private readonly opts: EventStreamOptions = {}) {}

  /** Open streams on this gateway. */
  get size(): number {
    return this.subscribers.size;
  }

  /** The pipeline handler of the event-stream route (its params already validated). */
  readonly handler: RouteHandler = (x: Exchange) => {
    const types = parseTypes(x.params.types);
    const { res } = x;
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.write(": wafleet event stream\n\n");
    const sub: Subscriber = { workspaceId: x.params.workspaceId, types, res };
    this.subscribers.add(sub);
    res.on("close", () => this.subscribers.delete(sub));
  };

  /** One event to every stream of its workspace that wants its type. */
  publish(name: string, event: WafleetEvent): void {
    if (!this.subscribers.size) return;
    const frame = `id: ${event.id}\nevent: ${name}\ndata: ${JSON.stringify(event)}\n\n`;
    for (const sub of this.subscribers) {
      if (sub.workspaceId !== event.workspaceId) continue;
      if (sub.types && !sub.types.has(name)) continue;
      sub.res.write(frame);
    }
  }

  start(): void {
    this.heartbeat ??= setInterval(() => {
      for (const sub of this.subscribers) sub.res.write(": keepalive\n\n");
    }, this.opts.heartbeatMs ?? 15000);
  }

  /** Ends every stream (the gateway is stopping). */
  stop(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const sub of this.subscribers) sub.res.end();
    this.subscribers.clear();
  }
}

/** `types=a,b`: null for every type; each name must be an event wafleet emits. */
function parseTypes(raw: unknown): Set<string> | null {
  if (raw === undefined || raw === "") return null;
  const types = new Set(String(raw).split(","));
  const unknown = [...types].filter((t) => !EVENT_NAMES.includes(t as any));
  if (unknown.length) throw new WafleetError("VALIDATION_ERROR", "Invalid field(s): types", [{ field: "types", message: `unknown event type(s): ${unknown.join(", ").slice(0, 200)}`, type: "enumValue" }]);
  return types;
}

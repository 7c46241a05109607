// Server-sent event streams without a broker: a plain node:http server whose one route opens a
// stream, events published straight into the module, read back by a real SSE client.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { EventStreams, type EventStreamOptions } from "../../lib/api/event-stream";
import type { Exchange } from "../../lib/api/pipeline";
import { sendError } from "../../lib/api/reply";
import type { WafleetEvent } from "../../lib/events";
import { openEventStream } from "../helpers/http";
import { waitFor } from "../helpers/processes";

interface Rig {
  url: string;
  streams: EventStreams;
  close(): Promise<void>;
}

/** `GET /<workspace>?types=...` opens a stream for that workspace. */
async function rig(opts: EventStreamOptions = {}): Promise<Rig> {
  const streams = new EventStreams(opts);
  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url!, "http://x");
    const params: Record<string, unknown> = { workspaceId: u.pathname.slice(1) };
    if (u.searchParams.has("types")) params.types = u.searchParams.get("types");
    try {
      await streams.handler({ req, res, params, def: {} as any, call: async () => undefined } as unknown as Exchange);
    } catch (err) {
      sendError(res, err);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  streams.start();
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    streams,
    close: async () => {
      streams.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

let n = 0;
const event = (workspaceId: string, name: string): WafleetEvent => ({ id: `01J${String(++n).padStart(23, "0")}`, event: name, workspaceId, sessionId: "s1", node: "n1", timestamp: Date.now(), status: "WORKING", previous: "STARTING" }) as any;

describe("event streams", () => {
  let t: Rig;
  beforeEach(async () => {
    t = await rig({ heartbeatMs: 100 });
  });
  afterEach(async () => {
    await t.close();
  });

  it("sends each workspace only its own events, of the types it asked for", async () => {
    const all = await openEventStream(t.url, "/acme", "k");
    const statusOnly = await openEventStream(t.url, "/acme?types=wa.session.status", "k");
    const beta = await openEventStream(t.url, "/beta", "k");
    await waitFor("three streams", () => t.streams.size === 3);
    t.streams.publish("wa.session.qr", event("acme", "wa.session.qr"));
    t.streams.publish("wa.session.status", event("acme", "wa.session.status"));
    t.streams.publish("wa.session.status", event("beta", "wa.session.status"));
    await waitFor("delivery", () => all.events.length === 2 && statusOnly.events.length === 1 && beta.events.length === 1);
    expect(all.events.map((e) => e.event)).toEqual(["wa.session.qr", "wa.session.status"]);
    expect(all.events[1]!.data).toMatchObject({ workspaceId: "acme", status: "WORKING" });
    expect(all.events[1]!.id).toBe(all.events[1]!.data.id);
    expect(statusOnly.events.map((e) => e.event)).toEqual(["wa.session.status"]);
    expect(beta.events.map((e) => e.data.workspaceId)).toEqual(["beta"]);
    for (const s of [all, statusOnly, beta]) s.close();
    await waitFor("the closed streams to be forgotten", () => t.streams.size === 0);
  });

  it("refuses an unknown event type with VALIDATION_ERROR before the stream opens", async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve) => {
      http.get(`${t.url}/acme?types=wa.session.status,wa.nope`, (r) => {
        let body = "";
        r.on("data", (d) => (body += d));
        r.on("end", () => resolve({ status: r.statusCode!, body }));
      });
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatchObject({ code: "VALIDATION_ERROR", details: [{ field: "types", message: expect.stringContaining("wa.nope") }] });
    expect(t.streams.size).toBe(0);
  });

  it("keeps idle streams alive with heartbeats, and ends every stream when stopped", async () => {
    let raw = "";
    let ended = false;
    await new Promise<void>((resolve) => {
      http.get(`${t.url}/acme`, (r) => {
        r.setEncoding("utf8");
        r.on("data", (d) => (raw += d));
        r.on("end", () => (ended = true));
        resolve();
      });
    });
    await waitFor("two heartbeats", () => raw.split(": keepalive").length > 2);
    t.streams.stop();
    await waitFor("the stream to end", () => ended);
  });
});

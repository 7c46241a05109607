// Server-sent event streams without a broker: a plain node:http server whose one route opens a
// stream, events published straight into the module, read back by a real SSE client.
import http from "node:http";
import net from "node:net";
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
    // the key the gate admitted: "admin:<id>" or a workspace key's id (the helper sends it as a bearer)
    const bearer = String(req.headers.authorization ?? "").replace(/^Bearer /, "");
    const principal = bearer.startsWith("admin:") ? { kind: "admin", keyId: bearer.slice(6) } : { kind: "workspace", keyId: bearer, workspaceId: params.workspaceId };
    try {
      await streams.handler({ req, res, params, principal, def: {} as any, call: async () => undefined } as unknown as Exchange);
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

describe("event streams under a tenant that misbehaves", () => {
  let t: Rig;
  afterEach(async () => {
    await t.close();
  });

  /** GET with a key; the status and the error code of a refusal. */
  const get = (path: string, key: string) =>
    new Promise<{ status: number; code?: string; retryAfter?: string; close(): void }>((resolve) => {
      const req = http.get(`${t.url}${path}`, { headers: { authorization: `Bearer ${key}` } }, (r) => {
        if (r.statusCode === 200) return resolve({ status: 200, close: () => req.destroy() });
        let body = "";
        r.on("data", (d) => (body += d));
        r.on("end", () => resolve({ status: r.statusCode!, code: JSON.parse(body).error.code, retryAfter: r.headers["retry-after"] as string, close: () => undefined }));
      });
    });

  it("bounds streams per key (429 TOO_MANY_STREAMS) without touching other keys, and frees a slot when a stream closes", async () => {
    t = await rig({ maxPerKey: 2, maxStreams: 100 });
    const a = [await get("/acme", "k1"), await get("/acme", "k1")];
    expect(a.map((x) => x.status)).toEqual([200, 200]);
    expect(await get("/acme", "k1")).toMatchObject({ status: 429, code: "TOO_MANY_STREAMS", retryAfter: "5" });
    expect((await get("/acme", "k2")).status).toBe(200);
    expect(t.streams.openFor("k1")).toBe(2);
    a[0]!.close();
    await waitFor("k1's closed stream to be forgotten", () => t.streams.openFor("k1") === 1);
    expect((await get("/acme", "k1")).status).toBe(200);
  });

  it("bounds the streams of the whole gateway", async () => {
    t = await rig({ maxPerKey: 0, maxStreams: 3 });
    for (const k of ["k1", "k2", "k3"]) expect((await get("/acme", k)).status).toBe(200);
    expect(await get("/beta", "k4")).toMatchObject({ status: 429, code: "TOO_MANY_STREAMS" });
    expect(t.streams.size).toBe(3);
  });

  it("drops a stream whose client stops reading, instead of buffering for it", async () => {
    t = await rig({ maxBufferedBytes: 256 * 1024 });
    const drops: string[] = [];
    t.streams.configure({ onDrop: (reason) => drops.push(reason) });
    // a client that sends its request and never reads a byte
    const port = Number(new URL(t.url).port);
    const socket = net.connect(port, "127.0.0.1");
    socket.write("GET /acme HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer slow\r\n\r\n");
    socket.pause();
    let closed = false;
    socket.on("close", () => (closed = true));
    socket.on("error", () => undefined);
    await waitFor("the stream", () => t.streams.size === 1);
    const big = { ...event("acme", "wa.message.received"), text: "x".repeat(64 * 1024) } as any;
    let published = 0;
    // without the bound this would queue 256 MiB in the gateway
    while (t.streams.size > 0 && published < 4096) {
      t.streams.publish("wa.message.received", big);
      published++;
      if (published % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(t.streams.size).toBe(0);
    expect(drops).toEqual(["slow"]);
    // once it reads what its buffers hold, it finds the connection closed
    socket.resume();
    await waitFor("the slow client's connection to close", () => closed);
    socket.destroy();
  });

  it("ends a revoked key's streams at the next heartbeat, keeps admin streams, and keeps streams while the key store is unreachable", async () => {
    const revoked = new Set<string>();
    let storeDown = false;
    let failedChecks = 0;
    t = await rig({
      heartbeatMs: 50,
      keyActive: async (id) => {
        if (storeDown) {
          failedChecks++;
          throw new Error("store unreachable");
        }
        return !revoked.has(id);
      },
    });
    const ended = new Set<string>();
    const open = (key: string) =>
      new Promise<void>((resolve) => {
        http.get(`${t.url}/acme`, { headers: { authorization: `Bearer ${key}` } }, (r) => {
          r.resume();
          r.on("end", () => ended.add(key));
          resolve();
        });
      });
    await open("k1");
    await open("k2");
    await open("admin:root");
    await waitFor("three streams", () => t.streams.size === 3);
    storeDown = true;
    revoked.add("k1");
    await waitFor("several heartbeats with the store away", () => failedChecks >= 6);
    expect(t.streams.size).toBe(3);
    storeDown = false;
    await waitFor("k1's stream to end", () => ended.has("k1"));
    expect(t.streams.size).toBe(2);
    expect(ended.has("k2") || ended.has("admin:root")).toBe(false);
  });
});

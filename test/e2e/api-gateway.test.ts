// The gateway before authentication, through real sockets against the real process: a request
// without a valid key (or from an address refused for its failed authentications) is answered from
// its headers, before a byte of its body is read, and its connection is closed; the gateway's
// memory does not grow with bodies it never wanted. Connections and slow headers are bounded.
import { promises as fs } from "node:fs";
import net from "node:net";
import { request } from "../helpers/http";
import { waitFor } from "../helpers/processes";
import { ADMIN, startApiNode, type ApiNode } from "./api-harness";

const SEND = "/api/v1/workspaces/acme/sessions/main/messages";
const BODY = 20 * 1000 * 1000;

interface Exchange {
  /** The answer's status line and body (undefined when the connection closed without one). */
  status?: number;
  body?: any;
  /** Body bytes written before the answer arrived (or before the connection closed). */
  sentBeforeAnswer: number;
  /** The server closed the connection. */
  closed: boolean;
}

function port(node: ApiNode): number {
  return Number(new URL(node.api).port);
}

/**
 * Sends a POST's headers (a JSON body of `declared` bytes), then its body `chunk` bytes at a time
 * every `everyMs`, stopping at the first byte of an answer, when the server closes the connection,
 * or after `maxBytes` of body.
 */
function trickle(node: ApiNode, headers: Record<string, string>, opts: { declared: number; chunk: number; everyMs: number; maxBytes: number }): Promise<Exchange> {
  return new Promise((resolve) => {
    let sent = 0;
    let answered = -1;
    let data = "";
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const socket = net.connect(port(node), "127.0.0.1");
    const finish = (closed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const head = data.split("\r\n")[0] ?? "";
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      let body: any;
      try {
        body = JSON.parse(data.slice(data.indexOf("\r\n\r\n") + 4));
      } catch {
        body = undefined;
      }
      socket.destroy();
      resolve({ status: m ? Number(m[1]) : undefined, body, sentBeforeAnswer: answered >= 0 ? answered : sent, closed });
    };
    socket.on("connect", () => {
      const lines = [`POST ${SEND} HTTP/1.1`, "Host: gateway", "Content-Type: application/json", `Content-Length: ${opts.declared}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      const tick = () => {
        if (answered >= 0 || finished) return;
        if (sent >= opts.maxBytes) {
          finish(false);
          return;
        }
        socket.write(Buffer.alloc(opts.chunk, 0x20));
        sent += opts.chunk;
        timer = setTimeout(tick, opts.everyMs);
      };
      tick();
    });
    socket.on("data", (d) => {
      if (answered < 0) answered = sent;
      data += d.toString();
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
  });
}

/** Resident memory of a process, bytes (Linux). */
async function rssOf(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Sends a whole `size`-byte body as fast as the socket takes it; resolves with the answer's status (or 0). */
function blast(node: ApiNode, headers: Record<string, string>, size: number): Promise<number> {
  return new Promise((resolve) => {
    let data = "";
    const socket = net.connect(port(node), "127.0.0.1", () => {
      const lines = [`POST ${SEND} HTTP/1.1`, "Host: gateway", "Content-Type: application/json", `Content-Length: ${size}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      const mb = Buffer.alloc(1 << 20, 0x20);
      let left = size;
      const pump = () => {
        while (left > 0 && !socket.destroyed) {
          const n = Math.min(left, mb.length);
          left -= n;
          if (!socket.write(n === mb.length ? mb : mb.subarray(0, n))) {
            socket.once("drain", pump);
            return;
          }
        }
      };
      pump();
    });
    const done = () => {
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    };
    socket.on("data", (d) => (data += d.toString()));
    socket.on("close", done);
    socket.on("error", done);
  });
}

describe("the gateway before authentication", () => {
  let node: ApiNode;
  let throttled: ApiNode;

  beforeAll(async () => {
    [node, throttled] = await Promise.all([
      startApiNode({ API_MEDIA_MAX_BYTES: String(16 * 1024 * 1024) }),
      startApiNode({ API_AUTH_FAILURE_LIMIT: "2", API_RATE_WINDOW_MS: "3600000" }),
    ]);
  }, 60000);

  afterAll(async () => {
    await Promise.all([node?.stop(), throttled?.stop()]);
  });

  it("answers a keyless request that trickles a large body with 401 before the body completes, and closes its connection", async () => {
    const x = await trickle(node, {}, { declared: BODY, chunk: 16 * 1024, everyMs: 20, maxBytes: 2 * 1024 * 1024 });
    expect(x.status).toBe(401);
    expect(x.body).toEqual({ error: { code: "UNAUTHORIZED", message: expect.any(String) } });
    expect(x.sentBeforeAnswer).toBeLessThan(BODY);
    expect(x.closed).toBe(true);
  });

  it("answers a wrong key and a workspace key outside its workspace from the headers too", async () => {
    const wrong = await trickle(node, { Authorization: "Bearer wrong-key-0123456789" }, { declared: BODY, chunk: 16 * 1024, everyMs: 20, maxBytes: 2 * 1024 * 1024 });
    expect([wrong.status, wrong.closed]).toEqual([401, true]);
    const betaKey = (await node.call("POST", "/api/v1/workspaces/beta/keys")).json.key;
    const foreign = await trickle(node, { Authorization: `Bearer ${betaKey}` }, { declared: BODY, chunk: 16 * 1024, everyMs: 20, maxBytes: 2 * 1024 * 1024 });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe("FORBIDDEN_WORKSPACE");
    expect(foreign.closed).toBe(true);
  });

  it("does not grow its memory with keyless bodies sent at full speed", async () => {
    // warm up the paths a refusal takes, so the measurement sees only what the bodies would cost
    await blast(node, {}, 1024);
    const before = await rssOf(node.proc.pid);
    const statuses = await Promise.all(Array.from({ length: 6 }, () => blast(node, {}, BODY)));
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
    const after = await rssOf(node.proc.pid);
    // six 20 MB bodies read before the key check cost well over 120 MiB
    expect(after - before).toBeLessThan(40 * 1024 * 1024);
    expect((await node.call("GET", "/api/v1/workspaces/acme/sessions")).status).toBe(200);
  });

  it("refuses an address blocked for failed authentications before reading its body, whatever key it presents", async () => {
    for (let i = 0; i < 2; i++) expect((await request(throttled.api, "GET", "/api/v1/workspaces/acme/sessions", { key: "wrong-key-0123456789" })).status).toBe(401);
    const x = await trickle(throttled, { Authorization: `Bearer ${ADMIN}` }, { declared: BODY, chunk: 16 * 1024, everyMs: 20, maxBytes: 2 * 1024 * 1024 });
    expect(x.status).toBe(429);
    expect(x.body.error.code).toBe("RATE_LIMITED");
    expect(x.sentBeforeAnswer).toBeLessThan(BODY);
    expect(x.closed).toBe(true);
  });

  it("still reads the body of a request whose key is good, and answers what the body says", async () => {
    const res = await node.call("POST", SEND, { rawBody: '{"to":', headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("INVALID_JSON");
    const keyless = await request(node.api, "POST", SEND, { rawBody: '{"to":', headers: { "content-type": "application/json" } });
    expect(keyless.status).toBe(401);
  });
});

describe("the gateway's connection bounds", () => {
  let node: ApiNode;

  beforeAll(async () => {
    node = await startApiNode({ API_MAX_CONNECTIONS: "4", API_HEADERS_TIMEOUT_MS: "1000", API_BODY_IDLE_TIMEOUT_MS: "1000" });
  }, 30000);

  afterAll(async () => {
    await node?.stop();
  });

  it("answers headers that never complete with 408 and closes the connection", async () => {
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let data = "";
      const socket = net.connect(port(node), "127.0.0.1", () => socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
      socket.on("data", (d) => (data += d.toString()));
      socket.on("close", () => resolve(data));
      socket.on("error", () => resolve(data));
      // far past the configured 1 s: the default (a minute) would still be waiting
      setTimeout(() => socket.destroy(), 15000).unref();
    });
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).error.code).toBe("REQUEST_TIMEOUT");
    expect(Date.now() - started).toBeLessThan(14000);
  });

  it("answers a body that stops arriving with 408 and closes the connection", async () => {
    const x = await trickle(node, { Authorization: `Bearer ${ADMIN}` }, { declared: 4096, chunk: 100, everyMs: 60000, maxBytes: 100 });
    expect(x.status).toBe(408);
    expect(x.body.error.code).toBe("REQUEST_TIMEOUT");
    expect(x.closed).toBe(true);
  });

  it("holds at most API_MAX_CONNECTIONS connections", async () => {
    const open: net.Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = net.connect(port(node), "127.0.0.1");
        await new Promise((r) => s.once("connect", r));
        open.push(s);
      }
      // the fifth is dropped at once, without an answer
      const fifth = await new Promise<string>((resolve) => {
        let data = "";
        const s = net.connect(port(node), "127.0.0.1", () => s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        s.on("data", (d) => (data += d.toString()));
        s.on("close", () => resolve(data === "" ? "dropped" : data));
        s.on("error", () => resolve(data === "" ? "dropped" : data));
      });
      expect(fifth).toBe("dropped");
    } finally {
      for (const s of open) s.destroy();
    }
    // once they are gone, connections are served again
    await waitFor("a connection to be served", async () => (await request(node.api, "GET", "/healthz")).status === 200, 10000);
  });
});

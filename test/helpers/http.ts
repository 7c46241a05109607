// A small HTTP client over node:http, so tests can send raw paths (`..` that fetch would
// normalise away), odd headers and bodies; plus a server-sent events reader.
import http from "node:http";

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

type RequestOptions = { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; key?: string; timeoutMs?: number };

export async function request(base: string, method: string, rawPath: string, opts: RequestOptions = {}): Promise<HttpResult> {
  try {
    return await requestOnce(base, method, rawPath, opts).catch((err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
      // Node's agent keeps sockets alive; a server may close an idle one just as it is reused. The
      // server never read that request, so sending it again on a fresh socket is safe (Node's docs
      // recommend exactly this). The close shows as ECONNRESET, or as EPIPE when the server's reset
      // came after its FIN (the client was half-open): on a loaded machine, the scale harness's
      // `write EPIPE` (test/unit/http-keepalive-race.test.ts). The second try opens a connection of
      // its own: the pool may hold more sockets the server closed in the same instant (after a
      // burst of requests, all idle for the same keep-alive timeout), and taking one fails again.
      if (err.reusedSocket && (err.code === "ECONNRESET" || err.code === "EPIPE")) return requestOnce(base, method, rawPath, opts, false);
      throw err;
    });
  } catch (err) {
    // which call it was: a harness run that ends on `write EPIPE` alone says nothing (code kept)
    if (err instanceof Error && !err.message.startsWith(`${method} `)) err.message = `${method} ${base}${rawPath}: ${err.message}`;
    throw err;
  }
}

function requestOnce(base: string, method: string, rawPath: string, opts: RequestOptions, agent?: false): Promise<HttpResult> {
  const u = new URL(base);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let payload: Buffer | undefined;
  if (opts.rawBody !== undefined) payload = Buffer.isBuffer(opts.rawBody) ? opts.rawBody : Buffer.from(opts.rawBody);
  else if (opts.body !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.body));
    headers["content-type"] ??= "application/json";
  }
  if (payload) headers["content-length"] = String(payload.length);
  if (opts.key) headers["authorization"] ??= `Bearer ${opts.key}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: rawPath, headers, ...(agent === false ? { agent: false } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        let json: any;
        if (String(res.headers["content-type"] ?? "").includes("json") && body.length) {
          try {
            json = JSON.parse(body.toString());
          } catch {
            json = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on("error", (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    req.setTimeout(opts.timeoutMs ?? 30000, () => req.destroy(new Error(`${method} ${rawPath} timed out`)));
    if (payload) req.write(payload);
    req.end();
  });
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: any;
}

/** Opens an event stream and collects its events until closed. */
export function openEventStream(base: string, rawPath: string, key: string): Promise<{ events: SseEvent[]; status: number; close(): void }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = http.request({ host: u.hostname, port: u.port, method: "GET", path: rawPath, headers: { authorization: `Bearer ${key}`, accept: "text/event-stream" } }, (res) => {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { data: undefined };
          for (const line of frame.split("\n")) {
            if (line.startsWith("id: ")) ev.id = line.slice(4);
            else if (line.startsWith("event: ")) ev.event = line.slice(7);
            else if (line.startsWith("data: ")) ev.data = JSON.parse(line.slice(6));
          }
          if (ev.event) events.push(ev);
        }
      });
      res.on("error", () => undefined);
      resolve({ events, status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on("error", (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}

// A real HTTP webhook receiver for tests: records every request, verifies its Standard Webhooks
// signature with the official library, answers with a status the test chooses, and can go down
// (connections refused) and come back on the same port.
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Webhook } from "standardwebhooks";

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: any;
  /** The official verifier accepted it. */
  verified: boolean;
  status: number;
  at: number;
}

export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  /** The status each request is answered with (default 200). */
  status: (req: { id: string; body: any }) => number = () => 200;
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private verifier?: Webhook;
  private waiters: Array<() => void> = [];
  private holding = false;
  /** Requests parked by hold(), not answered yet. */
  private readonly parked: Array<(status: number) => void> = [];
  port = 0;

  constructor(secret?: string) {
    if (secret) this.verifier = new Webhook(secret);
  }

  setSecret(secret: string): void {
    this.verifier = new Webhook(secret);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(port = this.port): Promise<this> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        let verified: boolean;
        try {
          this.verifier?.verify(raw, req.headers as Record<string, string>);
          verified = !!this.verifier;
        } catch {
          verified = false;
        }
        let body: any;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        const id = String(req.headers["webhook-id"] ?? "");
        const answer = (status: number) => {
          this.requests.push({ id, timestamp: String(req.headers["webhook-timestamp"] ?? ""), signature: String(req.headers["webhook-signature"] ?? ""), headers: req.headers, raw, body, verified, status, at: Date.now() });
          if (!res.destroyed) {
            res.writeHead(status, { "content-type": "text/plain" });
            res.end(status < 300 ? "ok" : "no");
          }
          for (const w of this.waiters.splice(0)) w();
        };
        if (this.holding) {
          this.parked.push(answer);
          for (const w of this.waiters.splice(0)) w();
          return;
        }
        answer(this.status({ id, body }));
      });
    });
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** From now on requests are taken but not answered (the sender waits), until release(). */
  hold(): void {
    this.holding = true;
  }

  get parkedCount(): number {
    return this.parked.length;
  }

  /** Answers the parked requests with `status` (recorded with it) and answers normally again. */
  release(status: number): void {
    this.holding = false;
    for (const answer of this.parked.splice(0)) answer(status);
  }

  /** Stops listening and drops open connections: senders get connection errors until up(). */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  up(): Promise<this> {
    return this.start(this.port);
  }

  /** Requests answered 2xx, by webhook-id. */
  deliveredIds(): Set<string> {
    return new Set(this.requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.id));
  }

  /** Resolves once `probe` is true (checked after every request), or rejects after `timeoutMs`. */
  async until(what: string, probe: () => boolean, timeoutMs = 30000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!probe()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.requests.length} requests so far)`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async close(): Promise<void> {
    await this.down();
  }
}

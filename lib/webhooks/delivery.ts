// One delivery attempt: a signed POST with a deadline, no redirects, the response body read up to a
// small limit, and the outcome classified (DESIGN section 7): 2xx delivered; 4xx other than 408 and
// 429 dead at once; anything else (3xx, 408, 429, 5xx, network errors, timeouts) retried.
import http from "node:http";
import https from "node:https";
import type { WafleetEvent } from "../events";
import { signatureHeaders } from "./signing";
import { checkWebhookUrl, guardedLookup } from "./url-guard";

export interface WebhookTarget {
  url: string;
  secret: string;
  headers?: Record<string, string>;
}

export type AttemptResult = "delivered" | "retry" | "dead";

export interface AttemptOutcome {
  result: AttemptResult;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why it failed, without secrets. */
  error?: string;
  durationMs: number;
  /** The start of the receiver's answer (at most `maxResponseBytes`). */
  responseBody?: string;
}

/** Headers a webhook's custom headers may not override. */
export const RESERVED_HEADERS = new Set(["host", "content-type", "content-length", "transfer-encoding", "connection", "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature"]);

export function classifyStatus(status: number): AttemptResult {
  if (status >= 200 && status < 300) return "delivered";
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return "dead";
  return "retry";
}

export interface WebhookSenderOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  /** Bytes of the response read at most (default 4 KiB); the rest is discarded with the socket. */
  maxResponseBytes?: number;
  userAgent?: string;
}

export class WebhookSender {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly lookup: ReturnType<typeof guardedLookup>;

  constructor(private readonly opts: WebhookSenderOptions) {
    this.lookup = guardedLookup(opts.allowPrivate);
  }

  /** The request body for an event: the event itself, as JSON (the same shape as the event stream). */
  static body(event: WafleetEvent): string {
    return JSON.stringify(event);
  }

  async send(target: WebhookTarget, event: WafleetEvent): Promise<AttemptOutcome> {
    const started = performance.now();
    const done = (o: Omit<AttemptOutcome, "durationMs">): AttemptOutcome => ({ ...o, durationMs: performance.now() - started });
    let url: URL;
    try {
      url = checkWebhookUrl(target.url, this.opts.allowPrivate);
    } catch (err) {
      return done({ result: "dead", error: (err as Error).message });
    }
    const body = WebhookSender.body(event);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(target.headers ?? {})) if (!RESERVED_HEADERS.has(k.toLowerCase())) headers[k] = v;
    Object.assign(headers, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "user-agent": this.opts.userAgent ?? "wafleet-webhooks",
      ...signatureHeaders(target.secret, event.id, body),
    });
    const limit = this.opts.maxResponseBytes ?? 4096;
    return new Promise<AttemptOutcome>((resolve) => {
      let finished = false;
      const finish = (o: Omit<AttemptOutcome, "durationMs">) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        resolve(done(o));
      };
      const mod = url.protocol === "https:" ? https : http;
      const req = mod.request(
        url,
        { method: "POST", headers, agent: url.protocol === "https:" ? this.httpsAgent : this.httpAgent, lookup: this.lookup as any },
        (res) => {
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            if (size < limit) chunks.push(c.subarray(0, limit - size));
            size += c.length;
            // a receiver that answers with a large body does not get to make us read it
            if (size > limit) {
              res.destroy();
              settle();
            }
          });
          const settle = () => {
            const responseBody = Buffer.concat(chunks).toString("utf8");
            const result = classifyStatus(status);
            finish(result === "delivered" ? { result, status, responseBody } : { result, status, responseBody, error: `HTTP ${status}` });
          };
          res.on("end", settle);
          res.on("error", settle);
          res.on("close", settle);
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
      req.on("error", (err: NodeJS.ErrnoException) => {
        // a refused address is the configuration's fault, not the network's: dead at once
        finish({ result: err.code === "WEBHOOK_URL_REFUSED" ? "dead" : "retry", error: err.code && err.code !== "WEBHOOK_URL_REFUSED" ? `${err.code}: ${err.message}` : err.message });
      });
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

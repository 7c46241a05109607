// Webhooks without servers: Standard Webhooks signatures checked by the official verifier, URL
// safety, outcome classification, the retry policy, the sender against a real HTTP receiver, and
// the dispatcher over the memory event log.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ServiceBroker } from "moleculer";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { makeEvent, type WafleetEvent } from "../../lib/events";
import { MemoryEventLog } from "../../lib/events/log-memory";
import { classifyStatus, WebhookSender } from "../../lib/webhooks/delivery";
import { WebhookDispatcher, wantsEvent } from "../../lib/webhooks/dispatcher";
import { WebhookCounters } from "../../lib/webhooks/metrics";
import { RetryPolicy } from "../../lib/webhooks/retry-policy";
import { newSecret, signatureHeaders } from "../../lib/webhooks/signing";
import { MemoryWebhookStore, type WebhookConfig } from "../../lib/webhooks/store";
import { checkWebhookUrl, isInternalAddress } from "../../lib/webhooks/url-guard";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const silent = { info: () => undefined, warn: () => undefined };

function message(workspaceId: string, sessionId: string, body: string, at?: Date): WafleetEvent {
  return makeEvent("wa.message.received", { workspaceId, sessionId, node: "n1" }, { message: { id: `m-${body}`, from: "1555@c.us", to: "1666@c.us", body, timestamp: 0, fromMe: false } as any }, at);
}

describe("Standard Webhooks signatures", () => {
  const secret = newSecret();
  const event = message("acme", "main", "hello");
  const body = WebhookSender.body(event);

  it("are accepted by the official verifier, with the event's ULID as webhook-id", () => {
    const headers = signatureHeaders(secret, event.id, body);
    expect(headers["webhook-id"]).toBe(event.id);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it("are rejected for a tampered body, another secret or an old timestamp", () => {
    const headers = signatureHeaders(secret, event.id, body);
    expect(() => new Webhook(secret).verify(body.replace("hello", "hellO"), { ...headers })).toThrow(WebhookVerificationError);
    expect(() => new Webhook(newSecret()).verify(body, { ...headers })).toThrow(WebhookVerificationError);
    const old = signatureHeaders(secret, event.id, body, new Date(Date.now() - 10 * 60_000));
    expect(() => new Webhook(secret).verify(body, { ...old })).toThrow(/too old/);
  });
});

describe("webhook URL safety", () => {
  it.each(["ftp://example.com/x", "file:///etc/passwd", "http://127.0.0.1/x", "http://localhost:8080/", "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[fe80::1]/", "http://192.168.1.1/", "http://user:pw@example.com/"])(
    "refuses %s",
    (url) => {
      expect(() => checkWebhookUrl(url, false)).toThrow(expect.objectContaining({ type: "WEBHOOK_URL_REFUSED" }));
    },
  );

  it("accepts public targets, and private ones when WEBHOOK_ALLOW_PRIVATE is set", () => {
    expect(checkWebhookUrl("https://hooks.example.com/wa?x=1", false).hostname).toBe("hooks.example.com");
    expect(checkWebhookUrl("http://93.184.216.34/hook", false).hostname).toBe("93.184.216.34");
    expect(checkWebhookUrl("http://127.0.0.1:9/hook", true).port).toBe("9");
    expect(() => checkWebhookUrl("ftp://127.0.0.1/", true)).toThrow(/scheme/);
  });

  it("classifies addresses, IPv4-mapped and NAT64 forms included", () => {
    for (const ip of ["127.0.0.1", "10.0.0.1", "172.31.255.255", "100.64.0.1", "0.0.0.0", "::", "fd00::1", "::ffff:10.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::7f00:1"]) expect([ip, isInternalAddress(ip)]).toEqual([ip, true]);
    for (const ip of ["8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]) expect([ip, isInternalAddress(ip)]).toEqual([ip, false]);
  });
});

describe("delivery outcomes and the retry policy", () => {
  it("2xx delivered; 4xx but 408/429 dead at once; everything else retried", () => {
    expect([200, 201, 204, 299].map(classifyStatus)).toEqual(["delivered", "delivered", "delivered", "delivered"]);
    expect([400, 401, 404, 410, 422].map(classifyStatus)).toEqual(["dead", "dead", "dead", "dead", "dead"]);
    expect([301, 302, 408, 429, 500, 502, 503].map(classifyStatus)).toEqual(["retry", "retry", "retry", "retry", "retry", "retry", "retry"]);
  });

  it("grows delays exponentially up to the cap, with bounded jitter", () => {
    const p = new RetryPolicy({ maxAttempts: 6, baseMs: 1000, maxMs: 30_000 });
    expect(p.delays()).toEqual([1000, 3000, 9000, 27000, 30000]);
    expect(p.delayAfter(2, () => 0)).toBe(2400);
    expect(p.delayAfter(2, () => 1)).toBe(3600);
    expect(p.isLast(5)).toBe(false);
    expect(p.isLast(6)).toBe(true);
  });
});

describe("WebhookSender against a real receiver", () => {
  const secret = newSecret();
  let receiver: WebhookReceiver;
  const sender = new WebhookSender({ timeoutMs: 500, allowPrivate: true, maxResponseBytes: 64 });

  beforeAll(async () => {
    receiver = await new WebhookReceiver(secret).start();
  });
  afterAll(async () => {
    sender.close();
    await receiver.close();
  });

  it("delivers a signed JSON POST with custom headers, which the official library verifies", async () => {
    const e = message("acme", "main", "signed");
    const out = await sender.send({ url: receiver.url, secret, headers: { "X-Tenant": "acme", "webhook-id": "forged" } }, e);
    expect(out.result).toBe("delivered");
    const got = receiver.requests.find((r) => r.id === e.id)!;
    expect(got.verified).toBe(true);
    expect(got.headers["x-tenant"]).toBe("acme");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.body).toEqual(e);
  });

  it("reports 410 as dead, 503 and 429 as retry", async () => {
    for (const [status, result] of [
      [410, "dead"],
      [503, "retry"],
      [429, "retry"],
    ] as const) {
      receiver.status = () => status;
      const out = await sender.send({ url: receiver.url, secret }, message("acme", "main", `s${status}`));
      expect([status, out.result, out.status]).toEqual([status, result, status]);
    }
    receiver.status = () => 200;
  });

  it("does not follow redirects, reads at most the response limit, and gives up at the timeout", async () => {
    let followed = 0;
    let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => undefined;
    const odd = http.createServer((req, res) => answer(req, res));
    await new Promise<void>((r) => odd.listen(0, "127.0.0.1", () => r()));
    const base = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
    try {
      answer = (req, res) => {
        if (req.url === "/elsewhere") followed++;
        res.writeHead(302, { location: `${base}/elsewhere` }).end();
      };
      const redirected = await sender.send({ url: `${base}/hook`, secret }, message("acme", "main", "r"));
      expect([redirected.result, redirected.status, followed]).toEqual(["retry", 302, 0]);

      answer = (_req, res) => {
        res.writeHead(200);
        res.end("x".repeat(1_000_000));
      };
      const big = await sender.send({ url: `${base}/hook`, secret }, message("acme", "main", "big"));
      expect(big.result).toBe("delivered");
      expect(big.responseBody!.length).toBeLessThanOrEqual(64);

      answer = () => undefined; // never answers
      const slow = await sender.send({ url: `${base}/hook`, secret }, message("acme", "main", "slow"));
      expect(slow.result).toBe("retry");
      expect(slow.error).toMatch(/no answer within 500 ms/);
    } finally {
      odd.closeAllConnections();
      await new Promise<void>((r) => odd.close(() => r()));
    }
  });

  it("refuses a loopback receiver unless private targets are allowed (dead, nothing sent)", async () => {
    const strict = new WebhookSender({ timeoutMs: 500, allowPrivate: false });
    const before = receiver.requests.length;
    const out = await strict.send({ url: receiver.url, secret }, message("acme", "main", "private"));
    strict.close();
    expect(out.result).toBe("dead");
    expect(out.error).toMatch(/refused/);
    expect(receiver.requests.length).toBe(before);
  });
});

describe("WebhookDispatcher over the memory event log", () => {
  const secret = newSecret();
  let receiver: WebhookReceiver;
  let log: MemoryEventLog;
  let store: MemoryWebhookStore;
  let dispatcher: WebhookDispatcher;
  let counters: WebhookCounters;
  const sender = new WebhookSender({ timeoutMs: 1000, allowPrivate: true });

  const hook = (over: Partial<WebhookConfig> = {}): WebhookConfig => ({ workspaceId: "acme", url: receiver.url, events: ["*"], secret, headers: {}, createdAt: "", updatedAt: "", ...over });

  beforeEach(async () => {
    receiver = await new WebhookReceiver(secret).start();
    log = new MemoryEventLog();
    store = new MemoryWebhookStore();
    counters = new WebhookCounters();
    dispatcher = new WebhookDispatcher({ log, store, sender, policy: new RetryPolicy({ maxAttempts: 4, baseMs: 20, maxMs: 100 }), metrics: counters, logger: silent, concurrency: 8 });
    await dispatcher.start();
  });
  afterEach(async () => {
    await dispatcher.stop();
    await log.close();
    await receiver.close();
  });
  afterAll(() => sender.close());

  it("delivers only the event types the webhook asks for, and nothing for workspaces without one", async () => {
    await store.setConfig(hook({ events: ["wa.message.received"] }));
    const wanted = message("acme", "main", "yes");
    await log.append(makeEvent("wa.session.qr", { workspaceId: "acme", sessionId: "main", node: "n1" }, { qr: "q", expiresAt: 0 }));
    await log.append(message("other", "main", "no webhook"));
    await log.append(wanted);
    await receiver.until("the wanted event", () => receiver.deliveredIds().has(wanted.id));
    await log.append(message("acme", "main", "last"));
    await receiver.until("two events", () => receiver.requests.length >= 2);
    expect(receiver.requests.map((r) => r.body.event)).toEqual(["wa.message.received", "wa.message.received"]);
    expect(wantsEvent({ events: ["*"] }, "wa.session.qr")).toBe(true);
  });

  it("sends to a changed URL as soon as the node is told of the change", async () => {
    await store.setConfig(hook());
    const first = message("acme", "main", "to the first");
    await log.append(first);
    await receiver.until("the first event", () => receiver.deliveredIds().has(first.id));
    const other = await new WebhookReceiver(secret).start();
    try {
      await store.setConfig(hook({ url: other.url }));
      dispatcher.invalidate("acme");
      const second = message("acme", "main", "to the second");
      await log.append(second);
      await other.until("the second event at the new URL", () => other.deliveredIds().has(second.id));
      expect(receiver.deliveredIds().has(second.id)).toBe(false);
    } finally {
      await other.close();
    }
  });

  it("keeps each session's events in order while the receiver is healthy", async () => {
    await store.setConfig(hook());
    const sent: Record<string, string[]> = { a: [], b: [], c: [] };
    for (let i = 0; i < 30; i++)
      for (const s of Object.keys(sent)) {
        const e = message("acme", s, `${s}${i}`);
        sent[s]!.push(e.id);
        await log.append(e);
      }
    await receiver.until("90 events", () => receiver.requests.length >= 90);
    for (const s of Object.keys(sent)) expect(receiver.requests.filter((r) => r.body.sessionId === s).map((r) => r.id)).toEqual(sent[s]);
  });

  it("retries while the receiver is down, and everything arrives once it is back", async () => {
    await store.setConfig(hook());
    await receiver.down();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const e = message("acme", `s${i % 3}`, `down${i}`);
      ids.push(e.id);
      await log.append(e);
    }
    await waitUntil(() => counters.snapshot().attempts.retry >= 20);
    expect((await store.listDeliveries("acme", "pending", 100)).length).toBeGreaterThan(0);
    await receiver.up();
    await receiver.until("all 20", () => ids.every((id) => receiver.deliveredIds().has(id)));
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  });

  it("dead-letters a 410 at once and after the last attempt for a 503, keeping the event for replay", async () => {
    await store.setConfig(hook());
    receiver.status = ({ body }) => (body.message.body === "gone" ? 410 : 503);
    const gone = message("acme", "main", "gone");
    const flaky = message("acme", "other", "flaky");
    await log.append(gone);
    await log.append(flaky);
    await waitUntil(async () => (await store.listDeliveries("acme", "failed", 10)).length === 2);
    const failed = await store.listDeliveries("acme", "failed", 10);
    const byId = Object.fromEntries(failed.map((r) => [r.id, r]));
    expect(byId[gone.id]).toMatchObject({ status: "failed", attempts: 1, lastStatus: 410, payload: gone });
    expect(byId[flaky.id]).toMatchObject({ status: "failed", attempts: 4, lastStatus: 503 });
    expect(receiver.requests.filter((r) => r.id === gone.id)).toHaveLength(1);
    expect(counters.snapshot().deadLetters).toBe(2);
    expect(await log.depth(dispatcher.consumerName)).toBe(0);
  });
});

async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("webhook metrics", () => {
  it("registers wafleet_webhook_* in Moleculer's registry when metrics are enabled, and counts in process", async () => {
    const broker = new ServiceBroker({ logger: false, metrics: { enabled: true, reporter: [] } });
    const counters = new WebhookCounters(broker.metrics as any);
    counters.attempt("delivered", 12);
    counters.attempt("retry", 30);
    counters.attempt("dead", 5);
    counters.deadLetter();
    counters.queueDepth(7);
    const value = (name: string, labels?: Record<string, string>) => (broker.metrics.getMetric(name) as any).get(labels)?.value;
    expect(value("wafleet_webhook_deliveries_total", { result: "delivered" })).toBe(1);
    expect(value("wafleet_webhook_deliveries_total", { result: "retry" })).toBe(1);
    expect(value("wafleet_webhook_dead_letters_total")).toBe(1);
    expect(value("wafleet_webhook_queue_depth")).toBe(7);
    expect((broker.metrics.getMetric("wafleet_webhook_delivery_seconds") as any).get({ result: "retry" }).count).toBe(1);
    expect(counters.snapshot()).toMatchObject({ attempts: { delivered: 1, retry: 1, dead: 1 }, deadLetters: 1, queueDepth: 7, latencyMs: { count: 3, sum: 47, max: 30 } });
    await broker.stop();
  });
});

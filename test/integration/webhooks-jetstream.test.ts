// The webhooks service over real infrastructure: nats-server -js for the event log, redis-server for
// configuration and dead letters, a real HTTP receiver verifying signatures with the official
// library. A separate JetStreamEventLog plays the session node that appends events.
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { makeEvent, type WafleetEvent } from "../../lib/events";
import { JetStreamEventLog } from "../../lib/events/log-jetstream";
import { RedisWebhookStore } from "../../lib/webhooks/redis-store";
import webhooksService from "../../services/webhooks.service";
import { tempDir, waitFor } from "../helpers/processes";
import { startNats, startRedis, type NatsServer, type RedisServer } from "../helpers/servers";
import { WebhookReceiver } from "../helpers/webhook-receiver";

let nats: NatsServer;
let redis: RedisServer;
let receiver: WebhookReceiver;
let producer: JetStreamEventLog;
const nodes: Array<{ broker: ServiceBroker; log: JetStreamEventLog; store: RedisWebhookStore }> = [];
let seq = 0;

async function startWebhooksNode(name: string) {
  const config = loadConfig({ WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "50", WEBHOOK_BACKOFF_MAX_MS: "300", WEBHOOK_MAX_ATTEMPTS: "30", WEBHOOK_ACK_WAIT_MS: "1000", WEBHOOK_TIMEOUT_MS: "2000", DATA_DIR: await tempDir("wh") });
  const log = new JetStreamEventLog({ connection: { servers: nats.url }, ackWaitMs: config.webhookAckWaitMs, maxAgeMs: 3600_000 });
  const store = new RedisWebhookStore({ url: redis.url, prefix: "test:" });
  const broker = new ServiceBroker({ nodeID: name, logger: false });
  broker.createService(webhooksService({ config, eventLog: log, store }));
  await broker.start();
  const node = { broker, log, store };
  nodes.push(node);
  return node;
}

async function stopNode(node: (typeof nodes)[number]) {
  await node.broker.stop();
  await node.log.close(200);
  await node.store.close();
  nodes.splice(nodes.indexOf(node), 1);
}

const msg = (w: string, s: string, body: string): WafleetEvent => makeEvent("wa.message.received", { workspaceId: w, sessionId: s, node: "session-1" }, { message: { id: `m${++seq}`, from: "1555@c.us", body } as any });

async function appendAll(events: WafleetEvent[]) {
  for (const e of events) await producer.append(e);
}

function arrivedOnce(ids: string[]) {
  const got = receiver.deliveredIds();
  return ids.every((id) => got.has(id));
}

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  producer = new JetStreamEventLog({ connection: { servers: nats.url }, maxAgeMs: 3600_000 });
  await producer.start();
});

beforeEach(async () => {
  receiver = await new WebhookReceiver().start();
});

afterEach(async () => {
  for (const n of [...nodes]) await stopNode(n);
  await receiver.close();
});

afterAll(async () => {
  await producer?.close(200);
  await nats?.destroy();
  await redis?.destroy();
});

describe("webhooks over JetStream and Redis", () => {
  it("keeps configuration in Redis, shows the generated secret once and never again", async () => {
    const { broker } = await startWebhooksNode("wh-a");
    const set: any = await broker.call("webhooks.set", { workspaceId: "cfg", url: receiver.url, events: ["wa.message.received"], headers: { "X-Tenant": "cfg" } });
    expect(set.secret).toMatch(/^whsec_/);
    const got: any = await broker.call("webhooks.get", { workspaceId: "cfg" });
    expect(got).toMatchObject({ url: receiver.url, events: ["wa.message.received"], headers: ["X-Tenant"], secretSet: true });
    expect(JSON.stringify(got)).not.toContain(set.secret);
    const again: any = await broker.call("webhooks.set", { workspaceId: "cfg", url: receiver.url });
    expect(again.secret).toBeUndefined();
    await expect(broker.call("webhooks.set", { workspaceId: "cfg", url: "ftp://example.com/" })).rejects.toMatchObject({ type: "VALIDATION_ERROR" });
    expect(await broker.call("webhooks.remove", { workspaceId: "cfg" })).toBeNull();
    await expect(broker.call("webhooks.get", { workspaceId: "cfg" })).rejects.toMatchObject({ type: "WEBHOOK_NOT_FOUND" });
  });

  it("delivers everything after the receiver was down for a while, deduplicable by webhook-id", async () => {
    const { broker } = await startWebhooksNode("wh-a");
    const { secret } = (await broker.call("webhooks.set", { workspaceId: "down", url: receiver.url })) as any;
    receiver.setSecret(secret);
    await receiver.down();
    const events = Array.from({ length: 60 }, (_, i) => msg("down", `s${i % 4}`, `down-${i}`));
    await appendAll(events);
    // every event has failed at least once before the receiver comes back
    await waitFor("a failed attempt for every event", async () => ((await broker.call("webhooks.stats")) as any).attempts.retry >= events.length, 20000);
    await receiver.up();
    await receiver.until("all 60 events", () => arrivedOnce(events.map((e) => e.id)), 30000);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    // at-least-once: a repeat carries the same id and the same body, so the receiver can drop it
    const byId = new Map<string, string>();
    for (const r of receiver.requests) {
      if (byId.has(r.id)) expect(r.raw).toBe(byId.get(r.id));
      byId.set(r.id, r.raw);
      expect(r.id).toBe(r.body.id);
    }
    expect(new Set(byId.keys())).toEqual(new Set(events.map((e) => e.id)));
    await waitFor("no delivery left pending", async () => ((await broker.call("webhooks.deliveries", { workspaceId: "down", status: "pending" })) as any[]).length === 0, 10000);
  });

  it("loses nothing when NATS restarts mid-stream", async () => {
    const { broker } = await startWebhooksNode("wh-a");
    const { secret } = (await broker.call("webhooks.set", { workspaceId: "restart", url: receiver.url })) as any;
    receiver.setSecret(secret);
    const first = Array.from({ length: 100 }, (_, i) => msg("restart", `s${i % 5}`, `a-${i}`));
    const second = Array.from({ length: 100 }, (_, i) => msg("restart", `s${i % 5}`, `b-${i}`));
    await appendAll(first);
    await receiver.until("some of the first half", () => receiver.requests.length >= 10, 15000);
    await nats.stop();
    // the session node keeps producing while NATS is away
    const during = Promise.all(second.map((e) => producer.append(e)));
    await nats.start();
    await during;
    const all = [...first, ...second].map((e) => e.id);
    await receiver.until("all 200 events", () => arrivedOnce(all), 60000);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  });

  it("dead-letters a 410 at once, lists it as failed, and replays it once the receiver is fixed", async () => {
    const { broker } = await startWebhooksNode("wh-a");
    await broker.call("webhooks.set", { workspaceId: "gone", url: receiver.url });
    receiver.status = () => 410;
    const e = msg("gone", "main", "to a gone receiver");
    await producer.append(e);
    const failed = await waitFor("the dead letter", async () => {
      const list = (await broker.call("webhooks.deliveries", { workspaceId: "gone", status: "failed" })) as any[];
      return list.length ? list : undefined;
    }, 15000);
    expect(failed).toEqual([expect.objectContaining({ id: e.id, status: "failed", attempts: 1, lastStatus: 410, event: "wa.message.received", sessionId: "main" })]);
    expect(failed[0].payload).toBeUndefined();
    expect(receiver.requests.filter((r) => r.id === e.id)).toHaveLength(1);
    await expect(broker.call("webhooks.retry", { workspaceId: "gone", deliveryId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" })).rejects.toMatchObject({ type: "DELIVERY_NOT_FOUND" });

    receiver.status = () => 200;
    expect(await broker.call("webhooks.retry", { workspaceId: "gone", deliveryId: e.id })).toEqual({ id: e.id, status: "pending", replays: 1 });
    await receiver.until("the replay", () => receiver.deliveredIds().has(e.id), 15000);
    const replayed = receiver.requests.filter((r) => r.id === e.id);
    expect(replayed.map((r) => r.status)).toEqual([410, 200]);
    expect(replayed[1]!.body).toEqual(e);
    await waitFor("the record delivered", async () => ((await broker.call("webhooks.deliveries", { workspaceId: "gone", status: "delivered" })) as any[]).some((r) => r.id === e.id && r.replays === 1), 10000);
    expect(await broker.call("webhooks.deliveries", { workspaceId: "gone", status: "failed" })).toEqual([]);
    await expect(broker.call("webhooks.retry", { workspaceId: "gone", deliveryId: e.id })).rejects.toMatchObject({ type: "DELIVERY_NOT_FAILED" });
  });

  it("shares the consumer between webhooks nodes: each event is delivered, by one node or the other", async () => {
    const a = await startWebhooksNode("wh-a");
    await startWebhooksNode("wh-b");
    await a.broker.call("webhooks.set", { workspaceId: "shared", url: receiver.url });
    const events = Array.from({ length: 120 }, (_, i) => msg("shared", `s${i % 12}`, `sh-${i}`));
    await appendAll(events);
    await receiver.until("all 120", () => arrivedOnce(events.map((e) => e.id)), 30000);
    const byNode = (n: string) => receiver.requests.filter((r) => String(r.headers["user-agent"]).includes(`node ${n}`)).length;
    expect(byNode("wh-a")).toBeGreaterThan(0);
    expect(byNode("wh-b")).toBeGreaterThan(0);
    // healthy receiver, no crash: no event went out twice
    expect(receiver.requests.length).toBe(events.length);
  });
});

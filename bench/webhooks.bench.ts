// Webhook delivery end to end (session node -> receiver) beside a bare HTTP POST loop to the same
// receiver, in the same run. The bench process plays the session node (appends to the JetStream
// event log as the sessions service does) and hosts the receiver; a real wafleet process with
// SERVICES=webhooks consumes, signs and delivers. Figures: throughput with a burst of events over
// many sessions, and sequential latency p50/p99 (append -> request at the receiver).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { makeEvent, type WafleetEvent } from "../lib/events";
import { JetStreamEventLog } from "../lib/events/log-jetstream";
import { RedisWebhookStore } from "../lib/webhooks/redis-store";
import { newSecret } from "../lib/webhooks/signing";
import { NodeProcess, tempDir } from "../test/helpers/processes";
import { startNats, startRedis } from "../test/helpers/servers";
import { figure, intArg, summarize, type BenchContext } from "./harness";

const now = () => performance.now();

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const burst = intArg(args, "events", 5000);
  const sequential = intArg(args, "sequential", 500);
  const sessions = intArg(args, "sessions", 64);
  const concurrency = intArg(args, "concurrency", 64);

  // the receiver: answers 200 at once and notes when each webhook-id arrived
  const arrivals = new Map<string, number>();
  let onArrival: (() => void) | undefined;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = String(req.headers["webhook-id"] ?? "");
      if (id && !arrivals.has(id)) arrivals.set(id, now());
      res.writeHead(200).end("ok");
      onArrival?.();
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const store = new RedisWebhookStore({ url: redis.url, prefix: "wafleet:" });
  const log = new JetStreamEventLog({ connection: { servers: nats.url } });
  const webhooks = new NodeProcess("webhooks", "dist/bin/wafleet.js", {
    NODE_ID: "bench-webhooks",
    SERVICES: "webhooks",
    TRANSPORTER: nats.url,
    REDIS_URL: redis.url,
    DATA_DIR: await tempDir("bench-webhooks"),
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_CONCURRENCY: String(concurrency),
    LOG_LEVEL: "warn",
  });
  try {
    await log.start();
    await store.setConfig({ workspaceId: "bench", url, events: ["*"], secret: newSecret(), headers: {}, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
    await webhooks.waitForOutput(/wafleet cluster node .* up|webhooks: delivering/, 30000).catch(() => undefined);
    const event = (i: number): WafleetEvent => makeEvent("wa.message.received", { workspaceId: "bench", sessionId: `s${i % sessions}`, node: "bench" }, { message: { id: `m${i}`, from: "15550001111@c.us", to: "15550002222@c.us", body: `message ${i}`, timestamp: 0, fromMe: false } as any });
    // the ids not arrived yet, shrinking as they come: one lookup per arrival, not a scan of all
    const waitFor = (ids: string[]) =>
      new Promise<void>((resolve) => {
        const pending = new Set(ids.filter((id) => !arrivals.has(id)));
        const check = () => {
          for (const id of pending) {
            if (!arrivals.has(id)) break;
            pending.delete(id);
          }
          if (!pending.size) {
            onArrival = undefined;
            resolve();
          }
        };
        onArrival = check;
        check();
      });

    // warm up: the consumer exists and connections are open
    const warm = Array.from({ length: 200 }, (_, i) => event(i));
    await Promise.all(warm.map((e) => log.append(e)));
    await waitFor(warm.map((e) => e.id));

    // throughput: a burst over many sessions
    const events = Array.from({ length: burst }, (_, i) => event(i));
    const t0 = now();
    await Promise.all(events.map((e) => log.append(e)));
    const appendRate = burst / ((now() - t0) / 1000);
    await waitFor(events.map((e) => e.id));
    const pipelineRate = burst / ((now() - t0) / 1000);

    // sequential latency: one event at a time
    const lat: number[] = [];
    for (let i = 0; i < sequential; i++) {
      const e = event(i);
      const started = now();
      await log.append(e);
      await waitFor([e.id]);
      lat.push(arrivals.get(e.id)! - started);
    }
    const pipeline = summarize(lat);

    // the baseline: bare POSTs of the same bodies to the same receiver, same concurrency
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const post = (e: WafleetEvent) =>
      new Promise<void>((resolve, reject) => {
        const body = JSON.stringify(e);
        const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), "webhook-id": `bare-${e.id}` } }, (res) => {
          res.resume();
          res.on("end", () => resolve());
        });
        req.on("error", reject);
        req.end(body);
      });
    const bare = Array.from({ length: burst }, (_, i) => event(i));
    let next = 0;
    const t1 = now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bare.length) await post(bare[next++]!);
      }),
    );
    const bareRate = burst / ((now() - t1) / 1000);
    const bareLat: number[] = [];
    for (let i = 0; i < sequential; i++) {
      const started = now();
      await post(event(i));
      bareLat.push(now() - started);
    }
    agent.destroy();
    const bareSeq = summarize(bareLat);

    const baseline = "bare HTTP POST loop to the same receiver";
    emit(figure("webhooks.throughput", "events/s", pipelineRate, { name: baseline, value: bareRate }, { events: burst, sessions, concurrency, appendsPerSecond: Math.round(appendRate), path: "JetStream append -> webhooks node -> signed POST" }));
    emit(figure("webhooks.latency.p50", "ms", pipeline.p50, { name: baseline, value: bareSeq.p50 }, { sequential }));
    emit(figure("webhooks.latency.p99", "ms", pipeline.p99, { name: baseline, value: bareSeq.p99 }, { sequential }));
  } finally {
    await webhooks.kill("SIGKILL");
    await log.close(200);
    await store.close();
    await nats.destroy();
    await redis.destroy();
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
  }
}

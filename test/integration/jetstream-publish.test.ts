// Our JetStream publish over core NATS against a real `nats-server -js`: the stream's acknowledgement
// read from one inbox subscription, a repeated message id acknowledged as a duplicate and stored
// once, the failures a caller must tell apart (no stream for the subject, the stream's refusal, no
// answer at all, a message over max_payload), the subscription outliving a restart of the server,
// and close() settling what still waits.
import { connect, headers, type NatsConnection } from "nats";
import { JetStreamPublisher } from "../../lib/events/jetstream-publish";
import { startNats, type NatsServer } from "../helpers/servers";

let nats: NatsServer;
const conns: NatsConnection[] = [];
const publishers: JetStreamPublisher[] = [];

async function conn(): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  conns.push(nc);
  return nc;
}

async function publisher(timeoutMs = 2000): Promise<JetStreamPublisher> {
  const p = new JetStreamPublisher(await conn(), { timeoutMs });
  publishers.push(p);
  return p;
}

async function stream(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  const jsm = await (await conn()).jetstreamManager();
  await jsm.streams.add({ name, subjects: [`${name}.>`], duplicate_window: 120e9, ...extra });
}

async function stored(name: string): Promise<number> {
  const jsm = await (await conn()).jetstreamManager();
  return (await jsm.streams.info(name)).state.messages;
}

const data = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  nats = await startNats();
});
afterEach(async () => {
  for (const p of publishers.splice(0)) p.close();
  for (const nc of conns.splice(0)) await nc.close();
});
afterAll(async () => {
  await nats?.destroy();
});

describe("JetStream publish over core NATS", () => {
  it("resolves with the stream's acknowledgement, and a repeated message id as a duplicate stored once", async () => {
    await stream("PUB_ACK");
    const p = await publisher();
    const first = await p.publish("PUB_ACK.a", data("one"), "id-1", headers());
    const again = await Promise.all([1, 2, 3].map(() => p.publish("PUB_ACK.a", data("one"), "id-1", headers())));
    const other = await p.publish("PUB_ACK.b", data("two"), "id-2", headers());
    expect(first).toEqual({ stream: "PUB_ACK", seq: 1, duplicate: false });
    expect(again).toEqual([1, 2, 3].map(() => ({ stream: "PUB_ACK", seq: 1, duplicate: true })));
    expect(other).toEqual({ stream: "PUB_ACK", seq: 2, duplicate: false });
    expect(await stored("PUB_ACK")).toBe(2);
    expect(p.pending).toBe(0);
  });

  it("fails with 503 when no stream takes the subject, and succeeds once one does", async () => {
    const p = await publisher();
    await expect(p.publish("PUB_LATE.a", data("x"), "late-1", headers())).rejects.toMatchObject({ code: "503" });
    await stream("PUB_LATE");
    await expect(p.publish("PUB_LATE.a", data("x"), "late-1", headers())).resolves.toMatchObject({ stream: "PUB_LATE", seq: 1 });
  });

  it("passes on the stream's refusal with its API error", async () => {
    await stream("PUB_SIZE", { max_msg_size: 1024 });
    const p = await publisher();
    await expect(p.publish("PUB_SIZE.a", data("x".repeat(4096)), "big-1", headers())).rejects.toMatchObject({ code: "400", api_error: { err_code: 10054 }, message: expect.stringMatching(/message size exceeds maximum/) });
    await expect(p.publish("PUB_SIZE.a", data("small"), "small-1", headers())).resolves.toMatchObject({ seq: 1 });
  });

  it("refuses a message over the server's max_payload at once", async () => {
    await stream("PUB_PAYLOAD");
    const p = await publisher();
    await expect(p.publish("PUB_PAYLOAD.a", new Uint8Array(2 * 1024 * 1024), "huge-1", headers())).rejects.toMatchObject({ code: "MAX_PAYLOAD_EXCEEDED" });
    expect(p.pending).toBe(0);
  });

  it("fails with TIMEOUT when nothing acknowledges, and sends the message id and the caller's headers", async () => {
    // a core subscriber that is not a stream: it takes the message and never answers
    const nc = await conn();
    const seen: Array<{ id?: string; extra?: string; reply?: string }> = [];
    nc.subscribe("PUB_SILENT.>", { callback: (_e, m) => seen.push({ id: m.headers?.get("Nats-Msg-Id"), extra: m.headers?.get("Wafleet-Replay"), reply: m.reply }) });
    await nc.flush();
    const p = await publisher(200);
    const h = headers();
    h.set("Wafleet-Replay", "2");
    await expect(p.publish("PUB_SILENT.a", data("x"), "silent-1", h)).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(seen).toEqual([{ id: "silent-1", extra: "2", reply: expect.stringMatching(/^_INBOX\..+\.0$/) }]);
    expect(p.pending).toBe(0);
  });

  it("keeps its subscription across a restart of NATS; what the restart lost fails with TIMEOUT, for the caller to retry", async () => {
    await stream("PUB_RESTART");
    const nc = await conn();
    const p = new JetStreamPublisher(nc, { timeoutMs: 500 });
    publishers.push(p);
    const reconnected = (async () => {
      for await (const s of nc.status()) if (s.type === "reconnect") return;
    })();
    await p.publish("PUB_RESTART.a", data("before"), "r-0", headers());
    await nats.stop();
    // nats.js drops what it buffered while disconnected when it dials again: no acknowledgement comes
    const during = p.publish("PUB_RESTART.a", data("during"), "r-1", headers());
    await nats.start();
    await expect(during).rejects.toMatchObject({ code: "TIMEOUT" });
    await reconnected;
    // the retry, same message id, through the same inbox subscription (nats.js subscribed it again)
    await expect(p.publish("PUB_RESTART.a", data("during"), "r-1", headers())).resolves.toEqual({ stream: "PUB_RESTART", seq: 2, duplicate: false });
    await expect(p.publish("PUB_RESTART.a", data("during"), "r-1", headers())).resolves.toEqual({ stream: "PUB_RESTART", seq: 2, duplicate: true });
    expect(await stored("PUB_RESTART")).toBe(2);
  });

  it("rejects what still waits when closed", async () => {
    const nc = await conn();
    nc.subscribe("PUB_CLOSE.>", { callback: () => undefined });
    await nc.flush();
    const p = await publisher(60_000);
    const waiting = p.publish("PUB_CLOSE.a", data("x"), "c-1", headers());
    p.close();
    await expect(waiting).rejects.toMatchObject({ code: "CLOSED" });
    await expect(p.publish("PUB_CLOSE.a", data("y"), "c-2", headers())).rejects.toMatchObject({ code: "CLOSED" });
    expect(p.pending).toBe(0);
  });
});

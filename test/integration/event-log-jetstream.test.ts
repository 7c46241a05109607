// The JetStream event log against a real `nats-server -js`: the stream's shape (file storage,
// per-workspace-and-type subjects, retention), appends deduplicated by event id, a durable
// consumer shared by two subscribers, server-scheduled redelivery, and appends made while NATS is
// down arriving once it is back; an event too large to carry refused at append without holding
// back the events around it.
import { connect } from "nats";
import { makeEvent, type WafleetEvent } from "../../lib/events";
import { JetStreamEventLog } from "../../lib/events/log-jetstream";
import type { LogMessage } from "../../lib/events/log";
import { startNats, type NatsServer } from "../helpers/servers";
import { waitFor } from "../helpers/processes";

let nats: NatsServer;
const logs: JetStreamEventLog[] = [];

function newLog(stream: string, extra: Partial<ConstructorParameters<typeof JetStreamEventLog>[0]> = {}): JetStreamEventLog {
  const log = new JetStreamEventLog({ connection: { servers: nats.url }, stream, subjectPrefix: `t.${stream}`, ackWaitMs: 1000, maxAgeMs: 3600_000, maxBytes: 64 * 1024 * 1024, ...extra });
  logs.push(log);
  return log;
}

const bodyOf = (m: LogMessage): string => (m.event as WafleetEvent<"wa.message.received">).message.body;
const ev = (w: string, s: string, body: string): WafleetEvent => makeEvent("wa.message.received", { workspaceId: w, sessionId: s, node: "n1" }, { message: { id: body, body } as any });

beforeAll(async () => {
  nats = await startNats();
});
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close(200);
});
afterAll(async () => {
  await nats?.destroy();
});

describe("JetStream event log", () => {
  it("keeps events in a file-backed stream, one subject per workspace and type, with a retention limit", async () => {
    const log = newLog("EV_SHAPE");
    const e = ev("acme", "main", "one");
    await log.append(e);
    await log.append(e); // a retried append: same id, stored once
    await log.append(makeEvent("wa.session.qr", { workspaceId: "acme", sessionId: "main", node: "n1" }, { qr: "q", expiresAt: 1 }));
    const nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info("EV_SHAPE", { subjects_filter: ">" });
    await nc.close();
    expect(info.config).toMatchObject({ subjects: ["t.EV_SHAPE.>"], storage: "file", retention: "limits", discard: "old", max_age: 3600_000 * 1e6, max_bytes: 64 * 1024 * 1024 });
    expect(info.state.messages).toBe(2);
    expect(info.state.subjects).toEqual({ "t.EV_SHAPE.acme.wa.message.received": 1, "t.EV_SHAPE.acme.wa.session.qr": 1 });
  });

  it("shares one durable consumer between subscribers and redelivers what was not acknowledged", async () => {
    const log = newLog("EV_SHARED");
    const seen: Array<{ who: string; m: LogMessage }> = [];
    const opts = { name: "hooks", maxDeliver: 5, backoffMs: [50, 100], concurrency: 4 };
    const handler = (who: string) => async (m: LogMessage) => {
      seen.push({ who, m });
      // the first delivery of "again" asks for a retry; everything else is done
      if (bodyOf(m) === "again" && m.attempt === 1) m.retry(50);
      else m.ack();
    };
    const a = await log.consume(opts, handler("a"));
    const other = newLog("EV_SHARED");
    const b = await other.consume(opts, handler("b"));
    const bodies = Array.from({ length: 40 }, (_, i) => `e${i}`).concat(["again"]);
    for (const body of bodies) await log.append(ev("acme", `s${body.length}`, body));
    await waitFor("every event acknowledged", async () => (await log.depth("hooks")) === 0 && seen.length >= bodies.length + 1, 15000);
    const acked = seen.filter(({ m }) => !(bodyOf(m) === "again" && m.attempt === 1)).map(({ m }) => bodyOf(m));
    expect(new Set(acked)).toEqual(new Set(bodies));
    expect(seen.find(({ m }) => bodyOf(m) === "again" && m.attempt === 2)).toBeDefined();
    expect(new Set(seen.map(({ who }) => who))).toEqual(new Set(["a", "b"]));
    await a.stop();
    await b.stop();
  });

  it("holds appends while NATS is down and stores them once it is back", async () => {
    const log = newLog("EV_OUTAGE");
    await log.append(ev("acme", "main", "before"));
    await nats.stop();
    const during = [ev("acme", "main", "d1"), ev("acme", "main", "d2"), ev("acme", "other", "d3")];
    const appended = Promise.all(during.map((e) => log.append(e)));
    await nats.start();
    await appended;
    const got: string[] = [];
    await log.consume({ name: "after", maxDeliver: 3, backoffMs: [100], concurrency: 8 }, async (m) => {
      got.push(bodyOf(m));
      m.ack();
    });
    await waitFor("all four", () => got.length >= 4, 15000);
    expect(got.sort()).toEqual(["before", "d1", "d2", "d3"]);
  });

  describe("an event it cannot carry", () => {
    const big = (w: string, bytes: number): WafleetEvent => ev(w, "main", "x".repeat(bytes));
    const stored = async (stream: string) => {
      const nc = await connect({ servers: nats.url });
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(stream);
      await nc.close();
      return info.state.messages;
    };

    it("refuses an oversized append with EVENT_TOO_LARGE and stores the events around it", async () => {
      const rejected: unknown[] = [];
      const log = newLog("EV_BIG", { maxEventBytes: 64 * 1024, onRejected: (r) => rejected.push(r) });
      await log.start();
      const before = log.append(ev("acme", "main", "before"));
      const oversized = log.append(big("acme", 2 * 1024 * 1024));
      const after = log.append(ev("acme", "main", "after"));
      await expect(oversized).rejects.toMatchObject({ type: "EVENT_TOO_LARGE", code: 413, data: { event: "wa.message.received", limit: 64 * 1024 } });
      await before;
      await after;
      expect(rejected).toEqual([expect.objectContaining({ event: "wa.message.received", workspaceId: "acme", sessionId: "main", limit: 64 * 1024, size: expect.any(Number) })]);
      expect((rejected[0] as { size: number }).size).toBeGreaterThan(2 * 1024 * 1024);
      const got: string[] = [];
      await log.consume({ name: "big", maxDeliver: 3, backoffMs: [100], concurrency: 4 }, async (m) => {
        got.push(bodyOf(m).slice(0, 10));
        m.ack();
      });
      await waitFor("both small events", () => got.length >= 2, 15000);
      expect(got.sort()).toEqual(["after", "before"]);
      expect(await stored("EV_BIG")).toBe(2);
    });

    it("refuses at append, without queueing, even while NATS is away", async () => {
      const log = newLog("EV_BIG_OUTAGE", { maxEventBytes: 64 * 1024 });
      await log.start();
      await nats.stop();
      try {
        const waiting = log.append(ev("acme", "main", "queued"));
        // the small one waits for NATS; the big one is settled without it
        await expect(log.append(big("acme", 100 * 1024))).rejects.toMatchObject({ type: "EVENT_TOO_LARGE" });
        await nats.start();
        await waiting;
      } finally {
        if (!nats.running) await nats.start();
      }
      expect(await stored("EV_BIG_OUTAGE")).toBe(1);
    });

    it("caps its limit at the server's max_payload, and refuses what the server refuses instead of retrying it", async () => {
      const rejected: unknown[] = [];
      // a configured limit above what this nats-server carries (1 MiB max_payload by default)
      const log = newLog("EV_PAYLOAD", { maxEventBytes: 4 * 1024 * 1024, onRejected: (r) => rejected.push(r) });
      // appended before the connection is up: only the server can say it is too large
      const first = log.append(ev("acme", "main", "first"));
      const tooBig = log.append(big("acme", 2 * 1024 * 1024));
      const others = Array.from({ length: 20 }, (_, i) => log.append(ev(`w${i % 4}`, "main", `e${i}`)));
      await expect(tooBig).rejects.toMatchObject({ type: "EVENT_TOO_LARGE" });
      await first;
      await Promise.all(others);
      expect(await stored("EV_PAYLOAD")).toBe(21);
      expect(log.maxEventBytes).toBeLessThan(1024 * 1024);
      expect(log.maxEventBytes).toBeGreaterThan(1000 * 1024);
      // once connected, the cap applies at append
      await expect(log.append(big("acme", 1024 * 1024))).rejects.toMatchObject({ type: "EVENT_TOO_LARGE" });
      expect(rejected).toHaveLength(2);
    });
  });

  describe("appends, each a JetStream publish of its own over core NATS", () => {
    const jsmOf = async () => {
      const nc = await connect({ servers: nats.url });
      return { nc, jsm: await nc.jetstreamManager() };
    };
    const storedIn = async (stream: string) => {
      const { nc, jsm } = await jsmOf();
      const info = await jsm.streams.info(stream);
      await nc.close();
      return info.state.messages;
    };

    it("acknowledges every append of a repeated event id and stores it once, replays apart", async () => {
      const log = newLog("EV_DUP");
      const e = ev("acme", "main", "once");
      await Promise.all([log.append(e), log.append(e), log.append(e), log.append(ev("acme", "main", "other")), log.append(e, { replay: 1 }), log.append(e, { replay: 1 })]);
      await log.append(e);
      expect(await storedIn("EV_DUP")).toBe(3);
    });

    it("retries an append no stream takes until the stream exists, then stores it once", async () => {
      const warnings: string[] = [];
      const log = newLog("EV_NOSTREAM", { logger: { info: () => undefined, warn: (m) => warnings.push(m) } });
      await log.start();
      const { nc, jsm } = await jsmOf();
      const config = (await jsm.streams.info("EV_NOSTREAM")).config;
      await jsm.streams.delete("EV_NOSTREAM");
      const appended = log.append(ev("acme", "main", "late"));
      await waitFor("the append failed for want of a stream", () => warnings.some((w) => /appends failed/.test(w)), 15000);
      await jsm.streams.add(config);
      await appended;
      await nc.close();
      expect(await storedIn("EV_NOSTREAM")).toBe(1);
    });

    it("refuses an event over the stream's own message size limit instead of retrying it", async () => {
      const { nc, jsm } = await jsmOf();
      // the stream exists already, with a max_msg_size the log does not set (nor change)
      await jsm.streams.add({ name: "EV_MSGSIZE", subjects: ["t.EV_MSGSIZE.>"], max_msg_size: 4096, max_age: 3600_000 * 1e6, max_bytes: 64 * 1024 * 1024, duplicate_window: 120e9 });
      await nc.close();
      const log = newLog("EV_MSGSIZE");
      const results = await Promise.allSettled([log.append(ev("acme", "main", "small")), log.append(ev("acme", "main", "y".repeat(8192))), log.append(ev("acme", "main", "small too"))]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ type: "EVENT_TOO_LARGE" });
      expect(await storedIn("EV_MSGSIZE")).toBe(2);
    });

    it("stores every append exactly once when NATS is killed and restarted in the middle of a window", async () => {
      const log = newLog("EV_KILLED");
      await log.start();
      const n = 3000;
      let acked = 0;
      let killed: Promise<void> | undefined;
      const appends = Array.from({ length: n }, (_, i) =>
        log.append(ev(`w${i % 7}`, "main", `k${i}`)).then(() => {
          // while the outbox still holds most of them: some windows stored, one in flight, more queued
          if (++acked === 300) killed = nats.stop();
        }),
      );
      await waitFor("NATS killed", () => killed !== undefined, 30000);
      await killed;
      await nats.start();
      await Promise.all(appends);
      expect(acked).toBe(n);
      expect(await storedIn("EV_KILLED")).toBe(n);
      const got = new Set<string>();
      let deliveries = 0;
      await log.consume({ name: "all", maxDeliver: 3, backoffMs: [100], concurrency: 64 }, async (m) => {
        deliveries++;
        got.add(bodyOf(m));
        m.ack();
      });
      await waitFor("every append delivered", () => got.size >= n, 30000);
      expect(deliveries).toBe(n);
    });

    it("settles on close the appends still waiting for an acknowledgement", async () => {
      const log = newLog("EV_CLOSE");
      await log.start();
      await nats.stop();
      try {
        const waiting = Array.from({ length: 5 }, (_, i) => log.append(ev("acme", "main", `c${i}`)));
        await log.close(50);
        const results = await Promise.allSettled(waiting);
        expect(results.map((r) => r.status)).toEqual(Array(5).fill("rejected"));
        expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/closed/);
      } finally {
        await nats.start();
      }
    });
  });
});

// The JetStream event log against a real `nats-server -js`: the stream's shape (file storage,
// per-workspace-and-type subjects, retention), appends deduplicated by event id, a durable
// consumer shared by two subscribers, server-scheduled redelivery, and appends made while NATS is
// down arriving once it is back.
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
});

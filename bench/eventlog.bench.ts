// `npm run bench eventlog [-- --appends 20000 --rounds 3]`: the CPU of this process per event-log
// append to a real `nats-server -js`, published in windows of 256 as JetStreamEventLog's pump does:
// wafleet's JetStream publish over core NATS (lib/events/jetstream-publish.ts) against nats.js's
// `js.publish` (what the log used before: a request each, with a timer and a `Cancelled` error per
// settled request), alternated round by round in the same run so a noisy neighbour hits both alike.
import { connect, headers as natsHeaders, nanos, StorageType, type NatsConnection } from "nats";
import { makeEvent } from "../lib/events";
import { JetStreamPublisher } from "../lib/events/jetstream-publish";
import { encodeEvent } from "../lib/events/log";
import { startNats } from "../test/helpers/servers";
import { CLK_TCK, cpuTicksOf, figure, intArg, type BenchContext } from "./harness";

const WINDOW = 256;
const STREAM = "BENCH_EVENTS";

type Publish = (subject: string, data: Uint8Array, msgID: string) => Promise<unknown>;

interface Round {
  cpuMsPerAppend: number;
  wallMsPerAppend: number;
  serverCpuMsPerAppend: number;
}

/** n appends of a message-shaped event, a window at a time, as the log's pump sends them. */
async function round(label: string, n: number, publish: Publish, serverPid: number): Promise<Round> {
  const events = Array.from({ length: n }, (_, i) => {
    const e = makeEvent("wa.message.received", { workspaceId: `w${i % 50}`, sessionId: "main", node: "bench" }, { message: { id: `${label}-${i}`, from: "15550000000@c.us", body: `hello ${i} `.repeat(8), timestamp: 1_700_000_000 + i } as any });
    return { subject: `bench.events.${e.workspaceId}.${e.event}`, data: encodeEvent(e), id: e.id };
  });
  const cpu = process.cpuUsage();
  const server = cpuTicksOf(serverPid);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i += WINDOW) {
    const results = await Promise.allSettled(events.slice(i, i + WINDOW).map((e) => publish(e.subject, e.data, e.id)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  const used = process.cpuUsage(cpu);
  return { cpuMsPerAppend: (used.user + used.system) / 1000 / n, wallMsPerAppend: wall / n, serverCpuMsPerAppend: ((cpuTicksOf(serverPid) - server) / CLK_TCK) * 1000 / n };
}

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const n = intArg(args, "appends", 20000);
  const rounds = intArg(args, "rounds", 3);
  const nats = await startNats();
  const conns: NatsConnection[] = [];
  // the event log's connection options (lib/events/log-jetstream.ts)
  const conn = async () => {
    const nc = await connect({ servers: nats.url, name: "bench-eventlog", noAsyncTraces: true });
    conns.push(nc);
    return nc;
  };
  try {
    const jsm = await (await conn()).jetstreamManager();
    await jsm.streams.add({ name: STREAM, subjects: ["bench.events.>"], storage: StorageType.File, duplicate_window: nanos(120_000), max_bytes: 1024 ** 3 });
    const js = (await conn()).jetstream();
    const before: Publish = (subject, data, msgID) => js.publish(subject, data, { msgID, headers: natsHeaders(), timeout: 2000 });
    const publisher = new JetStreamPublisher(await conn(), { timeoutMs: 2000 });
    const after: Publish = (subject, data, msgID) => publisher.publish(subject, data, msgID, natsHeaders());
    const pid = nats.child!.pid!;
    // warm-up of both (JIT, the stream's first blocks)
    await round("warm-a", 2000, before, pid);
    await round("warm-b", 2000, after, pid);
    const old: Round[] = [];
    const ours: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      old.push(await round(`old${r}`, n, before, pid));
      ours.push(await round(`new${r}`, n, after, pid));
    }
    publisher.close();
    const best = (xs: Round[], k: keyof Round) => Math.min(...xs.map((x) => x[k]));
    const baseline = "nats.js js.publish (a request per append: the event log before)";
    const extra = { appends: n, rounds, window: WINDOW };
    emit(figure("eventlog.append.cpu", "us", best(ours, "cpuMsPerAppend") * 1000, { name: baseline, value: best(old, "cpuMsPerAppend") * 1000 }, { ...extra, perRound: ours.map((x) => Math.round(x.cpuMsPerAppend * 1e4) / 10), baselinePerRound: old.map((x) => Math.round(x.cpuMsPerAppend * 1e4) / 10) }));
    emit(figure("eventlog.append.wall", "us", best(ours, "wallMsPerAppend") * 1000, { name: baseline, value: best(old, "wallMsPerAppend") * 1000 }, extra));
    emit(figure("eventlog.append.server.cpu", "us", best(ours, "serverCpuMsPerAppend") * 1000, { name: baseline, value: best(old, "serverCpuMsPerAppend") * 1000 }, { ...extra, note: "nats-server's CPU, 10 ms ticks" }));
  } finally {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await nats.destroy();
  }
}

// What a link costs a session node, piece by piece (issue 23, fifth round), each beside the way it
// was done before, measured in the same run, interleaved:
// - meta.json's creation (SessionStorage.create) against the path it took before: the workspace's
//   folder made again, the session's, then writeMeta (a read of the file that cannot exist yet and a
//   third mkdir before the temp file, fsync and rename). CPU of this process (its libuv threads
//   included) per create.
// - Moleculer over NATS with the coalescing transporter (lib/net/nats-transporter.ts) against
//   Moleculer's own NATS transporter: a "gateway" broker calls a "session node" broker whose action
//   makes a file-system call, broadcasts a status event back and answers (what POST /sessions
//   does), 64 calls in flight.
//   CPU of both brokers (this process) and of nats-server per call, and the session node's socket
//   writes per call.
//   npm run bench node-link -- --creates 2000 --calls 20000
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { CoalescingNatsTransporter } from "../lib/net/nats-transporter";
import { SessionStorage, type SessionMeta } from "../lib/sessions/storage";
import { startNats } from "../test/helpers/servers";
import { CLK_TCK, cpuTicksOf, figure, intArg, type BenchContext } from "./harness";

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const metaOf = (w: string, s: string): SessionMeta => {
  const now = new Date().toISOString();
  return { workspaceId: w, sessionId: s, accountId: null, desired: "running", metadata: {}, engine: "simulator", createdAt: now, updatedAt: now, fencingToken: 3 };
};

async function metaCreates(creates: number): Promise<{ now: number; before: number }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-bench-node-link-"));
  try {
    const storage = new SessionStorage(path.join(root, "sessions"));
    // what create() did before: mkdir -p of the workspace, mkdir of the session, writeMeta
    const before = async (m: SessionMeta) => {
      const dir = storage.sessionDir(m.workspaceId, m.sessionId);
      await fs.mkdir(path.dirname(dir), { recursive: true });
      await fs.mkdir(dir);
      await storage.writeMeta(m);
    };
    const now = (m: SessionMeta) => storage.create(m);
    const cost = { now: 0, before: 0 };
    // rounds of 5 sessions a workspace (the scale run's), four sessions created at a time
    const round = async (kind: "now" | "before", r: number, n: number) => {
      const t = cpuUs();
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < n) {
            const k = next++;
            const m = metaOf(`${kind}${r}w${Math.floor(k / 5)}`, `s${k % 5}`);
            await (kind === "now" ? now(m) : before(m));
          }
        }),
      );
      cost[kind] += cpuUs() - t;
    };
    await round("now", -1, 200);
    await round("before", -1, 200);
    const per = Math.max(100, Math.floor(creates / 4));
    for (let r = 0; r < 4; r++) {
      await round(r % 2 ? "now" : "before", r, per);
      await round(r % 2 ? "before" : "now", r, per);
    }
    return { now: cost.now / (per * 4), before: cost.before / (per * 4) };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

async function natsCalls(natsUrl: string, natsPid: number, calls: number, coalescing: boolean): Promise<{ cpuUs: number; natsUs: number; writes: number }> {
  const transporter = () => (coalescing ? new CoalescingNatsTransporter({ servers: [natsUrl.replace("nats://", "")] }) : { type: "NATS", options: { servers: [natsUrl.replace("nats://", "")] } });
  const tag = coalescing ? "c" : "p";
  const gateway = new ServiceBroker({ namespace: `bench-${tag}`, nodeID: `gw-${tag}`, transporter: transporter() as any, logger: false });
  const node = new ServiceBroker({ namespace: `bench-${tag}`, nodeID: `n-${tag}`, transporter: transporter() as any, logger: false });
  let events = 0;
  gateway.createService({ name: "api", events: { "wa.**"() { events++; } } } as ServiceSchema);
  node.createService({
    name: "sessions",
    actions: {
      async create(ctx: any) {
        // as a session's create: a file-system call, then its STARTING event, then the answer
        await fs.access(os.tmpdir());
        void ctx.broker.broadcast("wa.session.status", { workspaceId: ctx.params.w, sessionId: "s", status: "STARTING" });
        return { workspaceId: ctx.params.w, status: "STARTING" };
      },
    },
  } as ServiceSchema);
  await Promise.all([gateway.start(), node.start()]);
  try {
    await gateway.waitForServices(["sessions"]);
    await node.waitForServices(["api"]);
    // the session node's socket writes: nats.js's transport send, counted
    const transport = (node.transit!.tx as any).client.protocol.transport;
    const send = transport.send.bind(transport);
    let writes = 0;
    transport.send = (frame: Uint8Array) => {
      writes++;
      return send(frame);
    };
    const run = async (n: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < n) await gateway.call("sessions.create", { w: `w${next++}` });
        }),
      );
    };
    await run(2000);
    const t = cpuUs();
    const ticks = cpuTicksOf(natsPid);
    const w0 = writes;
    await run(calls);
    if (events === 0) throw new Error("no event reached the gateway");
    return { cpuUs: (cpuUs() - t) / calls, natsUs: ((cpuTicksOf(natsPid) - ticks) / CLK_TCK) * 1e6 / calls, writes: (writes - w0) / calls };
  } finally {
    await Promise.all([gateway.stop(), node.stop()]);
  }
}

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const creates = intArg(args, "creates", 2000);
  const calls = intArg(args, "calls", 20000);

  const meta = await metaCreates(creates);
  emit(figure("nodelink.meta.create.cpu", "us", meta.now, { name: "mkdir -p workspace + mkdir session + writeMeta (create before), same run", value: meta.before }, { creates: Math.max(100, Math.floor(creates / 4)) * 4 }));

  const nats = await startNats({ jetstream: false });
  try {
    const pid = nats.child!.pid!;
    const sum = { p: { cpuUs: 0, natsUs: 0, writes: 0 }, c: { cpuUs: 0, natsUs: 0, writes: 0 } };
    for (const coalescing of [false, true, true, false]) {
      const r = await natsCalls(nats.url, pid, calls, coalescing);
      const s = sum[coalescing ? "c" : "p"];
      s.cpuUs += r.cpuUs / 2;
      s.natsUs += r.natsUs / 2;
      s.writes += r.writes / 2;
    }
    const base = "Moleculer's NATS transporter, same run";
    emit(figure("nodelink.nats.call.cpu", "us", sum.c.cpuUs, { name: `${base} (both brokers' CPU per call + event)`, value: sum.p.cpuUs }, { calls, inflight: 64 }));
    emit(figure("nodelink.nats.call.server.cpu", "us", sum.c.natsUs, { name: `${base} (nats-server CPU per call + event)`, value: sum.p.natsUs }, { calls }));
    emit(figure("nodelink.nats.call.node.writes", "writes", sum.c.writes, { name: `${base} (session node's socket writes per call + event)`, value: sum.p.writes }, { calls }));
  } finally {
    await nats.destroy();
  }
}

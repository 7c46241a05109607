// The WhatsApp surface's lists and capability calls. (1) GET .../chats and .../chats/:c/messages
// (p50/p99, first and deep pages through cursors) on an account with 5,000 chats and 100,000
// messages (simulator), against GET .../sessions/:s on the same node in the same run. (2) A
// capability call (GET .../chats) through the cluster (gateway -> NATS -> the owning session node
// -> the simulated network) against the same call on an embedded node, on the same account data.
import { request } from "../test/helpers/http";
import { waitFor } from "../test/helpers/processes";
import { ADMIN_KEY, TestCluster } from "../test/helpers/cluster";
import { startSimNetwork } from "../lib/simulator/network";
import { figure, intArg, type BenchContext } from "./harness";
import { linkSession, startEmbeddedNode, timed as timedCalls, type EmbeddedNode } from "./support/embedded";

const KEY = "bench-whatsapp-admin-key-0123456789";

const embeddedNode = (simUrl: string, key = KEY) => startEmbeddedNode(simUrl, key, { name: "bench-whatsapp" });
const link = linkSession;

/** Latency of `one`, which must answer 200. */
const timed = (calls: number, one: (i: number) => Promise<{ status: number }>) =>
  timedCalls(calls, async (i) => {
    const r = await one(i);
    if (r.status !== 200) throw new Error(`call ${i} answered ${r.status}`);
  });

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const calls = intArg(args, "calls", 300);
  const chats = intArg(args, "chats", 5000);
  const perChat = intArg(args, "per-chat", 20);

  // --- (1) lists on a big account ---
  const net = await startSimNetwork();
  const node = await embeddedNode(net.url);
  try {
    const ME = "15550009999";
    await link(node.api, KEY, net.url, "acme", "big", ME);
    // the account's history straight into the network's model (as WhatsApp's servers hold it)
    const now = Math.floor(Date.now() / 1000) - chats * perChat;
    let t = now;
    for (let c = 0; c < chats; c++) {
      const peer = `${4915100000000 + c}@c.us`;
      for (let m = 0; m < perChat; m++) {
        const fromMe = m % 3 === 0;
        net.network.accounts.record(ME, { id: `B${c}-${m}`, chatId: peer, from: fromMe ? `${ME}@c.us` : peer, to: fromMe ? peer : `${ME}@c.us`, fromMe, body: `message ${m} of chat ${c}`, timestamp: t++, type: "text" });
      }
    }
    const S = "/api/v1/workspaces/acme/sessions/big";
    const get = (p: string) => request(node.api, "GET", `${S}${p}`, { key: KEY });
    // cursors deep into the chat list, to page from as well as from the top
    const deep: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 40; i++) {
      const r: any = await get(`/chats?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      cursor = r.json.nextCursor;
      if (!cursor) break;
      deep.push(cursor);
    }
    const chatOf = (i: number) => `${4915100000000 + ((i * 7919) % chats)}@c.us`;
    for (let i = 0; i < 30; i++) await get(`/chats?limit=50`); // warm up
    const base = await timed(calls, () => get(""));
    const first = await timed(calls, () => get("/chats?limit=50"));
    const paged = await timed(calls, (i) => get(`/chats?limit=50&cursor=${encodeURIComponent(deep[i % deep.length]!)}`));
    const msgs = await timed(calls, (i) => get(`/chats/${chatOf(i)}/messages?limit=50`));
    const baseline = (v: number) => ({ name: "GET /sessions/:s, same node and run", value: v });
    const extra = { chats, messages: chats * perChat, calls };
    emit(figure("whatsapp.chats.first-page.p50", "ms", first.p50, baseline(base.p50), extra));
    emit(figure("whatsapp.chats.first-page.p99", "ms", first.p99, baseline(base.p99), extra));
    emit(figure("whatsapp.chats.deep-page.p50", "ms", paged.p50, baseline(base.p50), extra));
    emit(figure("whatsapp.chats.deep-page.p99", "ms", paged.p99, baseline(base.p99), extra));
    emit(figure("whatsapp.messages.p50", "ms", msgs.p50, baseline(base.p50), extra));
    emit(figure("whatsapp.messages.p99", "ms", msgs.p99, baseline(base.p99), extra));
  } finally {
    await node.proc.kill("SIGKILL");
    await net.close();
  }

  // --- (2) a capability call through the cluster vs embedded, on the same account data ---
  const cluster = await new TestCluster().start(["n1"]);
  let embedded: EmbeddedNode | undefined;
  try {
    await cluster.createLinked("acme", "main", "15550001001");
    embedded = await embeddedNode(cluster.sim.url, ADMIN_KEY);
    await link(embedded.api, ADMIN_KEY, cluster.sim.url, "acme", "main", "15550001002");
    for (let c = 0; c < 60; c++) {
      for (const to of ["15550001001", "15550001002"]) await request(cluster.sim.url, "POST", `/sim/contacts/${4915100000000 + c}/send`, { body: { to, body: `hello ${c}` } });
    }
    const path = "/api/v1/workspaces/acme/sessions/main/chats?limit=50";
    const viaCluster = () => request(cluster.api, "GET", path, { key: ADMIN_KEY });
    const viaEmbedded = () => request(embedded!.api, "GET", path, { key: ADMIN_KEY });
    await waitFor("both accounts' chats", async () => (await viaCluster()).json?.items?.length === 50 && (await viaEmbedded()).json?.items?.length === 50, 30000);
    for (let i = 0; i < 30; i++) await Promise.all([viaCluster(), viaEmbedded()]);
    // interleaved, to spread machine noise over both
    const e1 = await timed(calls / 2, viaEmbedded);
    const c1 = await timed(calls / 2, viaCluster);
    const e2 = await timed(calls / 2, viaEmbedded);
    const c2 = await timed(calls / 2, viaCluster);
    const emb = { name: "the same call on an embedded node", value: 0 };
    emit(figure("whatsapp.capability-call.cluster.p50", "ms", (c1.p50 + c2.p50) / 2, { ...emb, value: (e1.p50 + e2.p50) / 2 }, { call: "GET .../chats?limit=50", calls }));
    emit(figure("whatsapp.capability-call.cluster.p99", "ms", (c1.p99 + c2.p99) / 2, { ...emb, value: (e1.p99 + e2.p99) / 2 }, { call: "GET .../chats?limit=50", calls }));
  } finally {
    await embedded?.proc.kill("SIGKILL");
    await cluster.stop();
  }
}

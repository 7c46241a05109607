// The fake WhatsApp server (lib/simulator/baileys) against the real Baileys client, with no engine in
// between: Noise handshake under the network's root, QR pairing with the ADV secret, the 515 restart,
// login with stored credentials, and a conflict on a second login. The network's stats are the oracle.
import { once } from "node:events";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";
import { waitFor } from "../helpers/processes";
import { verify } from "../../lib/simulator/baileys/noise";
import { gatewayChain } from "../../lib/simulator/baileys/inspect";

 
const baileys = require("baileys");

/** Baileys' logger interface; BAILEYS_LOG=1 prints everything while debugging. */
const logger: any = {
  level: process.env.BAILEYS_LOG ? "trace" : "silent",
  child: () => logger,
  ...Object.fromEntries(["trace", "debug", "info", "warn", "error"].map((l) => [l, (...a: unknown[]) => process.env.BAILEYS_LOG && console.log(l, ...a.map((x) => (typeof x === "object" ? JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? String(v) : v))?.slice(0, 600) : x)))])),
};

const ALICE = "15550001111";
let sim: TestSim;
let root: Buffer;
let wsUrl: string;

beforeAll(async () => {
  sim = await startTestSim();
  const info = (await sim.get("/sim/baileys")).json as { url: string; root: string };
  root = Buffer.from(info.root, "base64");
  wsUrl = info.url.replace(/^http/, "ws");
  baileys.WA_CERT_DETAILS.PUBLIC_KEY = root;
});

afterAll(async () => {
  await sim?.close();
});

/** In-memory auth state: creds plus a key store, shared across sockets like a folder would be. */
function memoryAuth() {
  const creds = baileys.initAuthCreds();
  const data: Record<string, Record<string, unknown>> = {};
  const keys = {
    get: async (type: string, ids: string[]) => Object.fromEntries(ids.map((id) => [id, data[type]?.[id]]).filter(([, v]) => v !== undefined)),
    set: async (update: Record<string, Record<string, unknown>>) => {
      for (const [type, entries] of Object.entries(update)) {
        data[type] ??= {};
        for (const [id, v] of Object.entries(entries)) {
          if (v === null || v === undefined) delete data[type][id];
          else data[type][id] = v;
        }
      }
    },
  };
  return { creds, keys };
}

const sockets: any[] = [];
function connect(auth: ReturnType<typeof memoryAuth>) {
  const sock = baileys.makeWASocket({
    waWebSocketUrl: wsUrl,
    version: [2, 3000, 1035194821],
    auth,
    logger,
    printQRInTerminal: false,
    markOnlineOnConnect: false,
    shouldSyncHistoryMessage: () => false,
    fireInitQueries: false,
    generateHighQualityLinkPreview: false,
    connectTimeoutMs: 10000,
  });
  sock.ev.on("creds.update", (u: object) => Object.assign(auth.creds, u));
  sockets.push(sock);
  const updates: any[] = [];
  sock.ev.on("connection.update", (u: any) => updates.push(u));
  return { sock, updates };
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.end(undefined);
});

const closedWith = (updates: any[]) => updates.find((u) => u.connection === "close")?.lastDisconnect?.error?.output?.statusCode;

async function link(auth: ReturnType<typeof memoryAuth>) {
  const first = connect(auth);
  await waitFor("a QR", () => first.updates.some((u) => u.qr));
  const qr = first.updates.find((u) => u.qr).qr as string;
  const res = await sim.post("/sim/link", { qr, phone: ALICE });
  expect(res.status).toBe(200);
  await waitFor("the restart after pairing", () => closedWith(first.updates) !== undefined);
  expect(closedWith(first.updates)).toBe(baileys.DisconnectReason.restartRequired);
  expect(auth.creds.me.id).toMatch(new RegExp(`^${ALICE}:\\d+@s.whatsapp.net$`));
  const second = connect(auth);
  await waitFor("open after pairing", () => second.updates.some((u) => u.connection === "open"));
  return second;
}

it("signs its certificate chain for real under the network's root", async () => {
  // a strict verifier (libsignal's) checks what Baileys' lenient Curve.verify would let through

  const chain = gatewayChain(sim.network);
  expect(verify(root, chain.intermediate.details, chain.intermediate.signature)).toBe(true);
  expect(verify(chain.intermediateKey, chain.leaf.details, chain.leaf.signature)).toBe(true);
  expect(verify(root, chain.leaf.details, chain.leaf.signature)).toBe(false);
});

it("pairs by QR, restarts (515), logs in, and comes back from its credentials without a QR", async () => {
  await sim.post("/sim/reset");
  const auth = memoryAuth();
  const open = await link(auth);
  expect((await sim.get("/sim/stats")).json).toMatchObject({ devices: 1, linkedConnections: 1, conflicts: 0 });
  open.sock.end(undefined);
  await waitFor("the network to see it go", async () => (await sim.get("/sim/stats")).json.linkedConnections === 0);

  const again = connect(auth);
  await waitFor("open from stored credentials", () => again.updates.some((u) => u.connection === "open"));
  expect(again.updates.some((u) => u.qr)).toBe(false);
  expect((await sim.get("/sim/stats")).json).toMatchObject({ devices: 1, linkedConnections: 1, conflicts: 0 });
});

it("refuses a login whose device the phone unlinked (401: logged out)", async () => {
  await sim.post("/sim/reset");
  const auth = memoryAuth();
  const open = await link(auth);
  await sim.post("/sim/unlink", { phone: ALICE });
  await waitFor("logged out", () => closedWith(open.updates) !== undefined);
  expect(closedWith(open.updates)).toBe(baileys.DisconnectReason.loggedOut);
  const again = connect(auth);
  await waitFor("refused", () => closedWith(again.updates) !== undefined);
  expect(closedWith(again.updates)).toBe(baileys.DisconnectReason.loggedOut);
});

it("a second login of the same device is a conflict: the older connection is replaced", async () => {
  await sim.post("/sim/reset");
  const auth = memoryAuth();
  const first = await link(auth);
  const second = connect(auth);
  await waitFor("second open", () => second.updates.some((u) => u.connection === "open"));
  await waitFor("first replaced", () => closedWith(first.updates) !== undefined);
  expect(closedWith(first.updates)).toBe(baileys.DisconnectReason.connectionReplaced);
  expect((await sim.get("/sim/stats")).json).toMatchObject({ conflicts: 1, linkedConnections: 1 });
  void once;
});

it("sends through Signal sessions with the simulated contact (delivered receipt) and receives the contact's message", async () => {
  await sim.post("/sim/reset");
  const CONTACT = "4915112345678";
  const auth = memoryAuth();
  const { sock } = await link(auth);
  const statuses: number[] = [];
  sock.ev.on("messages.update", (ups: any[]) => {
    for (const u of ups) if (u.update?.status) statuses.push(u.update.status);
  });
  // a receipt that arrives while Baileys buffers events is folded into the message's own upsert
  sock.ev.on("messages.upsert", ({ messages }: any) => {
    for (const m of messages) if (m.key.fromMe && m.status) statuses.push(m.status);
  });
  const sent = await sock.sendMessage(`${CONTACT}@s.whatsapp.net`, { text: "hello over noise" });
  await waitFor("the delivery receipt", () => statuses.includes(baileys.proto.WebMessageInfo.Status.DELIVERY_ACK));
  const inbox = (await sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages as any[];
  expect(inbox).toEqual([expect.objectContaining({ id: sent.key.id, body: "hello over noise" })]);
  // the contact read its inbox: a read receipt follows
  await waitFor(`the read receipt (${statuses})`, () => statuses.includes(baileys.proto.WebMessageInfo.Status.READ), 5000);

  const received: any[] = [];
  sock.ev.on("messages.upsert", ({ messages }: any) => received.push(...messages));
  await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "hi from the contact" });
  await waitFor("the contact's message", () => received.find((m) => m.message?.conversation === "hi from the contact"));
  await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ALICE, body: "and again" });
  await waitFor("a second message on the same session", () => received.find((m) => m.message?.conversation === "and again"));
  await waitFor("both acked to the network", async () => (await sim.get("/sim/stats")).json.queued === 0);
  expect((await sim.get("/sim/stats")).json).toMatchObject({ sent: 1, delivered: 3, duplicates: 0, conflicts: 0 });
});

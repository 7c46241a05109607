// The outbox at campaign scale on an embedded node, against the simulated network as the oracle:
// 2,000 items over 20 sessions drain at each number's pace as the contacts see it (the network's
// acceptance times in its ledger), and every item reaches its contact exactly once. The bounds come
// from the policy: no two sends of a number closer than 60 s / perMinute; on average no slower than
// the gap plus the whole jitter and the typing time (the machine's own cost per send has to fit in
// the jitter's expected half).
import { promises as fs } from "node:fs";
import { request } from "../helpers/http";
import { mapLimit } from "../helpers/cluster";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";

jest.setTimeout(300_000);

const KEY = "outbox-pace-admin-key-0123456789";
const SESSIONS = 20;
const PER_SESSION = 100;
const POLICY = { perMinute: 120, jitterMs: 600, typing: true, typingMs: 50 };
const GAP = 60_000 / POLICY.perMinute;
const phoneOf = (s: number) => `1555300${String(s).padStart(4, "0")}`;
const contact = (i: number) => `1555400${String(i).padStart(4, "0")}`;
const OB = (s: number) => `/workspaces/pace/sessions/s${s}/outbox`;

let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let node: NodeProcess;
let api: string;

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers });

beforeAll(async () => {
  dataDir = await tempDir("outbox-pace");
  sim = await startSimProcess();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = new NodeProcess("wafleet", "dist/bin/wafleet.js", { DATA_DIR: dataDir, API_PORT: String(port), API_HOST: "127.0.0.1", API_KEYS: KEY, WA_SIM_URL: sim.url, LAUNCH_STAGGER_MS: "0", API_RATE_LIMIT: "0" });
  await node.waitForOutput(/API listening on/, 30000);
  await mapLimit(Array.from({ length: SESSIONS }, (_, s) => s), 4, async (s) => {
    expect((await call("POST", "/workspaces/pace/sessions", { sessionId: `s${s}` })).status).toBe(201);
    const qr = await waitFor("a QR", async () => {
      const r = await call("GET", `/workspaces/pace/sessions/s${s}/qr`, undefined, { accept: "application/json" });
      return r.status === 200 ? (r.json.qr as string) : undefined;
    }, 30000, 100);
    expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone: phoneOf(s) } })).status).toBe(200);
    await waitFor("WORKING", async () => (await call("GET", `/workspaces/pace/sessions/s${s}`)).json.status === "WORKING", 30000, 100);
  });
}, 240_000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await fs.rm(dataDir, { recursive: true, force: true });
});

it("drains 2,000 items over 20 sessions at each number's pace, every item exactly once at its contact", async () => {
  for (let s = 0; s < SESSIONS; s++) {
    expect((await call("PUT", `${OB(s)}/policy`, POLICY)).status).toBe(200);
    const items = Array.from({ length: PER_SESSION }, (_, i) => ({ to: contact(i), text: `s${s}-item-${i}`, key: `s${s}-${i}` }));
    const r = await call("POST", OB(s), { items });
    expect(r.status).toBe(202);
    expect(r.json.queued).toBe(PER_SESSION);
  }

  await waitFor(
    "every item sent",
    async () => {
      for (let s = 0; s < SESSIONS; s++) if ((await call("GET", `${OB(s)}?limit=1`)).json.counts.sent !== PER_SESSION) return false;
      return true;
    },
    240_000,
    1000,
  );

  const outgoing: Array<{ id: string; fromPhone: string; to: string; body: string; deliveries: number; acceptedAt: number }> = (await request(sim.url, "GET", "/sim/ledger")).json.outgoing;
  expect(outgoing.length).toBe(SESSIONS * PER_SESSION);
  for (let s = 0; s < SESSIONS; s++) {
    const sent = outgoing.filter((m) => m.fromPhone === phoneOf(s)).sort((a, b) => a.acceptedAt - b.acceptedAt);
    // exactly once: every item's text once, delivered once, to its contact, under its item's message id
    expect(sent.map((m) => m.body).sort()).toEqual(Array.from({ length: PER_SESSION }, (_, i) => `s${s}-item-${i}`).sort());
    for (const m of sent) expect({ body: m.body, deliveries: m.deliveries, to: m.to }).toEqual({ body: m.body, deliveries: 1, to: `${contact(Number(m.body.split("-").pop()))}@c.us` });
    const items = (await call("GET", `${OB(s)}?state=sent&limit=500`)).json.items as Array<{ messageId: string }>;
    expect(new Set(items.map((i) => i.messageId))).toEqual(new Set(sent.map((m) => m.id)));
    // the pace at the contacts
    const gaps = sent.slice(1).map((m, k) => m.acceptedAt - sent[k]!.acceptedAt);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(GAP);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeLessThanOrEqual(GAP + POLICY.jitterMs + POLICY.typingMs);
  }
  expect((await request(sim.url, "GET", "/sim/stats")).json).toMatchObject({ duplicates: 0, conflicts: 0 });
});

// The outbox in the default (embedded) mode, against the simulated network as the oracle: a batch
// with bad items queues the good ones; the drain keeps the policy's pace; a kill -9 mid-drain loses
// nothing and sends nothing twice; cancel and pause take effect before the next send; quiet hours
// hold; the ban-risk guard pauses on refusals, on sends that reach no device and on a restriction;
// the outbox's events reach the workspace's webhook.
import { promises as fs } from "node:fs";
import { openEventStream, request } from "../helpers/http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const KEY = "outbox-embedded-admin-key-0123456789";
const ME = "15550007771";
const contact = (i: number) => `1555100${String(i).padStart(4, "0")}`;

let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let receiver: WebhookReceiver;
let node: NodeProcess | undefined;
let port: number;
let api: string;

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers });
const OB = "/workspaces/acme/sessions/main/outbox";

async function startNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("wafleet", "dist/bin/wafleet.js", { DATA_DIR: dataDir, API_PORT: String(port), API_HOST: "127.0.0.1", API_KEYS: KEY, WA_SIM_URL: sim.url, WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "50", WEBHOOK_BACKOFF_MAX_MS: "200" });
  await proc.waitForOutput(/API listening on/, 30000);
  return proc;
}

/** Outgoing messages of the account as the network recorded them (each with its deliveries). */
async function ledger(): Promise<Array<{ id: string; to: string; body: string; deliveries: number }>> {
  return (await request(sim.url, "GET", "/sim/ledger")).json.outgoing.filter((m: any) => m.fromPhone === ME);
}

async function allItems(): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const r: any = await call("GET", `${OB}?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status).toBe(200);
    out.push(...r.json.items);
    cursor = r.json.nextCursor;
  } while (cursor);
  return out;
}

const working = () => waitFor("WORKING", async () => (await call("GET", "/workspaces/acme/sessions/main")).json.status === "WORKING", 30000, 100);

beforeAll(async () => {
  dataDir = await tempDir("outbox-embedded");
  sim = await startSimProcess();
  receiver = await new WebhookReceiver().start();
  port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = await startNode();
  expect((await call("POST", "/workspaces/acme/sessions", { sessionId: "main" })).status).toBe(201);
  const qr = await waitFor("the QR", async () => {
    const r = await call("GET", "/workspaces/acme/sessions/main/qr", undefined, { accept: "application/json" });
    return r.status === 200 ? (r.json.qr as string) : undefined;
  }, 30000, 100);
  expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone: ME } })).status).toBe(200);
  await working();
}, 90000);

afterAll(async () => {
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  await receiver?.down();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("outbox (embedded)", () => {
  it("keeps the policy in meta.json and refuses a bad one with its field named", async () => {
    expect((await call("GET", `${OB}/policy`)).json).toMatchObject({ perMinute: 6, typing: true });
    const bad = await call("PUT", `${OB}/policy`, { perMinute: 0, jitterMs: 0, typing: false });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("VALIDATION_ERROR");
    const zone = await call("PUT", `${OB}/policy`, { perMinute: 60, jitterMs: 0, typing: false, quietHours: { from: "22:00", to: "07:00", timeZone: "Mars/Olympus" } });
    expect(zone.status).toBe(400);
    const ok = await call("PUT", `${OB}/policy`, { perMinute: 120, jitterMs: 200, typing: true, typingMs: 50 });
    expect(ok.status).toBe(200);
    const meta = JSON.parse(await fs.readFile(`${dataDir}/sessions/workspace_acme/session_main/meta.json`, "utf8"));
    expect(meta.outboxPolicy).toMatchObject({ perMinute: 120, jitterMs: 200, typing: true, typingMs: 50, dailyCap: null });
  });

  it("queues a batch's good items and answers each bad one; a kill -9 mid-drain sends every item exactly once, at the pace", async () => {
    const items: any[] = Array.from({ length: 14 }, (_, i) => ({ to: contact(i), text: `campaign-${i}`, key: `c1-${i}` }));
    items.splice(3, 0, { to: "not-a-number", text: "bad" }, { to: contact(99), text: "x", caption: "no media" }, { to: contact(98), media: { mimetype: "image/png", data: "iVBORw0KGgo=" } }, "text");
    const r = await call("POST", OB, { items });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ queued: 14, rejected: 4 });
    expect(r.json.items.slice(3, 7).map((x: any) => x.error?.code)).toEqual(["VALIDATION_ERROR", "VALIDATION_ERROR", "VALIDATION_ERROR", "VALIDATION_ERROR"]);
    expect(r.json.items[3].error.details[0].field).toBe("to");
    // the same keys again: nothing new is queued
    const again = await call("POST", OB, { items: items.filter((x) => typeof x === "object" && x.key) });
    expect(again.json.items.every((x: any) => x.duplicate === true)).toBe(true);
    expect(new Set(again.json.items.map((x: any) => x.id))).toEqual(new Set(r.json.items.filter((x: any) => x.id).map((x: any) => x.id)));

    await waitFor("3 sent", async () => (await ledger()).filter((m) => m.body.startsWith("campaign-")).length >= 3, 30000, 20);
    await node!.kill("SIGKILL");
    node = await startNode();
    await working();
    await waitFor("all 14 sent", async () => (await allItems()).filter((i) => i.state === "sent").length === 14, 60000, 100);

    const sent = (await ledger()).filter((m) => m.body.startsWith("campaign-"));
    const bodies = sent.map((m) => m.body).sort();
    expect(bodies).toEqual(Array.from({ length: 14 }, (_, i) => `campaign-${i}`).sort());
    for (const m of sent) expect(m.deliveries).toBe(1);
    const list = (await allItems()).filter((i) => i.state === "sent").sort((a, b) => a.sentAt - b.sentAt);
    for (const i of list) expect(sent.map((m) => m.id)).toContain(i.messageId);
    // 120 a minute: never less than 500 ms between two sends (kill and restart included)
    for (let k = 1; k < list.length; k++) expect(list[k].sentAt - list[k - 1].sentAt).toBeGreaterThanOrEqual(500);
  }, 120000);

  it("cancel and pause take effect before the next send", async () => {
    await call("PUT", `${OB}/policy`, { perMinute: 30, jitterMs: 0, typing: false });
    const r = await call("POST", OB, { items: [0, 1, 2, 3].map((i) => ({ to: contact(200 + i), text: `pause-${i}` })) });
    const ids = r.json.items.map((x: any) => x.id);
    const cancel = await call("DELETE", `${OB}/${ids[2]}`);
    expect(cancel.status).toBe(200);
    expect(cancel.json.state).toBe("cancelled");
    await waitFor("the first sent", async () => (await call("GET", `${OB}/${ids[0]}`)).json.state === "sent", 30000, 20);
    expect((await call("POST", `${OB}/pause`)).status).toBe(200);
    const before = (await ledger()).filter((m) => m.body.startsWith("pause-")).length;
    // a pace slot is 2 s: wait two of them and nothing more goes out
    await new Promise((res) => setTimeout(res, 4500));
    expect((await ledger()).filter((m) => m.body.startsWith("pause-")).length).toBe(before);
    expect((await call("DELETE", `${OB}/${ids[0]}`)).json.error.code).toBe("OUTBOX_ITEM_NOT_QUEUED");
    expect((await call("GET", `${OB}`)).json.paused).toMatchObject({ reason: "requested" });
    expect((await call("POST", `${OB}/resume`)).status).toBe(200);
    await waitFor("the rest sent", async () => (await call("GET", `${OB}/${ids[3]}`)).json.state === "sent", 30000, 50);
    const bodies = (await ledger()).filter((m) => m.body.startsWith("pause-")).map((m) => m.body).sort();
    expect(bodies).toEqual(["pause-0", "pause-1", "pause-3"]);
    expect((await call("GET", `${OB}/01ARZ3NDEKTSV4RRFFQ69G5FAV`)).json.error.code).toBe("OUTBOX_ITEM_NOT_FOUND");
  }, 60000);

  it("holds every send during quiet hours in the policy's time zone, and sends once they are lifted", async () => {
    // quiet from an hour ago to an hour from now, Kolkata time (UTC+05:30)
    const parts = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Kolkata", hourCycle: "h23", hour: "2-digit", minute: "2-digit" }).formatToParts(new Date());
    const local = Number(parts.find((p) => p.type === "hour")!.value) * 60 + Number(parts.find((p) => p.type === "minute")!.value);
    const hhmm = (m: number) => `${String(Math.floor(((m + 1440) % 1440) / 60)).padStart(2, "0")}:${String((m + 1440) % 60).padStart(2, "0")}`;
    const quiet = { perMinute: 120, jitterMs: 0, typing: false, quietHours: { from: hhmm(local - 60), to: hhmm(local + 60), timeZone: "Asia/Kolkata" } };
    expect((await call("PUT", `${OB}/policy`, quiet)).status).toBe(200);
    const r = await call("POST", OB, { items: [0, 1, 2].map((i) => ({ to: contact(600 + i), text: `quiet-${i}` })) });
    expect(r.json.queued).toBe(3);
    // six pace slots go by: nothing leaves
    await new Promise((res) => setTimeout(res, 3000));
    expect((await ledger()).filter((m) => m.body.startsWith("quiet-"))).toEqual([]);
    for (const x of r.json.items) expect((await call("GET", `${OB}/${x.id}`)).json.state).toBe("queued");
    // outside quiet hours (a window that does not hold now): the queue goes
    expect((await call("PUT", `${OB}/policy`, { ...quiet, quietHours: { ...quiet.quietHours, from: hhmm(local + 120), to: hhmm(local + 180) } })).status).toBe(200);
    await waitFor("sent after quiet hours", async () => (await ledger()).filter((m) => m.body.startsWith("quiet-")).length === 3, 30000, 50);
  }, 60000);

  it("the guard pauses a session whose sends the network refuses, and nothing more goes out until resumed", async () => {
    await call("PUT", `${OB}/policy`, { perMinute: 120, jitterMs: 0, typing: false });
    const blocked = [300, 301, 302].map(contact);
    for (const b of blocked) expect((await call("POST", `/workspaces/acme/sessions/main/contacts/${b}/block`)).status).toBe(200);
    const r = await call("POST", OB, { items: [...blocked.map((to, i) => ({ to, text: `refused-${i}` })), { to: contact(303), text: "after-guard" }] });
    const ids = r.json.items.map((x: any) => x.id);
    const paused = await waitFor("the guard's pause", async () => (await call("GET", OB)).json.paused ?? undefined, 30000, 50);
    expect(paused.reason).toBe("guard: 3 sends in a row refused (last: CONTACT_BLOCKED)");
    for (const id of ids.slice(0, 3)) expect((await call("GET", `${OB}/${id}`)).json).toMatchObject({ state: "failed", error: { code: "CONTACT_BLOCKED" } });
    await new Promise((res) => setTimeout(res, 1500));
    expect((await call("GET", `${OB}/${ids[3]}`)).json.state).toBe("queued");
    expect((await ledger()).some((m) => m.body === "after-guard")).toBe(false);
    expect((await call("POST", `${OB}/resume`)).status).toBe(200);
    await waitFor("sent after resume", async () => (await call("GET", `${OB}/${ids[3]}`)).json.state === "sent", 30000, 50);
    expect((await ledger()).filter((m) => m.body.startsWith("refused-"))).toEqual([]);
  }, 60000);

  it("the guard pauses a session whose sends reach no device, and one WhatsApp restricts: wa.outbox.paused {reason}", async () => {
    const stream = await openEventStream(api, "/api/v1/workspaces/acme/events?types=wa.outbox.paused", KEY);
    try {
      await call("PUT", `${OB}/policy`, { perMinute: 120, jitterMs: 0, typing: false, guard: { stuck: 2, stuckAfterMs: 1000 } });
      // the network takes the sends (one tick) and delivers none, as for a number WhatsApp quietly restricts
      expect((await request(sim.url, "POST", `/sim/accounts/${ME}/hold-deliveries`, { body: { hold: true } })).status).toBe(200);
      const r = await call("POST", OB, { items: Array.from({ length: 10 }, (_, i) => ({ to: contact(400 + i), text: `held-${i}` })) });
      expect(r.json.queued).toBe(10);
      const paused = await waitFor("the guard's pause", async () => (await call("GET", OB)).json.paused ?? undefined, 30000, 50);
      expect(paused.reason).toBe("guard: 2 of the last sends older than 1 s have no DEVICE ack");
      await waitFor("wa.outbox.paused on the event stream", async () => stream.events.some((e) => e.data.reason === paused.reason), 10000, 50);
      const held = (await ledger()).filter((m) => m.body.startsWith("held-"));
      // 500 ms apart, paused once two are 1 s old: usually the third, fourth or fifth send is the
      // last; a drain that wakes late for the third (an event loop held 0.5 s on a loaded machine)
      // finds the second already 1 s old, and the guard rightly pauses on the two it needs
      expect(held.length).toBeGreaterThanOrEqual(2);
      expect(held.length).toBeLessThan(10);
      for (const m of held) expect(m.deliveries).toBe(0);
      await new Promise((res) => setTimeout(res, 1500));
      expect((await ledger()).filter((m) => m.body.startsWith("held-")).length).toBe(held.length);

      // released: the held messages reach their contacts; resumed: the rest goes, delivered
      expect((await request(sim.url, "POST", `/sim/accounts/${ME}/hold-deliveries`, { body: { hold: false } })).json).toEqual({ held: 0 });
      expect((await call("POST", `${OB}/resume`)).status).toBe(200);
      await waitFor("all 10 sent", async () => (await allItems()).filter((i) => i.message.text?.startsWith("held-") && i.state === "sent").length === 10, 30000, 100);
      await waitFor("all 10 delivered", async () => (await ledger()).filter((m) => m.body.startsWith("held-") && m.deliveries === 1).length === 10, 10000, 50);
      expect((await call("GET", OB)).json.paused).toBeNull();

      // WhatsApp restricts the account: the session fails with TOS_BLOCK and the outbox pauses
      await call("POST", `${OB}/pause`);
      await call("POST", OB, { items: [0, 1].map((i) => ({ to: contact(500 + i), text: `after-ban-${i}` })) });
      await call("POST", `${OB}/resume`);
      expect((await request(sim.url, "POST", `/sim/accounts/${ME}/restrict`, { body: { reason: "TOS_BLOCK" } })).status).toBe(200);
      const banned = await waitFor("the restriction pause", async () => {
        const p = (await call("GET", OB)).json.paused;
        return p?.reason?.includes("TOS_BLOCK") ? p : undefined;
      }, 30000, 50);
      expect(banned.reason).toBe("guard: disconnected by WhatsApp (TOS_BLOCK)");
      await waitFor("wa.outbox.paused (TOS_BLOCK)", async () => stream.events.some((e) => e.data.reason === banned.reason), 10000, 50);
      const session = (await call("GET", "/workspaces/acme/sessions/main")).json;
      expect(session.status).toBe("FAILED");
      // lifted and restarted: nothing goes until a client resumes
      expect((await request(sim.url, "POST", `/sim/accounts/${ME}/restrict`, { body: { reason: null } })).status).toBe(200);
      expect((await call("POST", "/workspaces/acme/sessions/main/start")).status).toBe(200);
      await working();
      await new Promise((res) => setTimeout(res, 1500));
      expect((await ledger()).filter((m) => m.body.startsWith("after-ban-")).length).toBe(0);
      await call("POST", `${OB}/resume`);
      await waitFor("sent after the restriction is lifted", async () => (await ledger()).filter((m) => m.body.startsWith("after-ban-")).length === 2, 30000, 50);
      expect((await request(sim.url, "POST", `/sim/accounts/${ME}/restrict`, { body: { reason: "BANNED" } })).json.error.code).toBe("VALIDATION_ERROR");
    } finally {
      stream.close();
    }
  }, 90000);

  it("delivers wa.outbox.sent, wa.outbox.failed and wa.outbox.paused through the event log to the workspace's webhook", async () => {
    const set = await call("PUT", "/workspaces/acme/webhook", { url: receiver.url, events: ["wa.outbox.sent", "wa.outbox.failed", "wa.outbox.paused"] });
    expect(set.status).toBe(200);
    receiver.setSecret(set.json.secret);
    await call("PUT", `${OB}/policy`, { perMinute: 120, jitterMs: 0, typing: false });
    const blocked = contact(700);
    expect((await call("POST", `/workspaces/acme/sessions/main/contacts/${blocked}/block`)).status).toBe(200);
    const r = await call("POST", OB, { items: [{ to: contact(701), text: "hooked-ok", key: "hook-1" }, { to: blocked, text: "hooked-refused" }] });
    const [ok, refused] = r.json.items.map((x: any) => x.id);
    await waitFor("both done", async () => (await call("GET", `${OB}/${refused}`)).json.state === "failed", 30000, 50);
    await call("POST", `${OB}/pause`);
    await receiver.until("the three outbox events", () => ["wa.outbox.sent", "wa.outbox.failed", "wa.outbox.paused"].every((e) => receiver.requests.some((q) => q.body?.event === e && q.status === 200)), 30000);
    const of = (e: string) => receiver.requests.find((q) => q.body?.event === e)!.body;
    const sentItem = (await call("GET", `${OB}/${ok}`)).json;
    expect(of("wa.outbox.sent")).toMatchObject({ workspaceId: "acme", sessionId: "main", id: ok, messageId: sentItem.messageId, to: contact(701), key: "hook-1" });
    expect(of("wa.outbox.failed")).toMatchObject({ id: refused, to: blocked, error: { code: "CONTACT_BLOCKED" } });
    expect(of("wa.outbox.paused")).toMatchObject({ reason: "requested" });
    expect(receiver.requests.every((q) => q.verified)).toBe(true);
    await call("POST", `${OB}/resume`);
  }, 60000);
});

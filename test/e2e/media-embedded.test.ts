// Media end to end in embedded mode (one real wafleet process, its simulated network, a real
// webhook receiver): contacts send large media, the webhook gets a small event with a descriptor,
// the download matches; uploads are sent by mediaId to many recipients; hostile requests get
// clean errors; media goes with its session.
import { createHash, randomBytes } from "node:crypto";
import { request } from "../helpers/http";
import { opsUrl } from "../helpers/cluster";
import { waitFor } from "../helpers/processes";
import { WebhookReceiver } from "../helpers/webhook-receiver";
import { ADMIN, expectCleanError, linkSession, startApiNode, type ApiNode } from "./api-harness";

const ME = "15550001212";
const CONTACT = "15550003434";
const W = "/api/v1/workspaces/acme";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let node: ApiNode;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await new WebhookReceiver().start();
  node = await startApiNode({ WEBHOOK_ALLOW_PRIVATE: "true", API_MEDIA_MAX_BYTES: String(8 * 1024 * 1024), LOG_LEVEL: "info" });
  await linkSession(node, "acme", "main", ME);
  const set = await node.call("PUT", `${W}/webhook`, { body: { url: receiver.url, events: ["wa.message.received"] } });
  expect(set.status).toBe(200);
  receiver.setSecret(set.json.secret);
}, 60000);
afterAll(async () => {
  await node?.stop();
  await receiver?.close();
});

/** A contact sends media as raw bytes through the simulated network's admin API. */
async function contactSends(bytes: Buffer, mimetype: string, body: string, filename?: string): Promise<string> {
  const q = new URLSearchParams({ to: ME, body, ...(filename ? { filename } : {}) });
  const r = await request(node.sim, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: bytes, headers: { "content-type": mimetype }, timeoutMs: 120000 });
  expect(r.status).toBe(202);
  return body;
}

const hookFor = (body: string) => waitFor(`the webhook for "${body}"`, () => receiver.requests.find((r) => r.body?.message?.body === body), 60000, 50);

describe("inbound media", () => {
  it("reaches the webhook as a small event with a descriptor, and downloads intact", async () => {
    const photo = randomBytes(5 * 1024 * 1024 + 17);
    const doc = randomBytes(12 * 1024 * 1024);
    await contactSends(photo, "image/jpeg", "a photo");
    await contactSends(doc, "application/pdf", "a document", "report.pdf");
    await request(node.sim, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body: "plain text behind them" } });
    for (const [bytes, body, mimetype, filename] of [
      [photo, "a photo", "image/jpeg", undefined],
      [doc, "a document", "application/pdf", "report.pdf"],
    ] as const) {
      const hook = await hookFor(body);
      expect(hook.verified).toBe(true);
      expect(hook.raw.length).toBeLessThan(64 * 1024);
      const media = hook.body.message.media;
      expect(media).toEqual({ mediaId: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/), mimetype, size: bytes.length, sha256: sha(bytes), ...(filename ? { filename } : {}), url: `${W}/media/${media.mediaId}` });
      const got = await request(node.api, "GET", media.url, { key: ADMIN, timeoutMs: 60000 });
      expect(got.status).toBe(200);
      expect(got.headers["content-type"]).toBe(mimetype);
      expect(Number(got.headers["content-length"])).toBe(bytes.length);
      expect(got.headers.etag).toBe(`"${sha(bytes)}"`);
      expect(sha(got.body)).toBe(sha(bytes));
    }
    await hookFor("plain text behind them");
  }, 120000);

  it("serves ranges and revalidation, and refuses what it cannot serve", async () => {
    const bytes = randomBytes(100_000);
    await contactSends(bytes, "image/png", "ranged");
    const { mediaId, url } = (await hookFor("ranged")).body.message.media;
    const part = await node.call("GET", url, { headers: { range: "bytes=1000-1999" } });
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(part.body.equals(bytes.subarray(1000, 2000))).toBe(true);
    const tail = await node.call("GET", url, { headers: { range: "bytes=-10" } });
    expect(tail.body.equals(bytes.subarray(bytes.length - 10))).toBe(true);
    const beyond = await node.call("GET", url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers["content-range"]).toBe(`bytes */${bytes.length}`);
    expect(beyond.json.error.code).toBe("RANGE_NOT_SATISFIABLE");
    expect((await node.call("GET", url, { headers: { "if-none-match": `"${sha(bytes)}"` } })).status).toBe(304);
    // another workspace, a bad id, an unknown id, no key
    const elsewhere = await node.call("GET", `/api/v1/workspaces/beta/media/${mediaId}`);
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.json.error.code).toBe("MEDIA_NOT_FOUND");
    for (const bad of ["..%2F..%2Fetc%2Fpasswd", "not-an-id", `${mediaId}.json`, mediaId.toLowerCase()]) {
      const r = await node.call("GET", `${W}/media/${bad}`);
      expect(r.status).toBe(400);
      expectCleanError(r);
    }
    expect((await node.call("GET", `${W}/media/01ARZ3NDEKTSV4RRFFQ69G5FAV`)).json.error.code).toBe("MEDIA_NOT_FOUND");
    expect((await request(node.api, "GET", url)).status).toBe(401);
    // a workspace key reaches its own workspace's media only
    const acmeKey = (await node.call("POST", `${W}/keys`)).json.key;
    const betaKey = (await node.call("POST", "/api/v1/workspaces/beta/keys")).json.key;
    expect((await request(node.api, "GET", url, { key: acmeKey })).status).toBe(200);
    expect((await request(node.api, "GET", url, { key: betaKey })).json.error.code).toBe("FORBIDDEN_WORKSPACE");
  }, 60000);
});

describe("uploads", () => {
  it("stores an upload once and sends it by mediaId to several recipients", async () => {
    const png = randomBytes(3 * 1024 * 1024);
    const up = await node.call("POST", `${W}/media?filename=chart.png`, { rawBody: png, headers: { "content-type": "image/png" } });
    expect(up.status).toBe(201);
    expect(up.json).toEqual({ mediaId: expect.any(String), mimetype: "image/png", size: png.length, sha256: sha(png), filename: "chart.png", url: `${W}/media/${up.json.mediaId}` });
    expect(up.headers.location).toBe(up.json.url);
    const recipients = ["15550007001", "15550007002", "15550007003"];
    for (const to of recipients) {
      const sent = await node.call("POST", `${W}/sessions/main/messages`, { body: { to, media: { mediaId: up.json.mediaId }, caption: `for ${to}` } });
      expect(sent.status).toBe(201);
    }
    for (const to of recipients) {
      const got = await waitFor(`${to}'s copy`, async () => ((await request(node.sim, "GET", `/sim/contacts/${to}/inbox`)).json.messages as any[]).find((m) => m.media), 30000);
      expect(got.media).toMatchObject({ mimetype: "image/png", filename: "chart.png" });
      expect(sha(Buffer.from(got.media.data, "base64"))).toBe(sha(png));
    }
  }, 60000);

  it("refuses uploads over API_MEDIA_MAX_BYTES, of another type, or empty; and unknown mediaIds in sends", async () => {
    const big = await node.call("POST", `${W}/media`, { rawBody: randomBytes(9 * 1024 * 1024), headers: { "content-type": "video/mp4" } });
    expect(big.status).toBe(413);
    expectCleanError(big);
    for (const type of ["text/html", "application/json", "application/x-msdownload", ""]) {
      const r = await node.call("POST", `${W}/media`, { rawBody: Buffer.from("<script>"), headers: type ? { "content-type": type } : {} });
      expect(r.status).toBe(415);
      expect(r.json.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
    const empty = await node.call("POST", `${W}/media`, { rawBody: Buffer.alloc(0), headers: { "content-type": "image/png" } });
    expect(empty.status).toBe(400);
    const unknown = await node.call("POST", `${W}/sessions/main/messages`, { body: { to: CONTACT, media: { mediaId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" } } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("MEDIA_NOT_FOUND");
    const both = await node.call("POST", `${W}/sessions/main/messages`, { body: { to: CONTACT, media: { mediaId: "01ARZ3NDEKTSV4RRFFQ69G5FAV", mimetype: "image/png", data: "YWJj" } } });
    expect(both.status).toBe(400);
    const noType = await node.call("POST", `${W}/sessions/main/messages`, { body: { to: CONTACT, media: { data: "YWJj" } } });
    expect(noType.status).toBe(400);
  }, 60000);
});

describe("deletion", () => {
  it("a session's received media goes with the session", async () => {
    await linkSession(node, "acme", "short", "15550001313");
    const q = new URLSearchParams({ to: "15550001313", body: "to be deleted" });
    expect((await request(node.sim, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: randomBytes(1000), headers: { "content-type": "image/webp" } })).status).toBe(202);
    const { url } = (await hookFor("to be deleted")).body.message.media;
    expect((await node.call("GET", url)).status).toBe(200);
    expect((await node.call("DELETE", `${W}/sessions/short`)).status).toBe(204);
    expect((await node.call("GET", url)).json.error.code).toBe("MEDIA_NOT_FOUND");
  }, 60000);
});

describe("an event the log cannot carry", () => {
  it("is refused at append, logged and counted, and the messages behind it still arrive", async () => {
    // no media can do this any more; an oversized text (beyond WhatsApp's own limit) still can
    const huge = `huge ${"x".repeat(300 * 1024)}`;
    expect((await request(node.sim, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body: huge } })).status).toBe(202);
    expect((await request(node.sim, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body: "right behind the huge one" } })).status).toBe(202);
    await hookFor("right behind the huge one");
    await node.proc.waitForOutput(/refused wa\.message\.received \S+ of acme\/main: \d+ bytes encoded, the limit is 262144/, 20000);
    const ops = await opsUrl(node.proc);
    await waitFor("the rejected counter", async () => /wafleet_event_log_rejected_total\{[^}]*event="wa\.message\.received"[^}]*\} [1-9]/.test((await request(ops, "GET", "/metrics")).body.toString()), 20000);
    expect(receiver.requests.some((r) => String(r.body?.message?.body ?? "").startsWith("huge "))).toBe(false);
  }, 60000);
});

// Media in cluster mode, as real processes: nats-server -js, redis-server, an S3 API server (the
// media store), the simulated WhatsApp network, a session node, and a gateway + webhooks node that
// reads the media store itself. Contacts send a 5 MiB photo and a 40 MiB document while another
// session's messages keep flowing; the webhook gets small events with descriptors and the
// downloads match. A session node SIGKILLed after the media write but before the append loses
// nothing: the network delivers the message again and the media is stored once. Both engines: the
// simulator, and real whatsapp-web.js in real Chromium on the fake WhatsApp Web page.
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { sweepOrphanChromium } from "../../lib/engines/wwebjs/chromium";
import { CHROME_PATH, expectNoChromiumUnder } from "../helpers/chromium";
import { request } from "../helpers/http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";
import { startTestS3, type TestS3 } from "../helpers/s3";
import { startNats, startRedis, type NatsServer, type RedisServer } from "../helpers/servers";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const KEY = "media-cluster-admin-key-0123456789";
const ME = "15550006661";
const OTHER = "15550006662";
const CONTACT = "15550006669";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let root: string;
let nats: NatsServer;
let redis: RedisServer;
let s3: TestS3;
let sim: { proc: NodeProcess; url: string };
let sessionNode: NodeProcess;
let gateway: NodeProcess;
let receiver: WebhookReceiver;
let api: string;
let engine: "simulator" | "wwebjs";

function env(node: string, extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ID: node,
    TRANSPORTER: nats.url,
    REDIS_URL: redis.url,
    DATA_DIR: path.join(root, node),
    SESSIONS_DIR: path.join(root, "sessions"),
    WA_ENGINE: engine,
    ...(engine === "wwebjs" ? { CHROME_PATH, LAUNCH_STAGGER_MS: "0" } : {}),
    WA_SIM_URL: sim.url,
    API_KEYS: KEY,
    LEASE_TTL_MS: "3000",
    TAKEOVER_MARGIN_MS: "1500",
    MEDIA_TARGET: `s3://${s3.bucket}/media`,
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
    MEDIA_PRESIGN_SECONDS: "600",
    ...extra,
  };
}

const startSessionNode = async () => {
  const proc = new NodeProcess("session", "dist/bin/wafleet.js", env("session-1", { SERVICES: "sessions" }));
  await proc.waitForOutput(/wafleet cluster node .* up/, 30000);
  return proc;
};
const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers, timeoutMs: 120000 });

async function contactSendsMedia(to: string, bytes: Buffer, mimetype: string, body: string, filename?: string): Promise<void> {
  const q = new URLSearchParams({ to, body, ...(filename ? { filename } : {}) });
  const r = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: bytes, headers: { "content-type": mimetype }, timeoutMs: 120000 });
  if (r.status !== 202) throw new Error(`send-media: ${r.status} ${r.body.toString()}`);
}
const hooksFor = (body: string) => receiver.requests.filter((r) => r.status === 200 && r.body?.event === "wa.message.received" && r.body.message.body === body);

async function link(sessionId: string, phone: string): Promise<void> {
  // until the gateway has discovered the session node (503 before that)
  await waitFor(`${sessionId} created`, async () => (await call("POST", "/workspaces/acme/sessions", { sessionId })).status === 201, 30000, 200);
  const qr = await waitFor(`${sessionId}'s QR`, async () => {
    const r = await call("GET", `/workspaces/acme/sessions/${sessionId}/qr`, undefined, { accept: "application/json" });
    return r.status === 200 ? (r.json.qr as string) : undefined;
  }, 30000, 100);
  expect((await request(sim.url, "POST", "/sim/link", { body: { qr, phone } })).status).toBe(200);
  await waitFor(`${sessionId} WORKING`, async () => (await call("GET", `/workspaces/acme/sessions/${sessionId}`)).json?.status === "WORKING", 30000);
}

describe.each(["simulator", "wwebjs"] as const)("with the %s engine", (which) => {
beforeAll(async () => {
  engine = which;
  root = await tempDir("media-e2e");
  [nats, redis, s3] = await Promise.all([startNats(), startRedis(), startTestS3()]);
  sim = await startSimProcess({ WA_SIM_STATE_FILE: path.join(root, "sim-state.json") });
  receiver = await new WebhookReceiver().start();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  gateway = new NodeProcess("gateway", "dist/bin/wafleet.js", env("gw-1", { SERVICES: "api,webhooks", API_PORT: String(port), API_HOST: "127.0.0.1", WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "100", WEBHOOK_BACKOFF_MAX_MS: "500" }));
  [sessionNode] = await Promise.all([startSessionNode(), gateway.waitForOutput(/API listening on/, 30000)]);
}, 90000);

afterAll(async () => {
  if (process.env.MEDIA_E2E_DEBUG) for (const p of [sessionNode, gateway, sim?.proc]) console.log(`--- ${p?.name}\n${p?.output.slice(-6000)}`);
  await gateway?.kill("SIGKILL");
  await sessionNode?.kill("SIGKILL");
  if (engine === "wwebjs") {
    // the browsers of the node killed last are orphans now: the sweep a restarted node runs
    await sweepOrphanChromium(path.join(root, "sessions"));
    await expectNoChromiumUnder(root);
  }
  await sim?.proc.kill("SIGKILL");
  await receiver?.close();
  await nats?.destroy();
  await redis?.destroy();
  await s3?.destroy();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe("media in a cluster of real processes", () => {
  it("carries a 5 MiB photo and a 40 MiB document as descriptors, downloads them intact, and keeps other events flowing", async () => {
    const set = await waitFor("the webhooks service behind the gateway", async () => {
      const r = await call("PUT", "/workspaces/acme/webhook", { url: receiver.url, events: ["wa.message.received"] });
      return r.status === 200 ? r : undefined;
    }, 20000, 100);
    receiver.setSecret(set.json.secret);
    await link("main", ME);
    await link("other", OTHER);

    const photo = randomBytes(5 * 1024 * 1024);
    const doc = randomBytes(40 * 1024 * 1024);
    // the other session's chatter goes on while the large media travel
    const chatter = (async () => {
      const bodies: string[] = [];
      for (let i = 0; i < 40; i++) {
        const body = `chatter-${i}`;
        expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: OTHER, body } })).status).toBe(202);
        bodies.push(body);
      }
      return bodies;
    })();
    await contactSendsMedia(ME, photo, "image/jpeg", "the photo");
    await contactSendsMedia(ME, doc, "application/pdf", "the contract", "contract.pdf");
    const texts = await chatter;
    await receiver.until("every chatter message", () => texts.every((b) => hooksFor(b).length > 0), 60000);

    for (const [bytes, body, mimetype] of [
      [photo, "the photo", "image/jpeg"],
      [doc, "the contract", "application/pdf"],
    ] as const) {
      await receiver.until(body, () => hooksFor(body).length > 0, 120000);
      const hook = hooksFor(body)[0]!;
      expect(hook.verified).toBe(true);
      const media = hook.body.message.media;
      expect(media).toMatchObject({ mimetype, size: bytes.length, sha256: sha(bytes), url: `/api/v1/workspaces/acme/media/${media.mediaId}` });
      expect(media.data).toBeUndefined();
      const got = await request(api, "GET", media.url, { key: KEY, timeoutMs: 120000 });
      expect(got.status).toBe(200);
      expect(Number(got.headers["content-length"])).toBe(bytes.length);
      expect(sha(got.body)).toBe(sha(bytes));
      // a receiver that holds no key reads it from S3 directly, within MEDIA_PRESIGN_SECONDS
      expect(media.presignedUrl).toContain("X-Amz-Signature=");
      const direct = await fetch(media.presignedUrl);
      expect(direct.status).toBe(200);
      expect(sha(Buffer.from(await direct.arrayBuffer()))).toBe(sha(bytes));
    }
    // no event on the wire carries more than a descriptor
    for (const r of receiver.requests) expect(r.raw.length).toBeLessThan(64 * 1024);
    // the bytes are in S3 under the workspace
    const keys = s3.events.map((e) => e.key);
    expect(keys.some((k) => /^media\/workspace_acme\/[0-9A-Z]{26}$/.test(k))).toBe(true);
  }, 300000);

  // the crash window is the engine-independent part (the actor's write-then-append); one engine suffices
  if (which === "simulator") it("loses nothing when the session node dies between the media write and the append, and stores the media once", async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    // NATS away: the media write succeeds, the append waits in the node's outbox, WhatsApp gets no receipt
    await nats.stop();
    const before = s3.events.length;
    await contactSendsMedia(ME, bytes, "image/png", "written, not appended");
    await waitFor("the media descriptor in S3", () => s3.events.slice(before).some((e) => e.key.endsWith(".json")), 60000);
    await sessionNode.kill("SIGKILL");
    await nats.start();
    sessionNode = await startSessionNode();
    await receiver.until("the message after the restart", () => hooksFor("written, not appended").length > 0, 120000);
    const hooks = hooksFor("written, not appended");
    expect(new Set(hooks.map((h) => h.id)).size).toBe(1);
    const media = hooks[0]!.body.message.media;
    expect(media.sha256).toBe(sha(bytes));
    const got = await request(api, "GET", media.url, { key: KEY, timeoutMs: 60000 });
    expect(sha(got.body)).toBe(sha(bytes));
    // one object (bytes, descriptor, session marker) for the message, written twice under one id
    const client = s3.client();
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "media/workspace_acme/" }));
    const mine = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes(media.mediaId));
    expect(mine.sort()).toEqual([`media/workspace_acme/${media.mediaId}`, `media/workspace_acme/${media.mediaId}.json`, `media/workspace_acme/session_main/${media.mediaId}`].sort());
    const descriptors = (listed.Contents ?? []).filter((o) => o.Key!.endsWith(".json")).length;
    expect(descriptors).toBe(3);
    client.destroy();
    expect((await request(sim.url, "GET", "/sim/stats")).json.conflicts).toBe(0);
  }, 240000);
});
});

// Inbound media end to end: a contact sends media through the simulated network, the owning node
// stores it and appends the event, the webhook arrives, and the receiver downloads the bytes from
// the media route. Beside it, in the same run: a plain copy of the same bytes into the same media
// store (MediaStore.put from a buffer). Figure: MB/s end to end, and the ratio to the plain copy.
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { FolderBlobStore } from "../lib/backup/folder-store";
import { MediaStore } from "../lib/media/store";
import { request } from "../test/helpers/http";
import { freePort, NodeProcess, tempDir, waitFor } from "../test/helpers/processes";
import { WebhookReceiver } from "../test/helpers/webhook-receiver";
import { figure, intArg, type BenchContext } from "./harness";

const KEY = "bench-media-admin-key-0123456789abc";
const ME = "15550009191";
const CONTACT = "15550009192";

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const mib = intArg(args, "media-mib", 16);
  const count = intArg(args, "media-count", 6);
  const root = await tempDir("bench-media");
  const mediaDir = path.join(root, "media");
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const receiver = await new WebhookReceiver().start();
  const node = new NodeProcess("wafleet", "dist/bin/wafleet.js", {
    DATA_DIR: path.join(root, "data"),
    MEDIA_TARGET: mediaDir,
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: KEY,
    WA_SIM_PORT: String(await freePort()),
    WEBHOOK_ALLOW_PRIVATE: "true",
    LOG_LEVEL: "info",
  });
  try {
    const sim = `http://127.0.0.1:${(await node.waitForOutput(/network listening on http:\/\/127\.0\.0\.1:(\d+)/, 30000))[1]}`;
    await node.waitForOutput(/API listening on/, 30000);
    const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(api, method, `/api/v1${p}`, { key: KEY, body, headers, timeoutMs: 120000 });
    const set = await call("PUT", "/workspaces/bench/webhook", { url: receiver.url, events: ["wa.message.received"] });
    receiver.setSecret(set.json.secret);
    await call("POST", "/workspaces/bench/sessions", { sessionId: "main" });
    const qr = await waitFor("the QR", async () => {
      const r = await call("GET", "/workspaces/bench/sessions/main/qr", undefined, { accept: "application/json" });
      return r.status === 200 ? (r.json.qr as string) : undefined;
    }, 30000, 100);
    await request(sim, "POST", "/sim/link", { body: { qr, phone: ME } });
    await waitFor("WORKING", async () => (await call("GET", "/workspaces/bench/sessions/main")).json?.status === "WORKING", 30000);

    const payloads = Array.from({ length: count }, () => randomBytes(mib * 1024 * 1024));
    // end to end, one media at a time: contact send -> stored -> event -> webhook -> download done
    let e2eMs = 0;
    for (let i = 0; i < count; i++) {
      const body = `bench-media-${i}`;
      const started = performance.now();
      const q = new URLSearchParams({ to: ME, body, filename: `f${i}.pdf` });
      const sent = await request(sim, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: payloads[i]!, headers: { "content-type": "application/pdf" }, timeoutMs: 120000 });
      if (sent.status !== 202) throw new Error(`send-media: ${sent.status}`);
      await receiver.until(body, () => receiver.requests.some((r) => r.body?.message?.body === body), 120000);
      const media = receiver.requests.find((r) => r.body?.message?.body === body)!.body.message.media;
      const got = await request(api, "GET", media.url, { key: KEY, timeoutMs: 120000 });
      e2eMs += performance.now() - started;
      if (createHash("sha256").update(got.body).digest("hex") !== createHash("sha256").update(payloads[i]!).digest("hex")) throw new Error(`media ${i} came back different`);
    }
    // the baseline: the same bytes copied into the same store, from memory
    const store = new MediaStore(new FolderBlobStore(mediaDir), { maxBytes: 1024 * 1024 * 1024 });
    let copyMs = 0;
    for (const p of payloads) {
      const started = performance.now();
      await store.put("bench-copy", Readable.from([p]), { mimetype: "application/pdf" });
      copyMs += performance.now() - started;
    }
    const mb = (count * mib * 1024 * 1024) / 1e6;
    emit(figure(`media.inbound.MBps.${mib}MiB`, "MB/s", mb / (e2eMs / 1000), { name: "plain copy of the same bytes into the same media store", value: mb / (copyMs / 1000) }, { media: count, bytesEach: mib * 1024 * 1024 }));
  } finally {
    await node.kill("SIGKILL");
    await receiver.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

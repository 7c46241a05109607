// Media on the baileys engine, both ways, through the real Baileys code paths (encrypt, media_conn,
// HTTPS upload; downloadContentFromMessage) against the fake server's media host, with the
// simulated network as the oracle: the bytes that arrive are the bytes sent (sha256), each kind
// keeps its shape (voice notes, documents' names), and a download that fails or is too large keeps
// the message (its media described with a stable error code, without bytes) instead of losing it.
import { createHash, randomBytes } from "node:crypto";
import type { BaileysEngine } from "../../lib/engines/baileys";
import type { EngineEvents, EngineMessage } from "../../lib/engines/types";
import type { MediaHost } from "../../lib/simulator/baileys/media-host";
import { baileysTestNet, nextEvent } from "../helpers/baileys";
import type { BaileysTestNet } from "../helpers/baileys";
import { waitFor } from "../helpers/processes";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550008101";
const ANA = "4915100008102";
/** The engine downloads at most this much: larger media is described, not fetched */
const MAX = 64 * 1024;
let net: BaileysTestNet;
let sim: TestSim;
let engine: BaileysEngine;
const warnings: string[] = [];

const sha = (b64: string) => createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex");
const next = <K extends keyof EngineEvents>(event: K) => nextEvent(engine, event, 20000);
const inbox = async () => (await sim.get(`/sim/contacts/${ANA}/inbox`)).json.messages as any[];
const stats = async () => (await sim.get("/sim/stats")).json;
const mediaHost = (): MediaHost => sim.network.baileysGateway!.media;

async function fromAna(body: string, media: { mimetype: string; data: string; filename?: string }, extra: Record<string, unknown> = {}): Promise<EngineMessage> {
  const heard = next("message");
  expect((await sim.post(`/sim/contacts/${ANA}/send`, { to: ALICE, body, media, ...extra })).status).toBeLessThan(300);
  return (await heard)[0];
}

beforeAll(async () => {
  net = await baileysTestNet("baileys-media");
  sim = net.sim;
  engine = await net.link(ALICE, { mediaMaxBytes: MAX, log: (level, msg) => void (level === "warn" && warnings.push(msg)) });
});

afterAll(() => net?.close());

afterEach(() => jest.restoreAllMocks());

it("sends a voice note, a video and a document: the contact gets the same bytes, each in its kind", async () => {
  const ogg = randomBytes(3000).toString("base64");
  const voice = await engine.sendMessage(ANA, { media: { mimetype: "audio/ogg; codecs=opus", data: ogg }, voice: true });
  const mp4 = randomBytes(20_000).toString("base64");
  const video = await engine.sendMessage(ANA, { media: { mimetype: "video/mp4", data: mp4 }, caption: "the clip" });
  const pdf = randomBytes(5000).toString("base64");
  const doc = await engine.sendMessage(ANA, { media: { mimetype: "application/pdf", data: pdf, filename: "report.pdf" }, caption: "the report" });
  const got = await inbox();
  const byId = (id: string) => got.find((m) => m.id === id);
  expect(byId(voice.id)).toMatchObject({ voice: true, media: { mimetype: "audio/ogg; codecs=opus" } });
  expect(sha(byId(voice.id).media.data)).toBe(sha(ogg));
  expect(byId(video.id)).toMatchObject({ body: "the clip", media: { mimetype: "video/mp4" } });
  expect(sha(byId(video.id).media.data)).toBe(sha(mp4));
  expect(byId(doc.id)).toMatchObject({ body: "the report", media: { mimetype: "application/pdf", filename: "report.pdf" } });
  expect(sha(byId(doc.id).media.data)).toBe(sha(pdf));
  expect(await stats()).toMatchObject({ sent: 3, duplicates: 0 });
});

it("receives an image, a voice note and a replying document with their bytes, types and captions", async () => {
  const jpg = randomBytes(10_000).toString("base64");
  const image = await fromAna("look", { mimetype: "image/jpeg", data: jpg });
  expect(image).toMatchObject({ type: "image", body: "look", from: `${ANA}@c.us`, media: { mimetype: "image/jpeg" } });
  expect(sha((image.media as { data: string }).data)).toBe(sha(jpg));
  const ogg = randomBytes(2000).toString("base64");
  const voice = await fromAna("", { mimetype: "audio/ogg", data: ogg }, { voice: true });
  expect(voice).toMatchObject({ type: "voice", media: { mimetype: "audio/ogg", data: ogg } });
  const doc = await fromAna("signed", { mimetype: "application/pdf", data: "JVBERi0xLjQ=", filename: "signed.pdf" }, { replyTo: image.id });
  expect(doc).toMatchObject({ type: "document", body: "signed", replyTo: image.id, media: { mimetype: "application/pdf", data: "JVBERi0xLjQ=", filename: "signed.pdf" } });
});

it("keeps a message whose media is too large to download: described, not fetched, and acknowledged", async () => {
  const big = randomBytes(MAX + 1).toString("base64");
  const msg = await fromAna("too big", { mimetype: "application/zip", data: big, filename: "big.zip" });
  expect(msg).toMatchObject({ type: "document", body: "too big", media: { mimetype: "application/zip", filename: "big.zip", size: MAX + 1, error: "MEDIA_TOO_LARGE" } });
  expect(msg.media).not.toHaveProperty("data");
  expect(warnings.some((w) => w.includes(msg.id) && w.includes("MEDIA_TOO_LARGE"))).toBe(true);
  await waitFor("the network to have it delivered", async () => (await stats()).queued === 0);
});

it("keeps a message whose download fails (corrupted bytes on the host): described, with a stable code in the log", async () => {
  const host = mediaHost();
  const real = host.host.bind(host);
  jest.spyOn(host, "host").mockImplementationOnce((enc: Buffer) => {
    const bad = Buffer.from(enc);
    bad[0] ^= 0xff;
    return real(bad);
  });
  const msg = await fromAna("broken", { mimetype: "image/png", data: randomBytes(500).toString("base64") });
  expect(msg).toMatchObject({ type: "image", body: "broken", media: { mimetype: "image/png", size: 500, error: "MEDIA_DOWNLOAD_FAILED" } });
  expect(msg.media).not.toHaveProperty("data");
  expect(warnings.some((w) => w.includes(msg.id) && w.includes("MEDIA_DOWNLOAD_FAILED"))).toBe(true);
  // the next message still comes, with its bytes: the engine goes on in order
  const after = await fromAna("fine", { mimetype: "image/png", data: "iVBORw0KGgo=" });
  expect(after.media).toMatchObject({ data: "iVBORw0KGgo=" });
});

it("fails a send whose upload fails on the media host, and nothing reaches the network", async () => {
  const host = mediaHost() as any;
  const real = host.onRequest.bind(host);
  jest.spyOn(host, "onRequest").mockImplementation((req: any, res: any) => {
    if (req.method !== "POST") return real(req, res);
    req.resume();
    res.writeHead(503, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error: "UNAVAILABLE" }));
  });
  const before = (await stats()).sent;
  await expect(engine.sendMessage(ANA, { media: { mimetype: "image/png", data: "iVBORw0KGgo=" } })).rejects.toMatchObject({ code: "ENGINE_ERROR" });
  expect((await stats()).sent).toBe(before);
  jest.restoreAllMocks();
  // with a valid token again, the next send goes through
  await engine.sendMessage(ANA, { media: { mimetype: "image/png", data: "iVBORw0KGgo=" } });
  expect((await stats()).sent).toBe(before + 1);
});

it("posts media to a group, and receives a member's media post, with the same bytes", async () => {
  const { group } = await engine.createGroup!("Pictures", [ANA]);
  const jpg = randomBytes(4000).toString("base64");
  const sent = await engine.sendMessage(group.id, { media: { mimetype: "image/jpeg", data: jpg }, caption: "for all" });
  const got = (await inbox()).find((m) => m.id === sent.id);
  expect(got).toMatchObject({ body: "for all", media: { mimetype: "image/jpeg" } });
  expect(sha(got.media.data)).toBe(sha(jpg));
  const pdf = randomBytes(3000).toString("base64");
  const heard = next("message");
  expect((await sim.post(`/sim/groups/${group.id}/send`, { from: ANA, body: "mine", media: { mimetype: "application/pdf", data: pdf, filename: "minutes.pdf" } })).status).toBeLessThan(300);
  const [m] = await heard;
  expect(m).toMatchObject({ chatId: group.id, author: `${ANA}@c.us`, type: "document", body: "mine", media: { mimetype: "application/pdf", filename: "minutes.pdf" } });
  expect(sha((m.media as { data: string }).data)).toBe(sha(pdf));
});

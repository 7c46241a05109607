// The fake WhatsApp server's media host and codec: WhatsApp's media encryption written with
// node:crypto (checked against Baileys' own key derivation), and the HTTPS host's answers to bad
// input: path tricks, bad auth, oversize bodies, wrong hashes, unknown files.
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import https from "node:https";
import { MediaCodecError, MediaHost, decryptMedia, encryptMedia } from "../../lib/simulator/baileys/media-host";

const b64url = (b: Buffer) => b.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

interface Answer {
  status: number;
  json?: any;
  body: Buffer;
}

let host: MediaHost;
let agent: https.Agent;

function request(method: string, path: string, body?: Buffer, opts: { chunked?: boolean } = {}): Promise<Answer> {
  const [hostname, port] = host.hostname.split(":");
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { "Content-Type": "application/octet-stream" };
    if (body && !opts.chunked) headers["Content-Length"] = body.length;
    const req = https.request({ hostname, port: Number(port), path, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const all = Buffer.concat(chunks);
        let json: any;
        try {
          json = JSON.parse(all.toString());
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, json, body: all });
      });
    });
    // a refusal may close the connection while the body is still going out
    req.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" || err.code === "EPIPE" ? undefined : reject(err)));
    if (body && opts.chunked) {
      for (let i = 0; i < body.length; i += 64) req.write(body.subarray(i, i + 64));
      req.end();
    } else req.end(body);
  });
}

beforeAll(async () => {
  host = new MediaHost({ maxBytes: 1024 });
  await host.listen();
  agent = new https.Agent({ ca: host.caPem, keepAlive: false });
});

afterAll(() => {
  agent.destroy();
  host.close();
});

describe("the media codec", () => {
  it("round-trips, and agrees with Baileys' own key derivation", async () => {
    const plain = randomBytes(1000);
    const e = encryptMedia(plain, "document");
    expect(e.enc.length).toBe(1008 + 10);
    expect(decryptMedia(e.enc, e.mediaKey, "document", { fileEncSha256: e.fileEncSha256, fileSha256: e.fileSha256, fileLength: 1000 })).toEqual(plain);
    // Baileys' keys for the same media key and type encrypt to the same bytes
    const { getMediaKeys } = require("baileys");
    const k = await getMediaKeys(e.mediaKey, "document");
    const c = createCipheriv("aes-256-cbc", k.cipherKey, k.iv);
    expect(Buffer.concat([c.update(plain), c.final()])).toEqual(e.enc.subarray(0, 1008));
  });

  it("refuses a wrong key, a wrong hash, a wrong length and a truncated file with stable codes", () => {
    const plain = Buffer.from("a small image");
    const e = encryptMedia(plain, "image");
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(MediaCodecError);
        return (err as MediaCodecError).code;
      }
      return "no error";
    };
    expect(code(() => decryptMedia(e.enc, randomBytes(32), "image", {}))).toBe("MEDIA_MAC_MISMATCH");
    // the same key for another media type derives other keys
    expect(code(() => decryptMedia(e.enc, e.mediaKey, "video", {}))).toBe("MEDIA_MAC_MISMATCH");
    expect(code(() => decryptMedia(e.enc, e.mediaKey.subarray(1), "image", {}))).toBe("MEDIA_BAD_KEY");
    expect(code(() => decryptMedia(e.enc, e.mediaKey, "image", { fileEncSha256: createHash("sha256").update("x").digest() }))).toBe("MEDIA_HASH_MISMATCH");
    expect(code(() => decryptMedia(e.enc, e.mediaKey, "image", { fileSha256: createHash("sha256").update("x").digest() }))).toBe("MEDIA_HASH_MISMATCH");
    expect(code(() => decryptMedia(e.enc, e.mediaKey, "image", { fileLength: plain.length + 1 }))).toBe("MEDIA_HASH_MISMATCH");
    expect(code(() => decryptMedia(e.enc.subarray(0, e.enc.length - 3), e.mediaKey, "image", {}))).toBe("MEDIA_DECRYPT_FAILED");
  });
});

describe("the media host", () => {
  const upload = (type: string, enc: Buffer, auth: string, hash = b64url(createHash("sha256").update(enc).digest())) => request("POST", `/mms/${type}/${hash}?auth=${encodeURIComponent(auth)}&token=${hash}`, enc);

  it("takes an upload with a current token and serves it back at the directPath it answers", async () => {
    const e = encryptMedia(Buffer.from("hello media"), "image");
    const { auth } = host.issueAuth();
    const res = await upload("image", e.enc, auth);
    expect(res.status).toBe(200);
    expect(res.json.direct_path).toMatch(/^\/v\/t62\.7118-24\/[A-Za-z0-9_-]{43}\.enc/);
    expect(res.json.url).toBe(`https://${host.hostname}${res.json.direct_path}`);
    const got = await request("GET", res.json.direct_path);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(e.enc);
    expect(host.fileOf(res.json.direct_path, undefined)).toEqual(e.enc);
  });

  it("refuses uploads without a current media_conn token", async () => {
    const e = encryptMedia(Buffer.from("x"), "image");
    expect((await upload("image", e.enc, "not-a-token")).json).toMatchObject({ error: "BAD_AUTH" });
    const hash = b64url(createHash("sha256").update(e.enc).digest());
    const none = await request("POST", `/mms/image/${hash}`, e.enc);
    expect([none.status, none.json.error]).toEqual([401, "BAD_AUTH"]);
    const expired = new MediaHost({ authTtlMs: 0 });
    const stale = expired.issueAuth().auth;
    expired.close();
    expect((await upload("image", e.enc, stale)).status).toBe(401);
  });

  it("refuses path tricks, unknown media types and other methods", async () => {
    const e = encryptMedia(Buffer.from("x"), "image");
    const { auth } = host.issueAuth();
    const hash = b64url(createHash("sha256").update(e.enc).digest());
    for (const path of [`/mms/image/../image/${hash}?auth=${auth}`, `/mms/%2e%2e/image/${hash}?auth=${auth}`, `//mms/image/${hash}?auth=${auth}`, `/mms/image/${hash}/..?auth=${auth}`, `/mms/image/${hash}x?auth=${auth}`, `/mms/md-app-state/${hash}?auth=${auth}`, `/etc/passwd`]) {
      const res = await request("POST", path, e.enc);
      expect([path, res.status, res.json?.error]).toEqual([path, 400, "BAD_PATH"]);
    }
    for (const path of ["/v/t62.7118-24/../../etc/passwd", "/v/t62.7118-24/%2e%2e%2fsecret.enc"]) {
      const res = await request("GET", path);
      expect([path, res.status, res.json?.error]).toEqual([path, 400, "BAD_PATH"]);
    }
    expect((await request("GET", `/v/t62.7118-24/${"A".repeat(43)}.enc`)).json).toMatchObject({ error: "MEDIA_NOT_FOUND" });
    expect((await request("PUT", `/mms/image/${hash}?auth=${auth}`, e.enc)).status).toBe(405);
  });

  it("refuses a body past its limit (declared or streamed) and a body that does not hash to its path", async () => {
    const { auth } = host.issueAuth();
    const big = encryptMedia(randomBytes(2000), "document");
    const declared = await upload("document", big.enc, auth);
    expect([declared.status, declared.json.error]).toEqual([413, "MEDIA_TOO_LARGE"]);
    const hash = b64url(big.fileEncSha256);
    const streamed = await request("POST", `/mms/document/${hash}?auth=${encodeURIComponent(auth)}`, big.enc, { chunked: true });
    expect([streamed.status, streamed.json.error]).toEqual([413, "MEDIA_TOO_LARGE"]);
    const small = encryptMedia(Buffer.from("y"), "image");
    const wrong = await upload("image", small.enc, auth, b64url(createHash("sha256").update("something else").digest()));
    expect([wrong.status, wrong.json.error]).toEqual([400, "MEDIA_HASH_MISMATCH"]);
    // nothing refused was kept
    expect(host.fileOf(`/v/t62.7118-24/${hash}.enc`, undefined)).toBeUndefined();
  });
});

// media.url fetching: private targets refused (also behind DNS names and redirects), the size cap
// enforced while reading, one deadline for a slow server, bounded redirects.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fetchMedia, isPrivateAddress } from "../../lib/api/media-fetch";
import { actionRoute } from "../../lib/api/action-route";
import { IdempotencyKeys } from "../../lib/api/idempotency";
import { QrPngCache } from "../../lib/api/qr-png";
import { Slots } from "../../lib/api/slots";
import { MemoryApiStore } from "../../lib/api/store";
import type { Exchange } from "../../lib/api/pipeline";
import { waitFor } from "../helpers/processes";

let server: http.Server;
let base: string;
const open = new Set<http.ServerResponse>();
const held: Array<() => void> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    open.add(res);
    res.on("close", () => open.delete(res));
    const u = req.url ?? "/";
    if (u === "/ok") res.end(Buffer.from("hello"));
    else if (u === "/chunked-big") {
      res.writeHead(200, { "content-type": "image/png" });
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(1024));
      res.end();
    } else if (u === "/declared-big") {
      res.writeHead(200, { "content-length": String(10 * 1024 * 1024) });
      res.write(Buffer.alloc(10));
    } else if (u === "/held") {
      // answered when the test lets go
      held.push(() => res.end(Buffer.from("late")));
    } else if (u === "/slow") {
      res.writeHead(200);
      res.write("a"); // then nothing: the deadline must end it
    } else if (u.startsWith("/loop")) {
      res.writeHead(302, { location: `/loop${u.length}` });
      res.end();
    } else if (u === "/to-ok") {
      res.writeHead(301, { location: "/ok" });
      res.end();
    } else if (u === "/to-metadata") {
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const r of open) r.destroy();
  await new Promise((r) => server.close(r));
});

const allow = { maxBytes: 4096, timeoutMs: 2000, allowPrivate: true };
const code = (p: Promise<unknown>) => p.then(() => "ok", (e: any) => e.type as string);

describe("media URL fetching", () => {
  it.each([
    ["127.0.0.1", true],
    ["10.1.2.3", true],
    ["172.31.255.255", true],
    ["192.168.0.10", true],
    ["169.254.169.254", true],
    ["100.64.0.1", true],
    ["0.0.0.0", true],
    ["::1", true],
    ["::", true],
    ["fe80::1", true],
    ["fd00::1", true],
    ["::ffff:127.0.0.1", true],
    ["::ffff:10.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["0:0:0:0:0:ffff:a9fe:a9fe", true],
    ["::ffff:808:808", false],
    ["not-an-ip", true],
    ["8.8.8.8", false],
    ["172.32.0.1", false],
    ["2606:4700:4700::1111", false],
    ["::ffff:8.8.8.8", false],
  ])("%s is private: %s", (addr, expected) => {
    expect(isPrivateAddress(addr)).toBe(expected);
  });

  it("fetches a small body as base64 and follows a redirect", async () => {
    await expect(fetchMedia(`${base}/ok`, allow)).resolves.toMatchObject({ data: Buffer.from("hello").toString("base64") });
    await expect(fetchMedia(`${base}/to-ok`, allow)).resolves.toMatchObject({ data: Buffer.from("hello").toString("base64") });
  });

  it("refuses private targets by address, by name and behind a redirect", async () => {
    const strict = { ...allow, allowPrivate: false };
    expect(await code(fetchMedia(`${base}/ok`, strict))).toBe("MEDIA_URL_REFUSED");
    expect(await code(fetchMedia(`${base.replace("127.0.0.1", "localhost")}/ok`, strict))).toBe("MEDIA_URL_REFUSED");
    expect(await code(fetchMedia(`${base}/to-metadata`, { ...allow, allowPrivate: false }))).toBe("MEDIA_URL_REFUSED");
    expect(await code(fetchMedia(`${base.replace("127.0.0.1", "[::ffff:127.0.0.1]")}/ok`, strict))).toBe("MEDIA_URL_REFUSED");
    expect(await code(fetchMedia("ftp://example.com/x", strict))).toBe("MEDIA_URL_REFUSED");
    expect(await code(fetchMedia("not a url", strict))).toBe("MEDIA_URL_REFUSED");
  });

  it("stops reading past the cap, declared or not", async () => {
    expect(await code(fetchMedia(`${base}/chunked-big`, allow))).toBe("MEDIA_TOO_LARGE");
    expect(await code(fetchMedia(`${base}/declared-big`, allow))).toBe("MEDIA_TOO_LARGE");
  });

  it("gives up on a server that stops sending, on redirect loops and on errors", async () => {
    expect(await code(fetchMedia(`${base}/slow`, { ...allow, timeoutMs: 300 }))).toBe("MEDIA_FETCH_FAILED");
    expect(await code(fetchMedia(`${base}/loop`, allow))).toBe("MEDIA_FETCH_FAILED");
    expect(await code(fetchMedia(`${base}/missing`, allow))).toBe("MEDIA_FETCH_FAILED");
  });
});

describe("media URL fetches on one gateway", () => {
  it("runs at most API_MEDIA_FETCH_CONCURRENCY at once; the next waits, then gets 503 GATEWAY_BUSY; a finished fetch frees its slot", async () => {
    const store = new MemoryApiStore();
    const slots = new Slots(1);
    const handler = actionRoute({ idempotency: new IdempotencyKeys(store, 60_000), qrImages: new QrPngCache(), mediaFetch: allow, mediaFetches: slots, mediaFetchWaitMs: 100 });
    const sent: unknown[] = [];
    const exchange = (url: string) =>
      ({
        def: { method: "POST", path: "/x", action: "sessions.sendMessage", status: 201, mediaBody: true },
        req: { headers: {} },
        res: {},
        params: { workspaceId: "w", sessionId: "s", to: "15550001111", media: { url, mimetype: "image/png" } },
        // the action is not the point: it records what it was given and stops there
        call: async (_action: string, params: any) => {
          sent.push(params.media);
          throw new Error("stop here");
        },
      }) as unknown as Exchange;
    const first = Promise.resolve(handler(exchange(`${base}/held`)));
    first.catch(() => undefined);
    await waitFor("the first fetch to hold the slot", () => slots.inUse === 1 && held.length === 1);
    await expect(handler(exchange(`${base}/ok`))).rejects.toMatchObject({ type: "GATEWAY_BUSY", data: { retryAfter: 1 } });
    held.shift()!();
    await expect(first).rejects.toThrow("stop here");
    expect(slots.inUse).toBe(0);
    await expect(handler(exchange(`${base}/ok`))).rejects.toThrow("stop here");
    expect(sent).toEqual([
      { mimetype: "image/png", data: Buffer.from("late").toString("base64") },
      { mimetype: "image/png", data: Buffer.from("hello").toString("base64") },
    ]);
    await store.close();
  });
});

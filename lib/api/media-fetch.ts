// Fetches a message's media.url for the gateway: http/https only, a size cap enforced while
// reading, one deadline for the whole fetch (redirects included, at most 3), and no private,
// loopback or link-local targets unless API_MEDIA_ALLOW_PRIVATE is on. The address is checked at
// connect time (a custom DNS lookup), so a name that resolves to a private address is refused too.
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { WafleetError } from "../errors";
import { isInternalAddress } from "../net/internal-addresses";

export interface MediaFetchOptions {
  maxBytes: number;
  timeoutMs: number;
  allowPrivate: boolean;
}

/** True for addresses a media fetch may not reach without API_MEDIA_ALLOW_PRIVATE (the list: lib/net, shared with webhooks). */
export function isPrivateAddress(address: string): boolean {
  return isInternalAddress(address);
}

const refused = (why: string) => new WafleetError("MEDIA_URL_REFUSED", `Media URL refused: ${why}`);

export async function fetchMedia(rawUrl: string, opts: MediaFetchOptions): Promise<{ data: string; contentType?: string }> {
  const deadline = Date.now() + opts.timeoutMs;
  let url = rawUrl;
  for (let hop = 0; hop <= 3; hop++) {
    const res = await fetchOnce(url, opts, deadline);
    if ("redirect" in res) {
      url = res.redirect;
      continue;
    }
    return res;
  }
  throw new WafleetError("MEDIA_FETCH_FAILED", "The media URL redirects more than 3 times");
}

function fetchOnce(rawUrl: string, opts: MediaFetchOptions, deadline: number): Promise<{ data: string; contentType?: string } | { redirect: string }> {
  let u: URL;
  try {
    u = new URL(rawUrl);
  } catch {
    return Promise.reject(refused("not a valid URL"));
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return Promise.reject(refused("only http and https are fetched"));
  if (u.username || u.password) return Promise.reject(refused("credentials in the URL are not accepted"));
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!opts.allowPrivate && net.isIP(host) && isPrivateAddress(host)) return Promise.reject(refused("private, loopback and link-local addresses are not fetched"));

  const lookup: net.LookupFunction = (hostname, options, cb) => {
    dns.lookup(hostname, { all: true }, (err, addresses) => {
      if (err) return cb(err, "", 4);
      const list = addresses as dns.LookupAddress[];
      const ok = opts.allowPrivate ? list : list.filter((a) => !isPrivateAddress(a.address));
      if (!ok.length) return cb(Object.assign(new Error("private address"), { code: "WAFLEET_PRIVATE" }), "", 4);
      if ((options as any)?.all) return (cb as any)(null, ok);
      cb(null, ok[0].address, ok[0].family);
    });
  };

  return new Promise((resolve, reject) => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return reject(new WafleetError("MEDIA_FETCH_FAILED", "Fetching the media URL timed out"));
    const client = u.protocol === "https:" ? https : http;
    const req = client.get(u, { lookup, timeout: remaining, headers: { "user-agent": "wafleet-media-fetch", accept: "*/*" } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        try {
          return resolve({ redirect: new URL(res.headers.location, u).toString() });
        } catch {
          return reject(new WafleetError("MEDIA_FETCH_FAILED", "The media URL redirects to an invalid location"));
        }
      }
      if (status < 200 || status >= 300) {
        res.resume();
        return reject(new WafleetError("MEDIA_FETCH_FAILED", `The media URL answered HTTP ${status}`, { status }));
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        req.destroy();
        return reject(new WafleetError("MEDIA_TOO_LARGE", `The media is larger than ${opts.maxBytes} bytes`, { limit: opts.maxBytes }));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes) {
          req.destroy();
          reject(new WafleetError("MEDIA_TOO_LARGE", `The media is larger than ${opts.maxBytes} bytes`, { limit: opts.maxBytes }));
        } else chunks.push(c);
      });
      res.on("end", () => {
        if (size === 0) return reject(new WafleetError("MEDIA_FETCH_FAILED", "The media URL returned an empty body"));
        const contentType = typeof res.headers["content-type"] === "string" ? res.headers["content-type"] : undefined;
        resolve({ data: Buffer.concat(chunks, size).toString("base64"), contentType });
      });
      res.on("error", () => reject(new WafleetError("MEDIA_FETCH_FAILED", "The media download broke off")));
    });
    // the socket timeout only covers idleness; this one covers a slow trickle too
    const timer = setTimeout(() => req.destroy(new Error("timeout")), remaining);
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err: any) => {
      if (err?.code === "WAFLEET_PRIVATE") reject(refused("the host resolves to a private, loopback or link-local address"));
      else if (err?.message === "timeout") reject(new WafleetError("MEDIA_FETCH_FAILED", "Fetching the media URL timed out"));
      else reject(new WafleetError("MEDIA_FETCH_FAILED", `The media URL could not be fetched (${String(err?.code ?? "network error")})`));
    });
  });
}

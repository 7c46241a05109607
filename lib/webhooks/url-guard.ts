// Where webhooks may go: http(s) only, and no private, loopback, link-local or otherwise internal
// address unless WEBHOOK_ALLOW_PRIVATE=true. Checked when the URL is set and again on every
// connection (the lookup below), so a name that later resolves inward is refused too.
import dns from "node:dns";
import net from "node:net";
import { WafleetError } from "../errors";

const blocked = new net.BlockList();
for (const [addr, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  blocked.addSubnet(addr, prefix, "ipv4");
for (const [addr, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
] as const)
  blocked.addSubnet(addr, prefix, "ipv6");

/** True when `ip` is an address webhooks must not reach without WEBHOOK_ALLOW_PRIVATE. */
export function isInternalAddress(ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 4) return blocked.check(ip, "ipv4");
  if (family !== 6) return true;
  const lower = ip.toLowerCase();
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 target
  const embedded = lower.match(/^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/);
  if (embedded) return blocked.check(embedded[1]!, "ipv4");
  const mappedHex = lower.match(/^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/);
  if (mappedHex) {
    const hi = parseInt(mappedHex[1]!, 16);
    const lo = parseInt(mappedHex[2]!, 16);
    return blocked.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, "ipv4");
  }
  return blocked.check(ip, "ipv6");
}

function refused(reason: string): WafleetError {
  return new WafleetError("WEBHOOK_URL_REFUSED", `Webhook URL refused: ${reason}`);
}

/** Parses and checks a webhook URL's form and literal host; throws WEBHOOK_URL_REFUSED. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused("not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw refused(`scheme ${url.protocol} (only http and https)`);
  if (url.username || url.password) throw refused("credentials in the URL (use custom headers)");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!host) throw refused("no host");
  if (!allowPrivate) {
    if (net.isIP(host) && isInternalAddress(host)) throw refused(`${host} is a private, loopback or link-local address`);
    if (/^localhost$|\.localhost$|\.local$|\.internal$/i.test(host)) throw refused(`${host} is an internal name`);
  }
  return url;
}

/** Resolves the URL's host now and refuses it if any address is internal (early feedback on set). */
export async function resolveWebhookUrl(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (net.isIP(host)) return;
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true });
  } catch (err) {
    throw refused(`${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const bad = addresses.find((a) => isInternalAddress(a.address));
  if (bad) throw refused(`${host} resolves to ${bad.address}, a private, loopback or link-local address`);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that refuses internal addresses at connection time (DNS rebinding). */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "");
      const list = addresses as dns.LookupAddress[];
      if (!allowPrivate) {
        const bad = list.find((a) => isInternalAddress(a.address));
        if (bad) {
          const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${bad.address}, an internal address`);
          e.code = "WEBHOOK_URL_REFUSED";
          return callback(e, "");
        }
      }
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "");
      callback(null, first.address, first.family);
    });
  };
}

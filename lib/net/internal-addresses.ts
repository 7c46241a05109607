// Which IP addresses are internal: the one list both outbound guards use (webhook deliveries,
// media.url fetches), so an SSRF range is refused everywhere or nowhere. Besides private, loopback,
// link-local and multicast ranges it holds every IPv6 form that can carry or reach an IPv4 or
// internal target (IPv4-compatible, SIIT, NAT64, 6to4, Teredo) and the deprecated site-local and
// discard prefixes. IPv4-mapped addresses (::ffff:a.b.c.d) are judged by the IPv4 they carry.
import net from "node:net";

const IPV4: Array<[string, number, string]> = [
  ["0.0.0.0", 8, "this network"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local, cloud metadata"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved, broadcast"],
];

const IPV6: Array<[string, number, string]> = [
  ["::", 96, "IPv4-compatible (and the unspecified and loopback addresses)"],
  ["::ffff:0:0:0", 96, "SIIT IPv4-translated"],
  ["64:ff9b::", 96, "NAT64"],
  ["64:ff9b:1::", 48, "local-use NAT64"],
  ["100::", 64, "discard"],
  ["2001::", 32, "Teredo"],
  ["2002::", 16, "6to4"],
  ["fc00::", 7, "unique local"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local (deprecated)"],
  ["ff00::", 8, "multicast"],
];

/** Every range, for documentation and tests: `address/prefix` and why. */
export const INTERNAL_RANGES: ReadonlyArray<{ range: string; why: string }> = [...IPV4, ...IPV6].map(([a, p, why]) => ({ range: `${a}/${p}`, why }));

const v4 = new net.BlockList();
for (const [a, p] of IPV4) v4.addSubnet(a, p, "ipv4");
const v6 = new net.BlockList();
for (const [a, p] of IPV6) v6.addSubnet(a, p, "ipv6");

/** True when `ip` is internal (or not an IP address at all: a caller never connects to that). */
export function isInternalAddress(ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 4) return v4.check(ip, "ipv4");
  if (family !== 6) return true;
  const groups = ipv6Groups(ip);
  if (!groups) return true;
  // IPv4-mapped: the IPv4 it carries decides
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return v4.check(`${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`, "ipv4");
  return v6.check(groups.map((g) => g.toString(16)).join(":"), "ipv6");
}

/** The eight 16-bit groups of an IPv6 address (a zone, `%eth0`, is dropped); undefined if it is not one. */
export function ipv6Groups(ip: string): number[] | undefined {
  const bare = ip.replace(/%.*$/, "");
  if (net.isIP(bare) !== 6) return undefined;
  let text = bare.toLowerCase();
  // a dotted IPv4 tail is two groups
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  if (rest === undefined) return left;
  const right = parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

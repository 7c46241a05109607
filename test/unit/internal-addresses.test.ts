// The one list of internal addresses (lib/net), and both outbound guards using it: webhook URLs
// and media.url fetches refuse the same ranges; a webhook refusal tells the caller that the host
// is not public, and only the operator's log what it resolves to.
import { isPrivateAddress } from "../../lib/api/media-fetch";
import { INTERNAL_RANGES, ipv6Groups, isInternalAddress } from "../../lib/net/internal-addresses";
import { checkWebhookUrl, InternalTargetError, isInternalAddress as webhookGuard, resolveWebhookUrl } from "../../lib/webhooks/url-guard";

const refusedByBoth = (ip: string) => {
  const webhook = (() => {
    try {
      checkWebhookUrl(`http://${ip.includes(":") ? `[${ip}]` : ip}/hook`, false);
      return false;
    } catch (err: any) {
      return err.type === "WEBHOOK_URL_REFUSED";
    }
  })();
  return { ip, internal: isInternalAddress(ip), webhookGuard: webhookGuard(ip), mediaGuard: isPrivateAddress(ip), webhookUrl: webhook };
};

describe("internal addresses", () => {
  it.each([
    "::ffff:0:7f00:1", // SIIT
    "::7f00:1", // IPv4-compatible
    "::8.8.8.8",
    "64:ff9b::8.8.8.8", // NAT64 to anywhere
    "64:ff9b:1::a00:1", // local NAT64
    "2002:7f00:1::1", // 6to4 of 127.0.0.1
    "2002:808:808::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
    "fec0::1", // site-local
    "100::1", // discard
    "::1",
    "::",
    "fe80::1%eth0",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "169.254.169.254",
  ])("%s is refused by both guards", (ip) => {
    expect(refusedByBoth(ip)).toEqual({ ip, internal: true, webhookGuard: true, mediaGuard: true, webhookUrl: true });
  });

  it.each(["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2001:4860:4860::8888", "2003::1"])("%s is public for both guards", (ip) => {
    expect(refusedByBoth(ip)).toEqual({ ip, internal: false, webhookGuard: false, mediaGuard: false, webhookUrl: false });
  });

  it("lists every range the review named", () => {
    const ranges = INTERNAL_RANGES.map((r) => r.range);
    for (const r of ["::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "fec0::/10", "100::/64"]) expect(ranges).toContain(r);
  });

  it("expands IPv6 addresses to their eight groups", () => {
    expect(ipv6Groups("2001:db8::1")).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Groups("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
    expect(ipv6Groups("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ipv6Groups("1.2.3.4")).toBeUndefined();
  });

  it("tells the caller that a name is not public, and keeps what it resolves to for the log", async () => {
    const err = await resolveWebhookUrl(new URL("http://localhost:9/hook"), false).catch((e) => e);
    expect(err).toBeInstanceOf(InternalTargetError);
    expect(err.type).toBe("WEBHOOK_URL_REFUSED");
    expect(err.message).toBe("Webhook URL refused: the host is not a public address");
    expect(err.message).not.toMatch(/127\.0\.0\.1|::1/);
    expect(err.detail).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);
    expect(JSON.stringify(err.data ?? null)).not.toMatch(/127\.0\.0\.1/);
    // a literal address gets the same generic answer
    expect(() => checkWebhookUrl("http://10.1.2.3/x", false)).toThrow("Webhook URL refused: the host is not a public address");
  });
});

import type { IncomingMessage } from "node:http";
import { AuthFailureThrottle, clientAddress, throttledBlock } from "../../lib/api/auth-throttle";
import { MemoryApiStore } from "../../lib/api/store";

const req = (peer: string | undefined, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { "x-forwarded-for": xff } }) as unknown as IncomingMessage;

describe("clientAddress", () => {
  it("is the socket's peer without trusted proxies, whatever X-Forwarded-For says", () => {
    expect(clientAddress(req("10.0.0.5", "203.0.113.7"), 0)).toBe("10.0.0.5");
    expect(clientAddress(req("::ffff:127.0.0.1"), 0)).toBe("127.0.0.1");
    expect(clientAddress(req("::1"), 0)).toBe("::1");
    expect(clientAddress(req(undefined), 0)).toBe("unknown");
  });

  it("reads X-Forwarded-For from the right, one entry per trusted proxy", () => {
    expect(clientAddress(req("10.0.0.5", "198.51.100.1, 203.0.113.7"), 1)).toBe("203.0.113.7");
    expect(clientAddress(req("10.0.0.5", "198.51.100.1, 203.0.113.7"), 2)).toBe("198.51.100.1");
    expect(clientAddress(req("10.0.0.5", ["198.51.100.1", "203.0.113.7"]), 1)).toBe("203.0.113.7");
    expect(clientAddress(req("10.0.0.5", "2001:db8::1"), 1)).toBe("2001:db8::1");
    // fewer entries than trusted hops: the farthest one there is
    expect(clientAddress(req("10.0.0.5", "203.0.113.7"), 3)).toBe("203.0.113.7");
    expect(clientAddress(req("10.0.0.5"), 1)).toBe("10.0.0.5");
  });

  it("stops at an entry that is not an IP address (a store key never holds client-written text)", () => {
    expect(clientAddress(req("10.0.0.5", "evil:key\r\n"), 1)).toBe("10.0.0.5");
    expect(clientAddress(req("10.0.0.5", "203.0.113.7, garbage"), 2)).toBe("10.0.0.5");
    expect(clientAddress(req("10.0.0.5", `${"1".repeat(5000)}`), 1)).toBe("10.0.0.5");
  });
});

describe("the failed-auth throttle's unit of counting", () => {
  it("counts an IPv6 client by its /64, an IPv4 client by its address", async () => {
    expect(throttledBlock("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(throttledBlock("2001:DB8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(throttledBlock("::1")).toBe("0:0:0:0::/64");
    expect(throttledBlock("203.0.113.7")).toBe("203.0.113.7");
    const store = new MemoryApiStore();
    const t = new AuthFailureThrottle(store, 3, 60_000);
    // three failures from three addresses of one /64: the whole /64 is refused
    for (const a of ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"]) await t.failed(a);
    expect(t.blocked("2001:db8:1:2:1234::99").blocked).toBe(true);
    expect(t.blocked("2001:db8:1:3::1").blocked).toBe(false);
    // IPv4 neighbours stay apart
    for (const a of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) await t.failed(a);
    expect(t.blocked("203.0.113.4").blocked).toBe(false);
    await store.close();
  });
});

// AuthFailureThrottle itself is tested on both stores in idempotency.test.ts.

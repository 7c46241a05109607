import type { IncomingMessage } from "node:http";
import { clientAddress } from "../../lib/api/auth-throttle";

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

// AuthFailureThrottle itself is tested on both stores in idempotency.test.ts.

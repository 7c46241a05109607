// The simulated media host's self-signed certificate: every one made parses (DER is strict: a
// needless leading zero in the serial made 1 in 128 unreadable; 600 catch that 99 times in 100), names the loopback addresses, and
// its key matches it.
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { selfSignedLoopback } from "../../lib/simulator/baileys/tls-cert";

describe("the simulated media host's certificate", () => {
  it("parses every time, for 127.0.0.1 and localhost, and matches its key", () => {
    for (let i = 0; i < 600; i++) {
      const { cert, key } = selfSignedLoopback();
      const x = new X509Certificate(cert);
      if (i === 0) {
        expect(x.subjectAltName).toContain("IP Address:127.0.0.1");
        expect(x.subjectAltName).toContain("DNS:localhost");
        expect(x.ca).toBe(true);
        expect(x.verify(x.publicKey)).toBe(true);
        expect(createPublicKey(createPrivateKey(key)).export({ type: "spki", format: "der" }).equals(x.publicKey.export({ type: "spki", format: "der" }))).toBe(true);
      }
    }
  });
});

// A self-signed TLS certificate for the simulated network's loopback media host (127.0.0.1 and
// localhost), made in process with node:crypto (an EC P-256 key, the X.509 DER written by hand), so
// the simulator needs neither openssl nor a key on disk. Trusted only by a Baileys engine in
// simulation, which receives it with the fake server's address (GET /sim/baileys).
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";

/** A DER TLV: tag, definite length, body. */
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  let len: Buffer;
  if (body.length < 0x80) len = Buffer.from([body.length]);
  else {
    const bytes: number[] = [];
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...p: Buffer[]) => der(0x30, ...p);
const set = (...p: Buffer[]) => der(0x31, ...p);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const groups: number[] = [];
    for (let v = n; ; v = Math.floor(v / 128)) {
      groups.unshift(v & 0x7f);
      if (v < 128) break;
    }
    for (let i = 0; i < groups.length - 1; i++) groups[i] |= 0x80;
    out.push(...groups);
  }
  return der(0x06, Buffer.from(out));
}

/** A positive INTEGER from unsigned big-endian bytes. */
const uint = (bytes: Buffer) => der(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);

/** UTCTime `YYMMDDHHMMSSZ` (dates before 2050). */
const utcTime = (d: Date) => der(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z"));

const ECDSA_SHA256 = "1.2.840.10045.4.3.2";

export interface TlsIdentity {
  /** PEM certificate (also the trust root: it is self-signed) */
  cert: string;
  /** PEM PKCS#8 private key */
  key: string;
}

/** A fresh self-signed certificate for `127.0.0.1` and `localhost`, valid from a day ago for `days`. */
export function selfSignedLoopback(commonName = "wafleet simulated media host", days = 3650): TlsIdentity {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const name = seq(set(seq(oid("2.5.4.3"), der(0x0c, Buffer.from(commonName)))));
  // a positive serial whose first byte is not zero: DER integers are minimal, and OpenSSL refuses a
  // certificate whose serial starts with a needless zero byte (1 in 128 random serials did)
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  const now = Date.now();
  const altNames = seq(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from("localhost")));
  const extensions = der(
    0xa3,
    seq(
      seq(oid("2.5.29.17"), der(0x04, altNames)),
      // a CA (its own issuer) so the engine can trust it as a root
      seq(oid("2.5.29.19"), der(0x01, Buffer.from([0xff])), der(0x04, seq(der(0x01, Buffer.from([0xff]))))),
    ),
  );
  const tbs = seq(
    der(0xa0, uint(Buffer.from([2]))),
    uint(serial),
    seq(oid(ECDSA_SHA256)),
    name,
    seq(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + days * 86_400_000))),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    extensions,
  );
  const signature = sign("sha256", tbs, privateKey);
  const certDer = seq(tbs, seq(oid(ECDSA_SHA256)), der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const cert = new X509Certificate(certDer).toString();
  const key = createPrivateKey(privateKey.export({ type: "pkcs8", format: "pem" })).export({ type: "pkcs8", format: "pem" }).toString();
  return { cert, key };
}

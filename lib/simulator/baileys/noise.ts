// The responder side of WhatsApp's Noise XX handshake (Noise_XX_25519_AESGCM_SHA256) and its
// framing: 3-byte big-endian length prefixes, the client's first frame led by the `WA` intro header.
// Written from the protocol, with node:crypto for AES-GCM and HKDF; curve25519 (X25519 agreement,
// XEdDSA signatures) comes from libsignal, the library WhatsApp clients use for those keys.
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from "node:crypto";

 
const curve = require("libsignal/src/curve") as {
  generateKeyPair(): { pubKey: Buffer; privKey: Buffer };
  calculateAgreement(pub: Buffer, priv: Buffer): Buffer;
  calculateSignature(priv: Buffer, msg: Buffer): Buffer;
  verifySignature(pub: Buffer, msg: Buffer, sig: Buffer): boolean;
};

const NOISE_MODE = Buffer.from("Noise_XX_25519_AESGCM_SHA256\0\0\0\0", "latin1");
/** "WA", protocol 6, dictionary version 3 */
export const WA_INTRO = Buffer.from([87, 65, 6, 3]);

export interface CurveKeyPair {
  /** 32 bytes, without the 0x05 type prefix */
  public: Buffer;
  private: Buffer;
}

export function newCurveKeyPair(): CurveKeyPair {
  const { pubKey, privKey } = curve.generateKeyPair();
  return { public: Buffer.from(pubKey.subarray(1)), private: Buffer.from(privKey) };
}

const prefixed = (pub: Buffer) => (pub.length === 33 ? pub : Buffer.concat([Buffer.from([5]), pub]));

export function agree(pub: Buffer, priv: Buffer): Buffer {
  return Buffer.from(curve.calculateAgreement(prefixed(pub), priv));
}

/** An XEdDSA signature with a curve25519 private key, as libsignal makes and checks them. */
export function sign(priv: Buffer, msg: Buffer): Buffer {
  return Buffer.from(curve.calculateSignature(priv, msg));
}

/** Strict: false (never throws, never true) unless `sig` is `pub`'s signature of `msg`. */
export function verify(pub: Buffer, msg: Buffer, sig: Buffer): boolean {
  try {
    return curve.verifySignature(prefixed(pub), msg, sig) === true;
  } catch {
    return false;
  }
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest();

function ivOf(counter: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(counter >>> 0, 8);
  return iv;
}

function seal(key: Buffer, counter: number, ad: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv("aes-256-gcm", key, ivOf(counter));
  c.setAAD(ad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function open(key: Buffer, counter: number, ad: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < 16) throw new Error("ciphertext too short");
  const d = createDecipheriv("aes-256-gcm", key, ivOf(counter));
  d.setAAD(ad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

/** The handshake state (h, ck, k, n) and, once split, the two transport ciphers. */
export class NoiseResponder {
  private hash = NOISE_MODE;
  private salt = NOISE_MODE;
  private key = NOISE_MODE;
  private counter = 0;
  private transport: { enc: Buffer; dec: Buffer; encN: number; decN: number } | undefined;
  readonly ephemeral = newCurveKeyPair();

  constructor() {
    this.mixHash(WA_INTRO);
  }

  mixHash(data: Buffer): void {
    this.hash = sha256(Buffer.concat([this.hash, data]));
  }

  mixKey(ikm: Buffer): void {
    const out = Buffer.from(hkdfSync("sha256", ikm, this.salt, Buffer.alloc(0), 64));
    this.salt = out.subarray(0, 32);
    this.key = out.subarray(32);
    this.counter = 0;
  }

  encryptAndHash(plain: Buffer): Buffer {
    const c = seal(this.key, this.counter++, this.hash, plain);
    this.mixHash(c);
    return c;
  }

  decryptAndHash(sealed: Buffer): Buffer {
    const p = open(this.key, this.counter++, this.hash, sealed);
    this.mixHash(sealed);
    return p;
  }

  /** Ends the handshake: the initiator writes with the first key, so we read with it. */
  split(): void {
    const out = Buffer.from(hkdfSync("sha256", Buffer.alloc(0), this.salt, Buffer.alloc(0), 64));
    this.transport = { dec: out.subarray(0, 32), enc: out.subarray(32), encN: 0, decN: 0 };
  }

  get ready(): boolean {
    return this.transport !== undefined;
  }

  encrypt(plain: Buffer): Buffer {
    const t = this.transport!;
    return seal(t.enc, t.encN++, Buffer.alloc(0), plain);
  }

  decrypt(sealed: Buffer): Buffer {
    const t = this.transport!;
    return open(t.dec, t.decN++, Buffer.alloc(0), sealed);
  }
}

/** Splits a byte stream into length-prefixed frames; the first must start with the WA intro. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private sawIntro = false;

  push(data: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    if (!this.sawIntro) {
      if (this.buf.length < WA_INTRO.length) return [];
      if (!this.buf.subarray(0, WA_INTRO.length).equals(WA_INTRO)) throw new Error("missing WA intro header");
      this.buf = this.buf.subarray(WA_INTRO.length);
      this.sawIntro = true;
    }
    const frames: Buffer[] = [];
    while (this.buf.length >= 3) {
      const size = (this.buf[0] << 16) | (this.buf[1] << 8) | this.buf[2];
      if (this.buf.length < size + 3) break;
      frames.push(Buffer.from(this.buf.subarray(3, size + 3)));
      this.buf = this.buf.subarray(size + 3);
    }
    return frames;
  }
}

export function frame(data: Buffer): Buffer {
  if (data.length >= 1 << 24) throw new Error("frame too large");
  return Buffer.concat([Buffer.from([(data.length >> 16) & 0xff, (data.length >> 8) & 0xff, data.length & 0xff]), data]);
}

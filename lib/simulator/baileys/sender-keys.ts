// Signal's sender keys (the group cipher WhatsApp encrypts group messages with, `skmsg`), written
// for the fake WhatsApp server independently of Baileys' own implementation (only node:crypto and
// the curve signatures the fake already uses), so a mistake on one side is not hidden by the same
// mistake on the other; test/unit/baileys-sender-keys.test.ts runs it against Baileys' GroupCipher.
//
// A sender key is a chain key, an iteration and a signing key pair. Per message: the message key
// seed is HMAC-SHA256(chainKey, 0x01) and the next chain key HMAC-SHA256(chainKey, 0x02); the seed
// expands with HKDF-SHA256 (salt 32 zero bytes, info "WhisperGroup") to 48 bytes: IV (16) and
// AES-256-CBC key (32). Wire formats, each after a version byte 0x33:
//  - SenderKeyDistributionMessage: protobuf {1 id, 2 iteration, 3 chainKey, 4 signingKey (33 bytes)}
//  - SenderKeyMessage: protobuf {1 id, 2 iteration, 3 ciphertext}, then a 64-byte XEdDSA signature
//    of everything before it by the signing key.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt } from "node:crypto";
import { newCurveKeyPair, sign, verify } from "./noise";
import type { CurveKeyPair } from "./noise";

const VERSION = 0x33;
const SIGNATURE_LENGTH = 64;
/** How far ahead of its chain a message may be (as libsignal allows) */
const MAX_SKIP = 2000;
/** Skipped message keys kept per sender (for messages that arrive out of order) */
const SKIPPED_KEPT = 2000;

export interface SenderKeyDistribution {
  id: number;
  iteration: number;
  chainKey: Buffer;
  /** 33 bytes: the curve type byte 0x05 and the public key */
  signingKey: Buffer;
}

/** The message key of one iteration: its IV and AES-256 key. */
function messageKey(chainKey: Buffer): { iv: Buffer; key: Buffer } {
  const seed = createHmac("sha256", chainKey).update(Buffer.from([1])).digest();
  const out = Buffer.from(hkdfSync("sha256", seed, Buffer.alloc(32), Buffer.from("WhisperGroup"), 48));
  return { iv: out.subarray(0, 16), key: out.subarray(16, 48) };
}

const nextChainKey = (chainKey: Buffer) => createHmac("sha256", chainKey).update(Buffer.from([2])).digest();

/** One participant's own sender key for one group: encrypts what it posts. */
export class SenderKeySender {
  readonly id = randomInt(1, 2 ** 31);
  private iteration = 0;
  private chainKey = randomBytes(32);
  private readonly signing: CurveKeyPair = newCurveKeyPair();

  /** What the other members need to read this sender's messages from now on. */
  distribution(): Buffer {
    return encodeDistribution({ id: this.id, iteration: this.iteration, chainKey: this.chainKey, signingKey: Buffer.concat([Buffer.from([5]), this.signing.public]) });
  }

  /** A SenderKeyMessage carrying `plain` (already padded by the caller). */
  encrypt(plain: Buffer): Buffer {
    const { iv, key } = messageKey(this.chainKey);
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    const body = Buffer.concat([Buffer.from([VERSION]), encodeFields([[1, this.id], [2, this.iteration], [3, ciphertext]])]);
    this.chainKey = nextChainKey(this.chainKey);
    this.iteration++;
    return Buffer.concat([body, sign(this.signing.private, body)]);
  }
}

/** What a member learnt of another member's sender key: decrypts that member's messages. */
export class SenderKeyReceiver {
  private iteration: number;
  private chainKey: Buffer;
  private readonly skipped = new Map<number, { iv: Buffer; key: Buffer }>();
  readonly id: number;
  private readonly signingKey: Buffer;

  constructor(distribution: SenderKeyDistribution) {
    this.id = distribution.id;
    this.iteration = distribution.iteration;
    this.chainKey = Buffer.from(distribution.chainKey);
    this.signingKey = Buffer.from(distribution.signingKey);
  }

  static fromBytes(serialized: Buffer): SenderKeyReceiver {
    return new SenderKeyReceiver(decodeDistribution(serialized));
  }

  /** The plaintext (still padded) of a SenderKeyMessage; throws on a bad signature, key id or iteration. */
  decrypt(serialized: Buffer): Buffer {
    if (serialized.length < 1 + SIGNATURE_LENGTH || serialized[0] !== VERSION) throw new Error("not a version 3 SenderKeyMessage");
    const body = serialized.subarray(0, serialized.length - SIGNATURE_LENGTH);
    const signature = serialized.subarray(serialized.length - SIGNATURE_LENGTH);
    if (!verify(this.signingKey, body, signature)) throw new Error("SenderKeyMessage: bad signature");
    const fields = decodeFields(body.subarray(1));
    const id = Number(fields.get(1) ?? 0);
    const iteration = Number(fields.get(2) ?? 0);
    const ciphertext = fields.get(3);
    if (id !== this.id) throw new Error(`SenderKeyMessage: unknown key id ${id}`);
    if (!Buffer.isBuffer(ciphertext)) throw new Error("SenderKeyMessage without ciphertext");
    const { iv, key } = this.keyFor(iteration);
    const decipher = createDecipheriv("aes-256-cbc", key, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }

  private keyFor(iteration: number): { iv: Buffer; key: Buffer } {
    if (iteration < this.iteration) {
      const k = this.skipped.get(iteration);
      if (!k) throw new Error(`SenderKeyMessage: iteration ${iteration} was already used`);
      this.skipped.delete(iteration);
      return k;
    }
    if (iteration - this.iteration > MAX_SKIP) throw new Error(`SenderKeyMessage: iteration ${iteration} is too far ahead`);
    while (this.iteration < iteration) {
      this.skipped.set(this.iteration, messageKey(this.chainKey));
      if (this.skipped.size > SKIPPED_KEPT) this.skipped.delete(this.skipped.keys().next().value!);
      this.chainKey = nextChainKey(this.chainKey);
      this.iteration++;
    }
    const k = messageKey(this.chainKey);
    this.chainKey = nextChainKey(this.chainKey);
    this.iteration++;
    return k;
  }
}

export function encodeDistribution(d: SenderKeyDistribution): Buffer {
  return Buffer.concat([Buffer.from([VERSION]), encodeFields([[1, d.id], [2, d.iteration], [3, d.chainKey], [4, d.signingKey]])]);
}

export function decodeDistribution(serialized: Buffer): SenderKeyDistribution {
  if (serialized.length < 2 || serialized[0] >> 4 !== 3) throw new Error("not a version 3 SenderKeyDistributionMessage");
  const f = decodeFields(serialized.subarray(1));
  const chainKey = f.get(3);
  const signingKey = f.get(4);
  if (!Buffer.isBuffer(chainKey) || chainKey.length !== 32 || !Buffer.isBuffer(signingKey) || (signingKey.length !== 33 && signingKey.length !== 32)) throw new Error("SenderKeyDistributionMessage without a chain key or signing key");
  return { id: Number(f.get(1) ?? 0), iteration: Number(f.get(2) ?? 0), chainKey, signingKey: signingKey.length === 32 ? Buffer.concat([Buffer.from([5]), signingKey]) : signingKey };
}

// --- the little protobuf these two messages need: varints (wire type 0) and bytes (wire type 2) ---

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function encodeFields(fields: Array<[number, number | Buffer]>): Buffer {
  return Buffer.concat(fields.map(([no, v]) => (typeof v === "number" ? Buffer.concat([varint(no << 3), varint(v)]) : Buffer.concat([varint((no << 3) | 2), varint(v.length), v]))));
}

function decodeFields(b: Buffer): Map<number, number | Buffer> {
  const out = new Map<number, number | Buffer>();
  let i = 0;
  const readVarint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= b.length) throw new Error("truncated protobuf");
      const byte = b[i++];
      v += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return v;
      shift += 7;
      if (shift > 63) throw new Error("bad varint");
    }
  };
  while (i < b.length) {
    const tag = readVarint();
    const no = Math.floor(tag / 8);
    const type = tag & 7;
    if (type === 0) out.set(no, readVarint());
    else if (type === 2) {
      const len = readVarint();
      if (i + len > b.length) throw new Error("truncated protobuf");
      out.set(no, Buffer.from(b.subarray(i, i + len)));
      i += len;
    } else throw new Error(`unexpected protobuf wire type ${type}`);
  }
  return out;
}

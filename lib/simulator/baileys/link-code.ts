// The phone's side of WhatsApp's link-code pairing (linking by phone number instead of a QR), as the
// fake WhatsApp server plays it for the simulated phones. The companion (Baileys) makes an 8-character
// code and shows it; it sends its ephemeral key wrapped with a key derived from the code. The phone
// the code is typed on unwraps it, answers with its own wrapped ephemeral key and its identity key,
// and the companion sends back a key bundle sealed with their shared secret: it opens only if both
// sides used the same code. Both then derive the ADV secret the device identity is signed with.
// Written from the protocol with node:crypto; curve25519 from libsignal (noise.ts).
import { createCipheriv, createDecipheriv, hkdfSync, pbkdf2, randomBytes } from "node:crypto";
import { agree, newCurveKeyPair } from "./noise";
import type { CurveKeyPair } from "./noise";

/** PBKDF2-SHA256 iterations of the code's key (2 << 16), as WhatsApp's clients use. */
const CODE_KEY_ITERATIONS = 2 << 16;
const SALT_BYTES = 32;
const CTR_IV_BYTES = 16;
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const KEY_BYTES = 32;
/** A wrapped key: salt, counter-mode IV, the 32-byte public key. */
export const WRAPPED_KEY_BYTES = SALT_BYTES + CTR_IV_BYTES + KEY_BYTES;
/** A key bundle: salt, GCM IV, then the companion's identity, the primary's identity and 32 random bytes, sealed. */
const BUNDLE_BYTES = SALT_BYTES + GCM_IV_BYTES + 3 * KEY_BYTES + GCM_TAG_BYTES;

function codeKey(code: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2(Buffer.from(code, "utf8"), salt, CODE_KEY_ITERATIONS, KEY_BYTES, "sha256", (err, key) => (err ? reject(err) : resolve(key))));
}

/** Wraps a public key with the code (what each side sends the other). */
export async function wrapWithCode(publicKey: Buffer, code: string): Promise<Buffer> {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(CTR_IV_BYTES);
  const c = createCipheriv("aes-256-ctr", await codeKey(code, salt), iv);
  return Buffer.concat([salt, iv, c.update(publicKey), c.final()]);
}

/**
 * Unwraps a public key with the code. Counter mode has no check: a wrong code yields a wrong key,
 * found out only when the key bundle does not open.
 */
export async function unwrapWithCode(wrapped: Buffer, code: string): Promise<Buffer> {
  if (wrapped.length !== WRAPPED_KEY_BYTES) throw new Error(`a wrapped key is ${WRAPPED_KEY_BYTES} bytes, not ${wrapped.length}`);
  const salt = wrapped.subarray(0, SALT_BYTES);
  const iv = wrapped.subarray(SALT_BYTES, SALT_BYTES + CTR_IV_BYTES);
  const d = createDecipheriv("aes-256-ctr", await codeKey(code, salt), iv);
  return Buffer.concat([d.update(wrapped.subarray(SALT_BYTES + CTR_IV_BYTES)), d.final()]);
}

/** The phone's half of one pairing attempt: the code typed, and the keys it answers with. */
export class PrimaryLinkCode {
  readonly ephemeral: CurveKeyPair = newCurveKeyPair();

  private constructor(
    /** The companion's ephemeral public key, as unwrapped with the typed code. */
    private readonly companionEphemeral: Buffer,
    readonly code: string,
  ) {}

  static async typed(companionWrapped: Buffer, code: string): Promise<PrimaryLinkCode> {
    return new PrimaryLinkCode(await unwrapWithCode(companionWrapped, code), code);
  }

  /** Our ephemeral public key, wrapped with the typed code for the companion. */
  wrappedEphemeral(): Promise<Buffer> {
    return wrapWithCode(this.ephemeral.public, this.code);
  }

  /**
   * Opens the companion's key bundle: its identity key and the random bytes the ADV secret is made
   * with, or undefined when it does not open (the typed code was not the companion's) or does not
   * name `primaryIdentity` as ours.
   */
  openBundle(bundle: Buffer, primaryIdentity: CurveKeyPair): { companionIdentity: Buffer; advSecret: Buffer } | undefined {
    if (bundle.length !== BUNDLE_BYTES) return undefined;
    const shared = agree(this.companionEphemeral, this.ephemeral.private);
    const salt = bundle.subarray(0, SALT_BYTES);
    const iv = bundle.subarray(SALT_BYTES, SALT_BYTES + GCM_IV_BYTES);
    const sealed = bundle.subarray(SALT_BYTES + GCM_IV_BYTES, bundle.length - GCM_TAG_BYTES);
    const key = Buffer.from(hkdfSync("sha256", shared, salt, "link_code_pairing_key_bundle_encryption_key", KEY_BYTES));
    let plain: Buffer;
    try {
      const d = createDecipheriv("aes-256-gcm", key, iv);
      d.setAuthTag(bundle.subarray(bundle.length - GCM_TAG_BYTES));
      plain = Buffer.concat([d.update(sealed), d.final()]);
    } catch {
      return undefined;
    }
    const companionIdentity = plain.subarray(0, KEY_BYTES);
    if (!plain.subarray(KEY_BYTES, 2 * KEY_BYTES).equals(primaryIdentity.public)) return undefined;
    const random = plain.subarray(2 * KEY_BYTES);
    const identityShared = agree(companionIdentity, primaryIdentity.private);
    const advSecret = Buffer.from(hkdfSync("sha256", Buffer.concat([shared, identityShared, random]), Buffer.alloc(0), "adv_secret", KEY_BYTES));
    return { companionIdentity: Buffer.from(companionIdentity), advSecret };
  }
}

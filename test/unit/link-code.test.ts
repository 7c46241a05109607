// The phone's side of link-code pairing (lib/simulator/baileys/link-code.ts) against Baileys' own
// companion-side primitives (independent implementations): a code typed right opens the companion's
// key bundle and both sides derive the same ADV secret; a wrong code, another phone's identity or a
// tampered bundle open nothing.
import { hkdfSync, randomBytes } from "node:crypto";
import { PrimaryLinkCode, WRAPPED_KEY_BYTES, unwrapWithCode } from "../../lib/simulator/baileys/link-code";
import { agree, newCurveKeyPair } from "../../lib/simulator/baileys/noise";

const baileys = require("baileys");

/** The companion, as Baileys plays it (socket.js generatePairingKey, messages-recv.js link_code_companion_reg). */
async function companion(code: string) {
  const ephemeral = baileys.Curve.generateKeyPair();
  const identity = baileys.Curve.generateKeyPair();
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const key = await baileys.derivePairingCodeKey(code, salt);
  const wrapped = Buffer.concat([salt, iv, baileys.aesEncryptCTR(ephemeral.public, key, iv)]);
  return {
    wrapped,
    identity,
    /** Reads the phone's wrapped key with its own code and seals the key bundle; returns it and its ADV secret. */
    async finish(primaryWrapped: Buffer, primaryIdentity: Buffer) {
      const s = primaryWrapped.subarray(0, 32);
      const k = await baileys.derivePairingCodeKey(code, s);
      const primaryEphemeral = baileys.aesDecryptCTR(primaryWrapped.subarray(48, 80), k, primaryWrapped.subarray(32, 48));
      const shared = baileys.Curve.sharedKey(ephemeral.private, primaryEphemeral);
      const random = randomBytes(32);
      const bundleSalt = randomBytes(32);
      const bundleKey = Buffer.from(hkdfSync("sha256", shared, bundleSalt, "link_code_pairing_key_bundle_encryption_key", 32));
      const gcmIv = randomBytes(12);
      const sealed = baileys.aesEncryptGCM(Buffer.concat([identity.public, primaryIdentity, random]), bundleKey, gcmIv, Buffer.alloc(0));
      const identityShared = baileys.Curve.sharedKey(identity.private, primaryIdentity);
      const advSecret = Buffer.from(hkdfSync("sha256", Buffer.concat([shared, identityShared, random]), Buffer.alloc(0), "adv_secret", 32));
      return { bundle: Buffer.concat([bundleSalt, gcmIv, sealed]), advSecret };
    },
  };
}

describe("link-code pairing, the phone's side", () => {
  const phoneIdentity = newCurveKeyPair();

  it("with the companion's code: the bundle opens, names the companion's identity, and both derive the same ADV secret", async () => {
    const c = await companion("ABCD1234");
    const primary = await PrimaryLinkCode.typed(c.wrapped, "ABCD1234");
    const { bundle, advSecret } = await c.finish(await primary.wrappedEphemeral(), phoneIdentity.public);
    const opened = primary.openBundle(bundle, phoneIdentity);
    expect(opened?.companionIdentity.equals(Buffer.from(c.identity.public))).toBe(true);
    expect(opened?.advSecret.equals(advSecret)).toBe(true);
  });

  it("with a wrong code, another phone's identity, or a bundle changed on the way: nothing opens", async () => {
    const c = await companion("ABCD1234");
    const wrong = await PrimaryLinkCode.typed(c.wrapped, "ABCD1235");
    expect(wrong.openBundle((await c.finish(await wrong.wrappedEphemeral(), phoneIdentity.public)).bundle, phoneIdentity)).toBeUndefined();

    const right = await PrimaryLinkCode.typed(c.wrapped, "ABCD1234");
    const other = newCurveKeyPair();
    expect(right.openBundle((await c.finish(await right.wrappedEphemeral(), other.public)).bundle, phoneIdentity)).toBeUndefined();

    const { bundle } = await c.finish(await right.wrappedEphemeral(), phoneIdentity.public);
    for (const at of [0, 40, 60, bundle.length - 1]) {
      const tampered = Buffer.from(bundle);
      tampered[at] ^= 1;
      expect(right.openBundle(tampered, phoneIdentity)).toBeUndefined();
    }
    expect(right.openBundle(bundle.subarray(1), phoneIdentity)).toBeUndefined();
    expect(right.openBundle(bundle, phoneIdentity)).toBeDefined();
  });

  it("refuses a wrapped key of the wrong size", async () => {
    await expect(unwrapWithCode(Buffer.alloc(WRAPPED_KEY_BYTES - 1), "ABCD1234")).rejects.toThrow(/80 bytes/);
  });

  it("agrees with libsignal's curve on shared keys (the keys Baileys makes)", () => {
    const a = baileys.Curve.generateKeyPair();
    const b = newCurveKeyPair();
    expect(agree(Buffer.from(a.public), b.private).equals(Buffer.from(baileys.Curve.sharedKey(a.private, b.public)))).toBe(true);
  });
});

// Two Signal parties (npm libsignal, stores that keep records serialized, as real stores do) start a
// session with each other at the same moment and then keep writing both ways. Each record then holds
// two sessions, and a message for one of them is first tried on the other: that trial must leave the
// session it failed on untouched, or the next message encrypted with it fails with "Bad MAC".
import { trialDecryptOnCopies } from "../../lib/whatsapp/libsignal-trial";
import { quietLibsignal } from "../../lib/whatsapp/quiet-signal";

const libsignal = require("libsignal");

function party(name: string) {
  const identity = libsignal.keyhelper.generateIdentityKeyPair();
  const registrationId = libsignal.keyhelper.generateRegistrationId();
  const signed = libsignal.keyhelper.generateSignedPreKey(identity, 1);
  const preKeys = new Map<number, unknown>();
  const sessions = new Map<string, unknown>();
  const store = {
    getOurIdentity: async () => identity,
    getOurRegistrationId: async () => registrationId,
    isTrustedIdentity: async () => true,
    loadSession: async (id: string) => (sessions.has(id) ? libsignal.SessionRecord.deserialize(sessions.get(id)) : undefined),
    storeSession: async (id: string, record: any) => void sessions.set(id, record.serialize()),
    loadPreKey: async (id: number) => preKeys.get(Number(id)),
    removePreKey: async (id: number) => void preKeys.delete(Number(id)),
    loadSignedPreKey: async () => signed.keyPair,
  };
  const bundle = (keyId: number) => {
    const pre = libsignal.keyhelper.generatePreKey(keyId);
    preKeys.set(keyId, pre.keyPair);
    return { identityKey: identity.pubKey, registrationId, signedPreKey: { keyId: 1, publicKey: signed.keyPair.pubKey, signature: signed.signature }, preKey: { keyId, publicKey: pre.keyPair.pubKey } };
  };
  return { address: new libsignal.ProtocolAddress(name, 1), store, bundle };
}

type Party = ReturnType<typeof party>;
const encrypt = async (from: Party, to: Party, text: string) => new libsignal.SessionCipher(from.store, to.address).encrypt(Buffer.from(text));
const decrypt = async (at: Party, from: Party, m: { type: number; body: string }) => {
  const cipher = new libsignal.SessionCipher(at.store, from.address);
  const body = Buffer.from(m.body, "binary");
  return Buffer.from(m.type === 3 ? await cipher.decryptPreKeyWhisperMessage(body) : await cipher.decryptWhisperMessage(body)).toString();
};

it("decrypts every message both ways after both parties started a session at the same moment", async () => {
  quietLibsignal();
  trialDecryptOnCopies();
  const errors = jest.spyOn(console, "error").mockImplementation(() => {});
  jest.spyOn(console, "warn").mockImplementation(() => {});
  const alice = party("alice");
  const bob = party("bob");
  // each fetched the other's bundle before either message arrived
  await new libsignal.SessionBuilder(alice.store, bob.address).initOutgoing(bob.bundle(7));
  await new libsignal.SessionBuilder(bob.store, alice.address).initOutgoing(alice.bundle(9));
  const heard: string[] = [];
  for (let round = 0; round < 6; round++) {
    const a = await encrypt(alice, bob, `a${round}`);
    const b = await encrypt(bob, alice, `b${round}`);
    heard.push(await decrypt(bob, alice, a), await decrypt(alice, bob, b));
  }
  expect(heard).toEqual([0, 1, 2, 3, 4, 5].flatMap((r) => [`a${r}`, `b${r}`]));
  expect(errors).not.toHaveBeenCalled();
});

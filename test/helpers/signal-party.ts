// A Signal party made of plain npm libsignal, for unit tests of Signal sessions: identity, signed
// prekey, one-time prekeys on demand, and a store that keeps session records serialized, as a real
// store does (a record read is a copy; only what is stored counts).
const libsignal = require("libsignal");

export interface SignalMessage {
  type: "pkmsg" | "msg";
  ciphertext: Buffer;
}

export function signalParty(name: string, device = 1) {
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
  return {
    address: new libsignal.ProtocolAddress(name, device),
    /** What another party starts a session from, with a fresh one-time prekey `keyId` */
    bundle(keyId: number) {
      const pre = libsignal.keyhelper.generatePreKey(keyId);
      preKeys.set(keyId, pre.keyPair);
      return { identityKey: identity.pubKey, registrationId, signedPreKey: { keyId: 1, publicKey: signed.keyPair.pubKey, signature: signed.signature }, preKey: { keyId, publicKey: pre.keyPair.pubKey } };
    },
    /** Starts a session with the party at `to` from its bundle */
    start: (to: unknown, bundle: unknown): Promise<void> => new libsignal.SessionBuilder(store, to).initOutgoing(bundle),
    async encrypt(to: unknown, text: string): Promise<SignalMessage> {
      const m = await new libsignal.SessionCipher(store, to).encrypt(Buffer.from(text));
      return { type: m.type === 3 ? "pkmsg" : "msg", ciphertext: Buffer.from(m.body, "binary") };
    },
    async decrypt(from: unknown, m: SignalMessage): Promise<string> {
      const cipher = new libsignal.SessionCipher(store, from);
      return Buffer.from(m.type === "pkmsg" ? await cipher.decryptPreKeyWhisperMessage(m.ciphertext) : await cipher.decryptWhisperMessage(m.ciphertext)).toString();
    },
  };
}

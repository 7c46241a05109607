// Baileys' own Signal repository and key-store transactions (real Baileys 7.0.0-rc14 and libsignal
// code) over a key store whose reads answer late, as a database's do. A send holds its transaction
// (keyed by the account's id) from its encryption until its stanza is written; a contact's message
// decrypted meanwhile runs in a transaction keyed by the contact. Without one lane for both, the
// decryption reads the session before the send commits and writes it back after: the send's step of
// the ratchet is lost, the next message reuses a counter, and the contact cannot decrypt it.
import { oneSignalLane } from "../../lib/engines/baileys/signal-lane";
import { loadBaileys } from "../../lib/engines/baileys/library";
import { signalParty } from "../helpers/signal-party";
import type { SignalMessage } from "../helpers/signal-party";

const libsignal = require("libsignal");

const ME = "15550001111:5@s.whatsapp.net";
const PEER = "4915100000001@s.whatsapp.net";
const silent: any = { level: "silent", trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Baileys' side: creds, a key store whose session reads take `readDelay` (snapshot at the call), the repository. */
function account(make: (auth: any, logger: any, pnToLid?: any) => any) {
  const b = loadBaileys();
  const creds = b.initAuthCreds();
  creds.me = { id: ME };
  const data: Record<string, Record<string, unknown>> = {};
  const gate = { readDelay: Promise.resolve() as Promise<void> };
  const raw = {
    get: async (type: string, ids: string[]) => {
      const snapshot = Object.fromEntries(ids.flatMap((id) => (data[type]?.[id] !== undefined ? [[id, structuredClone(data[type]![id])]] : [])));
      if (type === "session") await gate.readDelay;
      return snapshot;
    },
    set: async (update: Record<string, Record<string, unknown>>) => {
      for (const [type, entries] of Object.entries(update)) {
        data[type] ??= {};
        for (const [id, v] of Object.entries(entries)) {
          if (v === null || v === undefined) delete data[type]![id];
          else data[type]![id] = structuredClone(v);
        }
      }
    },
  };
  const keys = b.addTransactionCapability(raw, silent, { maxCommitRetries: 1, delayBetweenTriesMs: 0 });
  const repository = make({ creds, keys }, silent, async () => []);
  const preKey = b.Curve.generateKeyPair();
  data["pre-key"] = { "1": preKey };
  const bundle = {
    identityKey: b.generateSignalPubKey(creds.signedIdentityKey.public),
    registrationId: creds.registrationId,
    signedPreKey: { keyId: creds.signedPreKey.keyId, publicKey: b.generateSignalPubKey(creds.signedPreKey.keyPair.public), signature: creds.signedPreKey.signature },
    preKey: { keyId: 1, publicKey: b.generateSignalPubKey(preKey.public) },
  };
  return { keys, repository, gate, bundle };
}

/** The contact's phone: a plain libsignal party, writing to the account's device (`15550001111.5`). */
function contact() {
  const party = signalParty("4915100000001", 0);
  const me = new libsignal.ProtocolAddress("15550001111", 5);
  return { start: (bundle: unknown) => party.start(me, bundle), encrypt: (text: string) => party.encrypt(me, text), decrypt: (m: SignalMessage) => party.decrypt(me, m) };
}

/** A send to the contact (its transaction held until the stanza is written) while the contact's message is decrypted. */
async function crossing(make: (auth: any, logger: any, pnToLid?: any) => any): Promise<string[]> {
  const me = account(make);
  const peer = contact();
  await peer.start(me.bundle);
  const plain = (u: Uint8Array) => Buffer.from(u).toString();
  expect(plain(await me.repository.decryptMessage({ jid: PEER, type: "pkmsg", ciphertext: (await peer.encrypt("hello")).ciphertext }))).toBe("hello");
  const first = await me.repository.encryptMessage({ jid: PEER, data: Buffer.from("hi") });
  expect(await peer.decrypt(first)).toBe("hi");
  // the contact answers twice: the first answer turns the ratchet, the second comes on the same chain
  expect(plain(await me.repository.decryptMessage({ jid: PEER, type: "msg", ciphertext: (await peer.encrypt("hi!")).ciphertext }))).toBe("hi!");
  const incoming = await peer.encrypt("how are you?");

  let written!: () => void;
  const stanzaWritten = new Promise<void>((resolve) => (written = resolve));
  let sent!: SignalMessage;
  let encrypted!: () => void;
  const sendEncrypted = new Promise<void>((resolve) => (encrypted = resolve));
  const send = me.keys.transaction(async () => {
    sent = await me.repository.encryptMessage({ jid: PEER, data: Buffer.from("fine") });
    encrypted();
    await stanzaWritten;
  }, ME);
  await sendEncrypted;
  // the decryption's read of the session answers only once the send has committed
  let answer!: () => void;
  me.gate.readDelay = new Promise<void>((resolve) => (answer = resolve));
  const decrypted = me.repository.decryptMessage({ jid: PEER, type: "msg", ciphertext: incoming.ciphertext });
  await new Promise((r) => setImmediate(r));
  written();
  await send;
  answer();
  me.gate.readDelay = Promise.resolve();
  const heard = [plain(await decrypted), await peer.decrypt(sent)];
  const next = await me.repository.encryptMessage({ jid: PEER, data: Buffer.from("and you?") });
  heard.push(await peer.decrypt(next).catch((err: Error) => `contact cannot decrypt: ${err.message}`));
  return heard;
}

it("keeps a send's ratchet step when a contact's message is decrypted while the send is under way", async () => {
  jest.spyOn(console, "error").mockImplementation(() => {});
  const make = loadBaileys().DEFAULT_CONNECTION_CONFIG.makeSignalRepository;
  expect(await crossing(oneSignalLane(make))).toEqual(["how are you?", "fine", "and you?"]);
});

// The fake WhatsApp server's sender keys (lib/simulator/baileys/sender-keys.ts, written on its own)
// against Baileys' own group cipher as the other side: each decrypts what the other encrypts, from a
// distribution message the other made; our side refuses a forged signature or an unknown key.
import { randomBytes } from "node:crypto";
import { SenderKeyReceiver, SenderKeySender, decodeDistribution } from "../../lib/simulator/baileys/sender-keys";

 
const group = require("baileys/lib/Signal/Group/index.js") as any;

/** Baileys' sender key store, in memory. */
function memoryStore() {
  const records = new Map<string, unknown>();
  return {
    loadSenderKey: async (name: any) => {
      const r = records.get(name.toString());
      return r ?? new group.SenderKeyRecord();
    },
    storeSenderKey: async (name: any, record: any) => void records.set(name.toString(), record),
  };
}

const NAME = () => new group.SenderKeyName("120363000000000001@g.us", { id: "4915112345678", deviceId: 0, toString: () => "4915112345678.0" });

describe("sender keys", () => {
  it("Baileys' GroupCipher reads what our sender encrypts, in order and out of order", async () => {
    const store = memoryStore();
    const sender = new SenderKeySender();
    await new group.GroupSessionBuilder(store).process(NAME(), new group.SenderKeyDistributionMessage(null, null, null, null, sender.distribution()));
    const cipher = new group.GroupCipher(store, NAME());
    const plains = [0, 1, 2, 3].map(() => randomBytes(1 + Math.floor(Math.random() * 100)));
    const sealed = plains.map((p) => sender.encrypt(p));
    expect(Buffer.from(await cipher.decrypt(sealed[0]))).toEqual(plains[0]);
    // a later one before an earlier one (the skipped key is kept)
    expect(Buffer.from(await cipher.decrypt(sealed[2]))).toEqual(plains[2]);
    expect(Buffer.from(await cipher.decrypt(sealed[1]))).toEqual(plains[1]);
    expect(Buffer.from(await cipher.decrypt(sealed[3]))).toEqual(plains[3]);
  });

  it("our receiver reads what Baileys' GroupCipher encrypts, from Baileys' distribution message", async () => {
    const store = memoryStore();
    const skdm = await new group.GroupSessionBuilder(store).create(NAME());
    const receiver = SenderKeyReceiver.fromBytes(Buffer.from(skdm.serialize()));
    expect(decodeDistribution(Buffer.from(skdm.serialize())).signingKey).toHaveLength(33);
    const cipher = new group.GroupCipher(store, NAME());
    for (let i = 0; i < 5; i++) {
      const plain = randomBytes(1 + i * 37);
      expect(receiver.decrypt(Buffer.from(await cipher.encrypt(plain)))).toEqual(plain);
    }
  });

  it("refuses a forged signature, a message under another key, and a reused iteration", async () => {
    const sender = new SenderKeySender();
    const receiver = SenderKeyReceiver.fromBytes(sender.distribution());
    const good = sender.encrypt(Buffer.from("hello"));
    const forged = Buffer.from(good);
    forged[forged.length - 1] ^= 1;
    expect(() => receiver.decrypt(forged)).toThrow(/signature/);
    const tampered = Buffer.from(good);
    tampered[tampered.length - 65] ^= 1; // the ciphertext's last byte: the signature no longer matches
    expect(() => receiver.decrypt(tampered)).toThrow(/signature/);
    expect(receiver.decrypt(good).toString()).toBe("hello");
    expect(() => receiver.decrypt(good)).toThrow(/already used/);
    const other = new SenderKeySender();
    // another sender's message, verified against this receiver's signing key, is refused
    expect(() => receiver.decrypt(other.encrypt(Buffer.from("x")))).toThrow();
  });
});

// The fake server's app-state patch decoder (written with node:crypto) reads what Baileys' own
// encoder writes, and refuses a patch under an unknown key, with a tampered value or index, or that
// is not a patch at all, each with a stable code.
import { AppStateError, decodePatch, keyShareMessage, newAppStateKey } from "../../lib/simulator/baileys/app-state";

const { proto } = require("baileys/WAProto/index.js");

async function baileysPatch(key: { keyId: Buffer; keyData: Buffer }): Promise<Buffer> {
  const { encodeSyncdPatch, newLTHashState } = require("baileys");
  const patchCreate = {
    syncAction: { deleteMessageForMeAction: { deleteMedia: false, messageTimestamp: 1700000000 } },
    index: ["deleteMessageForMe", "4915100000002@s.whatsapp.net", "3EB0ABCDEF", "0", "0"],
    type: "regular_high",
    apiVersion: 3,
    operation: proto.SyncdMutation.SyncdOperation.SET,
  };
  const { patch } = await encodeSyncdPatch(patchCreate, key.keyId.toString("base64"), newLTHashState(), async () => ({ keyData: key.keyData }));
  return Buffer.from(proto.SyncdPatch.encode(patch).finish());
}

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AppStateError);
    return (err as AppStateError).code;
  }
  return "no error";
};

it("decodes a delete-for-me patch Baileys encoded", async () => {
  const key = newAppStateKey();
  const bytes = await baileysPatch(key);
  const [m, ...rest] = decodePatch(bytes, (kid) => (kid.equals(key.keyId) ? key.keyData : undefined));
  expect(rest).toEqual([]);
  expect(m.operation).toBe("set");
  expect(m.index).toEqual(["deleteMessageForMe", "4915100000002@s.whatsapp.net", "3EB0ABCDEF", "0", "0"]);
  expect(m.value.deleteMessageForMeAction).toMatchObject({ deleteMedia: false });
});

it("refuses an unknown key, a tampered value or index, and bytes that are no patch", async () => {
  const key = newAppStateKey();
  const bytes = await baileysPatch(key);
  const keyOf = (kid: Buffer) => (kid.equals(key.keyId) ? key.keyData : undefined);
  expect(codeOf(() => decodePatch(bytes, () => undefined))).toBe("APP_STATE_UNKNOWN_KEY");
  // the same key id with other key data: the MAC does not match
  expect(codeOf(() => decodePatch(bytes, () => newAppStateKey().keyData))).toBe("APP_STATE_BAD_MAC");
  const patch = proto.SyncdPatch.decode(bytes);
  const value = Buffer.from(patch.mutations[0].record.value.blob);
  value[20] ^= 1;
  patch.mutations[0].record.value.blob = value;
  expect(codeOf(() => decodePatch(Buffer.from(proto.SyncdPatch.encode(patch).finish()), keyOf))).toBe("APP_STATE_BAD_MAC");
  const again = proto.SyncdPatch.decode(bytes);
  const index = Buffer.from(again.mutations[0].record.index.blob);
  index[0] ^= 1;
  again.mutations[0].record.index.blob = index;
  expect(codeOf(() => decodePatch(Buffer.from(proto.SyncdPatch.encode(again).finish()), keyOf))).toBe("APP_STATE_BAD_MAC");
  expect(codeOf(() => decodePatch(Buffer.from([0xff, 0xff, 0xff]), keyOf))).toBe("APP_STATE_BAD_PATCH");
});

it("shares a key as WhatsApp's APP_STATE_SYNC_KEY_SHARE protocolMessage", () => {
  const key = newAppStateKey();
  const msg = proto.Message.decode(proto.Message.encode(keyShareMessage(key)).finish());
  expect(msg.protocolMessage.type).toBe(proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE);
  const [shared] = msg.protocolMessage.appStateSyncKeyShare.keys;
  expect(Buffer.from(shared.keyId.keyId)).toEqual(key.keyId);
  expect(Buffer.from(shared.keyData.keyData)).toEqual(key.keyData);
});

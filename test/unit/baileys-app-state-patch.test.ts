// A companion's app-state patch on the fake server: the decoder (written with node:crypto) reads what
// Baileys' own encoder writes and refuses a patch under an unknown key, with a tampered value or
// index, or that is not a patch at all, each with a stable code; the account's collection takes a
// patch that follows it with matching snapshot and patch MACs, and nothing else.
import { randomBytes } from "node:crypto";
import { AccountAppState } from "../../lib/simulator/baileys/app-state";
import { AppStateError, decodePatch } from "../../lib/simulator/baileys/app-state-patch";

const newAppStateKey = () => ({ keyId: randomBytes(6), keyData: randomBytes(32) });

const { proto } = require("baileys/WAProto/index.js");

async function baileysPatch(key: { keyId: Buffer; keyData: Buffer }, state?: unknown): Promise<Buffer> {
  const { encodeSyncdPatch, newLTHashState } = require("baileys");
  const patchCreate = {
    syncAction: { deleteMessageForMeAction: { deleteMedia: false, messageTimestamp: 1700000000 } },
    index: ["deleteMessageForMe", "4915100000002@s.whatsapp.net", "3EB0ABCDEF", "0", "0"],
    type: "regular_high",
    apiVersion: 3,
    operation: proto.SyncdMutation.SyncdOperation.SET,
  };
  const { patch } = await encodeSyncdPatch(patchCreate, key.keyId.toString("base64"), state ?? newLTHashState(), async () => ({ keyData: key.keyData }));
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
  const [m, ...rest] = decodePatch(bytes, (kid) => (kid.equals(key.keyId) ? key.keyData : undefined)).mutations;
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

it("appends a companion's patch that follows the collection, and refuses one that does not", async () => {
  const account = new AccountAppState();
  const key = { keyId: account.key.id, keyData: account.key.data };
  const bytes = await baileysPatch(key);
  const decoded = decodePatch(bytes, (kid) => (kid.equals(key.keyId) ? key.keyData : undefined));
  // written on version 0: a conflict once the collection has moved on, and nothing changes
  account.set("regular_high", ["setting_pushName"], { pushNameSetting: { name: "x" } }, 1);
  expect(account.applyPatch("regular_high", 0, { ...decoded, encoded: bytes })).toBe("conflict");
  expect(account.version("regular_high")).toBe(1);
  // on the right version but over another state: its snapshot MAC does not match
  expect(account.applyPatch("regular_high", 1, { ...decoded, encoded: bytes })).toBe("bad-mac");
  // a fresh collection takes it as version 1, and serves it to the account's other devices
  const fresh = new AccountAppState();
  const mine = await baileysPatch({ keyId: fresh.key.id, keyData: fresh.key.data });
  const ok = decodePatch(mine, () => fresh.key.data);
  expect(fresh.applyPatch("regular_high", 0, { ...ok, encoded: mine })).toBe(1);
  const served = fresh.patchesSince("regular_high", 0);
  expect(served.version).toBe(1);
  expect(Number(proto.SyncdPatch.decode(served.patches[0]).version.version)).toBe(1);
});

// A companion's app-state patch (`w:sync:app:state` with a `<patch>`) as the fake server reads it:
// each mutation's value decrypted and its value and index MACs checked with node:crypto (HKDF "WhatsApp
// Mutation Keys", AES-256-CBC, HMAC-SHA512 / HMAC-SHA256), independently of Baileys' own code. The
// patch's snapshot and patch MACs are over the collection's state: AccountAppState.applyPatch checks them.
import { createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

const { proto } = require("baileys/WAProto/index.js") as { proto: any };

export class AppStateError extends Error {
  constructor(
    readonly code: "APP_STATE_UNKNOWN_KEY" | "APP_STATE_BAD_MAC" | "APP_STATE_BAD_PATCH",
    message: string,
  ) {
    super(message);
  }
}

/** One change a patch carries: SET or REMOVE, its index (e.g. ["deleteMessageForMe", jid, id, fromMe, participant]) and its action. */
export interface AppStateMutation {
  operation: "set" | "remove";
  index: string[];
  /** SyncActionValue as protobufjs decodes it */
  value: any;
  indexMac: Buffer;
  valueMac: Buffer;
}

export interface DecodedPatch {
  mutations: AppStateMutation[];
  snapshotMac: Buffer;
  patchMac: Buffer;
}

function mutationKeys(keyData: Buffer) {
  const k = Buffer.from(hkdfSync("sha256", keyData, Buffer.alloc(0), "WhatsApp Mutation Keys", 160));
  return { indexKey: k.subarray(0, 32), valueEncryptionKey: k.subarray(32, 64), valueMacKey: k.subarray(64, 96) };
}

/** HMAC-SHA512 over op | keyId | iv+ciphertext | the 8-byte length of op+keyId, first 32 bytes. */
function valueMac(set: boolean, keyId: Buffer, data: Buffer, macKey: Buffer): Buffer {
  const head = Buffer.concat([Buffer.from([set ? 0x01 : 0x02]), keyId]);
  const len = Buffer.alloc(8);
  len.writeUInt32BE(head.length, 4);
  return createHmac("sha512", macKey).update(head).update(data).update(len).digest().subarray(0, 32);
}

/** Decrypts and checks every mutation of an encoded SyncdPatch with the account's keys (by key id). */
export function decodePatch(patchBytes: Buffer, keyOf: (keyId: Buffer) => Buffer | undefined): DecodedPatch {
  let patch: any;
  try {
    patch = proto.SyncdPatch.decode(patchBytes);
  } catch (err) {
    throw new AppStateError("APP_STATE_BAD_PATCH", `not a SyncdPatch: ${(err as Error).message}`);
  }
  const out: AppStateMutation[] = [];
  for (const m of patch.mutations ?? []) {
    const record = m.record;
    const keyId = record?.keyId?.id ? Buffer.from(record.keyId.id) : undefined;
    const blob = record?.value?.blob ? Buffer.from(record.value.blob) : undefined;
    const indexMac = record?.index?.blob ? Buffer.from(record.index.blob) : undefined;
    if (!keyId || !blob || !indexMac || blob.length < 16 + 16 + 32) throw new AppStateError("APP_STATE_BAD_PATCH", "a mutation without key id, value or index");
    const keyData = keyOf(keyId);
    if (!keyData) throw new AppStateError("APP_STATE_UNKNOWN_KEY", `no app-state key ${keyId.toString("base64")}`);
    const keys = mutationKeys(keyData);
    const set = (m.operation ?? 0) === 0;
    const enc = blob.subarray(0, blob.length - 32);
    const mac = blob.subarray(blob.length - 32);
    if (!timingSafeEqual(valueMac(set, keyId, enc, keys.valueMacKey), mac)) throw new AppStateError("APP_STATE_BAD_MAC", "a mutation's value MAC does not match");
    let data: any;
    try {
      const decipher = createDecipheriv("aes-256-cbc", keys.valueEncryptionKey, enc.subarray(0, 16));
      data = proto.SyncActionData.decode(Buffer.concat([decipher.update(enc.subarray(16)), decipher.final()]));
    } catch (err) {
      throw new AppStateError("APP_STATE_BAD_PATCH", `a mutation cannot be decrypted: ${(err as Error).message}`);
    }
    const index = Buffer.from(data.index ?? []);
    if (!timingSafeEqual(createHmac("sha256", keys.indexKey).update(index).digest(), indexMac)) throw new AppStateError("APP_STATE_BAD_MAC", "a mutation's index MAC does not match");
    let parsed: unknown;
    try {
      parsed = JSON.parse(index.toString());
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === "string")) throw new AppStateError("APP_STATE_BAD_PATCH", "a mutation's index is not a list of strings");
    out.push({ operation: set ? "set" : "remove", index: parsed, value: data.value ?? {}, indexMac, valueMac: Buffer.from(mac) });
  }
  if (!patch.snapshotMac?.length || !patch.patchMac?.length) throw new AppStateError("APP_STATE_BAD_PATCH", "a patch without its snapshot and patch MACs");
  return { mutations: out, snapshotMac: Buffer.from(patch.snapshotMac), patchMac: Buffer.from(patch.patchMac) };
}

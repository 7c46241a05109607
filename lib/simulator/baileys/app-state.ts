// WhatsApp's app-state sync, as far as the fake server needs it: the phone shares an app-state key
// with a new companion (an APP_STATE_SYNC_KEY_SHARE protocolMessage), and the companion sends its
// changes (delete for me, …) as encrypted patches in `w:sync:app:state` iqs. Decrypting a patch is
// written here with node:crypto (HKDF "WhatsApp Mutation Keys", AES-256-CBC, HMAC-SHA512 value MACs,
// HMAC-SHA256 index MACs), independently of Baileys' code. The collections themselves are not kept:
// the network holds the account's state, so a resync is answered with nothing new, and a patch's
// LTHash snapshot and patch MACs (over state the fake does not keep) are not checked.
import { createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

 
const { proto } = require("baileys/WAProto/index.js") as { proto: any };

/** An account's app-state key, as its phone shares it. */
export interface AppStateKey {
  keyId: Buffer;
  keyData: Buffer;
  timestamp: number;
}

export function newAppStateKey(): AppStateKey {
  return { keyId: randomBytes(6), keyData: randomBytes(32), timestamp: Date.now() };
}

/** The protocolMessage a phone sends its companion to share the key (type APP_STATE_SYNC_KEY_SHARE). */
export function keyShareMessage(key: AppStateKey): Record<string, unknown> {
  return {
    protocolMessage: {
      type: 6,
      appStateSyncKeyShare: { keys: [{ keyId: { keyId: key.keyId }, keyData: { keyData: key.keyData, fingerprint: { rawId: 1, currentIndex: 0, deviceIndexes: [0] }, timestamp: key.timestamp } }] },
    },
  };
}

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
export function decodePatch(patchBytes: Buffer, keyOf: (keyId: Buffer) => Buffer | undefined): AppStateMutation[] {
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
    if (!timingSafeEqual(valueMac(set, keyId, enc, keys.valueMacKey), blob.subarray(blob.length - 32))) throw new AppStateError("APP_STATE_BAD_MAC", "a mutation's value MAC does not match");
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
    out.push({ operation: set ? "set" : "remove", index: parsed, value: data.value ?? {} });
  }
  return out;
}

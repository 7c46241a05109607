// App-state sync as WhatsApp's server keeps it for an account (the settings, labels, pins... its
// devices share): collections of encrypted mutations, each collection a chain of versioned patches
// whose integrity is an LTHash over the value MACs. The server cannot read them: the phone encrypts
// them with an app-state sync key it shares with its companions in a peer message
// (`appStateSyncKeyShare`). In the simulation the fake server plays the phone too, so it holds the key,
// writes the mutations, and answers `w:sync:app:state` with the patches a companion lacks.
// Written from the protocol with node:crypto, independently of Baileys' own app-state code (a unit
// test decodes our patches with Baileys' decoder, MACs checked).
import { createCipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";

const { proto } = require("baileys/WAProto/index.js") as { proto: any };

/** The collections WhatsApp keeps, as companions ask for them. */
export const APP_STATE_COLLECTIONS = ["critical_block", "critical_unblock_low", "regular_high", "regular_low", "regular"] as const;
export type AppStateCollection = (typeof APP_STATE_COLLECTIONS)[number];

const LT_HASH_BYTES = 128;

interface MutationKeys {
  index: Buffer;
  valueEncryption: Buffer;
  valueMac: Buffer;
  snapshotMac: Buffer;
  patchMac: Buffer;
}

/** The five keys one app-state sync key expands to (HKDF-SHA256, "WhatsApp Mutation Keys"). */
function mutationKeys(keyData: Buffer): MutationKeys {
  const k = Buffer.from(hkdfSync("sha256", keyData, Buffer.alloc(0), "WhatsApp Mutation Keys", 160));
  return { index: k.subarray(0, 32), valueEncryption: k.subarray(32, 64), valueMac: k.subarray(64, 96), snapshotMac: k.subarray(96, 128), patchMac: k.subarray(128, 160) };
}

const uint64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

/** The MAC of an encrypted value: HMAC-SHA512 over the operation and key id, the value, and their length; first 32 bytes. */
function valueMacOf(set: boolean, encrypted: Buffer, keyId: Buffer, key: Buffer): Buffer {
  const head = Buffer.concat([Buffer.from([set ? 1 : 2]), keyId]);
  const length = Buffer.alloc(8);
  length[7] = head.length;
  return createHmac("sha512", key).update(head).update(encrypted).update(length).digest().subarray(0, 32);
}

/** LTHash (16-bit lanes, "WhatsApp Patch Integrity"): a sum of the expanded value MACs, so order does not matter. */
function ltHashMix(hash: Buffer, add: Buffer[], subtract: Buffer[]): Buffer {
  const out = Buffer.from(hash);
  const apply = (mac: Buffer, sign: 1 | -1) => {
    const expanded = Buffer.from(hkdfSync("sha256", mac, Buffer.alloc(0), "WhatsApp Patch Integrity", LT_HASH_BYTES));
    for (let i = 0; i < LT_HASH_BYTES; i += 2) out.writeUInt16LE((out.readUInt16LE(i) + sign * expanded.readUInt16LE(i) + 0x10000) & 0xffff, i);
  };
  for (const m of subtract) apply(m, -1);
  for (const m of add) apply(m, 1);
  return out;
}

interface Collection {
  version: number;
  hash: Buffer;
  /** The value MAC of each index now set (index MAC, base64 -> value MAC). */
  values: Map<string, Buffer>;
  /** Each patch, encoded, in version order (patches[i] is version i + 1). */
  patches: Buffer[];
}

/** One account's app state and its sync key. */
export class AccountAppState {
  /** The app-state sync key, as the phone shares it with its companions. */
  readonly key = { id: randomBytes(6), data: randomBytes(32), timestamp: Date.now() };
  private readonly keys = mutationKeys(this.key.data);
  private readonly collections = new Map<AppStateCollection, Collection>();

  /** The key share a companion needs (a protocol message's `appStateSyncKeyShare`). */
  keyShare(): Record<string, unknown> {
    return {
      keys: [{ keyId: { keyId: this.key.id }, keyData: { keyData: this.key.data, fingerprint: { rawId: 1, currentIndex: 0, deviceIndexes: [0] }, timestamp: this.key.timestamp } }],
    };
  }

  version(name: AppStateCollection): number {
    return this.collections.get(name)?.version ?? 0;
  }

  /**
   * Sets `index` (e.g. `["setting_pushName"]`) to `value` (a SyncActionValue's fields) as a new patch
   * of `name`; returns the collection's new version.
   */
  set(name: AppStateCollection, index: string[], value: Record<string, unknown>, apiVersion: number): number {
    const c = this.collection(name);
    const indexBytes = Buffer.from(JSON.stringify(index));
    const data = Buffer.from(proto.SyncActionData.encode({ index: indexBytes, value: { timestamp: Date.now(), ...value }, padding: Buffer.alloc(0), version: apiVersion }).finish());
    const iv = randomBytes(16);
    const cipher = createCipheriv("aes-256-cbc", this.keys.valueEncryption, iv);
    const encrypted = Buffer.concat([iv, cipher.update(data), cipher.final()]);
    const valueMac = valueMacOf(true, encrypted, this.key.id, this.keys.valueMac);
    const indexMac = createHmac("sha256", this.keys.index).update(indexBytes).digest();
    const slot = indexMac.toString("base64");
    const previous = c.values.get(slot);
    c.hash = ltHashMix(c.hash, [valueMac], previous ? [previous] : []);
    c.values.set(slot, valueMac);
    c.version += 1;
    const snapshotMac = createHmac("sha256", this.keys.snapshotMac).update(Buffer.concat([c.hash, uint64(c.version), Buffer.from(name)])).digest();
    const patchMac = createHmac("sha256", this.keys.patchMac).update(Buffer.concat([snapshotMac, valueMac, uint64(c.version), Buffer.from(name)])).digest();
    const keyId = { id: this.key.id };
    c.patches.push(
      Buffer.from(
        proto.SyncdPatch.encode({
          version: { version: c.version },
          mutations: [{ operation: proto.SyncdMutation.SyncdOperation.SET, record: { index: { blob: indexMac }, value: { blob: Buffer.concat([encrypted, valueMac]) }, keyId } }],
          snapshotMac,
          patchMac,
          keyId,
        }).finish(),
      ),
    );
    return c.version;
  }

  /**
   * A companion's patch of `name`, written on `baseVersion`, its mutations already decrypted and
   * checked (app-state-patch.ts): appended as the next version when it follows the collection and
   * its snapshot and patch MACs match the state it makes; "conflict" when the collection has moved
   * on (the companion must sync first), "bad-mac" otherwise. Nothing changes unless it is appended.
   */
  applyPatch(
    name: AppStateCollection,
    baseVersion: number,
    patch: { mutations: Array<{ operation: "set" | "remove"; indexMac: Buffer; valueMac: Buffer }>; snapshotMac: Buffer; patchMac: Buffer; encoded: Buffer },
  ): number | "conflict" | "bad-mac" {
    const c = this.collection(name);
    if (baseVersion !== c.version) return "conflict";
    const values = new Map(c.values);
    let hash = c.hash;
    for (const m of patch.mutations) {
      const slot = m.indexMac.toString("base64");
      const previous = values.get(slot);
      if (m.operation === "set") {
        hash = ltHashMix(hash, [m.valueMac], previous ? [previous] : []);
        values.set(slot, m.valueMac);
      } else if (previous) {
        hash = ltHashMix(hash, [], [previous]);
        values.delete(slot);
      }
    }
    const version = c.version + 1;
    const snapshotMac = createHmac("sha256", this.keys.snapshotMac).update(Buffer.concat([hash, uint64(version), Buffer.from(name)])).digest();
    const patchMac = createHmac("sha256", this.keys.patchMac).update(Buffer.concat([snapshotMac, ...patch.mutations.map((m) => m.valueMac), uint64(version), Buffer.from(name)])).digest();
    if (!snapshotMac.equals(patch.snapshotMac) || !patchMac.equals(patch.patchMac)) return "bad-mac";
    const stored = proto.SyncdPatch.decode(patch.encoded);
    stored.version = { version };
    c.hash = hash;
    c.values = values;
    c.version = version;
    c.patches.push(Buffer.from(proto.SyncdPatch.encode(stored).finish()));
    return version;
  }

  /** The patches after `version` (encoded SyncdPatch messages), and the collection's version. */
  patchesSince(name: AppStateCollection, version: number): { version: number; patches: Buffer[] } {
    const c = this.collections.get(name);
    if (!c) return { version: 0, patches: [] };
    return { version: c.version, patches: c.patches.slice(Math.max(0, Math.min(version, c.version))) };
  }

  private collection(name: AppStateCollection): Collection {
    let c = this.collections.get(name);
    if (!c) this.collections.set(name, (c = { version: 0, hash: Buffer.alloc(LT_HASH_BYTES), values: new Map(), patches: [] }));
    return c;
  }
}

export function isAppStateCollection(name: string): name is AppStateCollection {
  return (APP_STATE_COLLECTIONS as readonly string[]).includes(name);
}

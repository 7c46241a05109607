// The simulated people a Baileys client talks to, as Signal parties: each phone number has an
// identity, a signed prekey and fresh one-time prekeys, and one session per linked device it talks
// to. Built on npm libsignal (the reference Signal protocol for Node), in memory: a restarted
// network starts new sessions, as a reinstalled phone would.
 
import { newCurveKeyPair } from "./noise";
import type { CurveKeyPair } from "./noise";
import { quietLibsignal } from "../../whatsapp/quiet-signal";
import { trialDecryptOnCopies } from "../../whatsapp/libsignal-trial";
import { signalJobsKeepCallerContext } from "../../whatsapp/libsignal-queue";

quietLibsignal();
trialDecryptOnCopies();
signalJobsKeepCallerContext();
const libsignal = require("libsignal") as any;

interface KeyPair {
  pubKey: Buffer;
  privKey: Buffer;
}

/** What a client needs to open a session with a peer (the `encrypt get` answer). */
export interface PreKeyBundle {
  registrationId: number;
  /** 32 bytes (no type prefix), like every key on WhatsApp's wire */
  identity: Buffer;
  signedPreKey: { id: number; public: Buffer; signature: Buffer };
  preKey: { id: number; public: Buffer };
}

/** What a linked device registered (identity, signed prekey) and uploaded (one-time prekeys). */
export interface DeviceBundleSource {
  registrationId: number;
  identity: Buffer;
  signedPreKey: { id: number; public: Buffer; signature: Buffer };
  takePreKey(): { id: number; public: Buffer } | undefined;
}

const strip = (k: Buffer) => Buffer.from(k.length === 33 ? k.subarray(1) : k);
const prefix = (k: Buffer) => (k.length === 33 ? k : Buffer.concat([Buffer.from([5]), k]));

class Peer {
  readonly identity: KeyPair = libsignal.keyhelper.generateIdentityKeyPair();
  readonly registrationId: number = libsignal.keyhelper.generateRegistrationId();
  readonly signedPreKey = libsignal.keyhelper.generateSignedPreKey(this.identity, 1) as { keyId: number; keyPair: KeyPair; signature: Buffer };
  private readonly preKeys = new Map<number, KeyPair>();
  private readonly sessions = new Map<string, unknown>();
  private nextPreKeyId = 1;
  /** One store per peer, with the shape libsignal's SessionBuilder and SessionCipher ask for */
  readonly store = {
    getOurIdentity: async () => this.identity,
    getOurRegistrationId: async () => this.registrationId,
    isTrustedIdentity: async () => true,
    loadSession: async (id: string) => this.sessions.get(id),
    storeSession: async (id: string, record: unknown) => void this.sessions.set(id, record),
    loadPreKey: async (id: number | string) => this.preKeys.get(Number(id)),
    removePreKey: async (id: number | string) => void this.preKeys.delete(Number(id)),
    loadSignedPreKey: async (id: number | string) => (Number(id) === this.signedPreKey.keyId ? this.signedPreKey.keyPair : undefined),
  };

  bundle(): PreKeyBundle {
    const id = this.nextPreKeyId++ % 0xffffff || this.nextPreKeyId++;
    const pre = libsignal.keyhelper.generatePreKey(id) as { keyId: number; keyPair: KeyPair };
    this.preKeys.set(id, pre.keyPair);
    return {
      registrationId: this.registrationId,
      identity: strip(this.identity.pubKey),
      signedPreKey: { id: this.signedPreKey.keyId, public: strip(this.signedPreKey.keyPair.pubKey), signature: Buffer.from(this.signedPreKey.signature) },
      preKey: { id, public: strip(pre.keyPair.pubKey) },
    };
  }

  hasSession(address: string): boolean {
    return this.sessions.has(address);
  }
}

export class SignalPeers {
  private readonly peers = new Map<string, Peer>();
  private readonly accounts = new Map<string, CurveKeyPair>();

  /** The account key a phone signs its linked devices' identities with (ADV). */
  accountKey(phone: string): CurveKeyPair {
    let k = this.accounts.get(phone);
    if (!k) this.accounts.set(phone, (k = newCurveKeyPair()));
    return k;
  }

  private peer(phone: string): Peer {
    let p = this.peers.get(phone);
    if (!p) this.peers.set(phone, (p = new Peer()));
    return p;
  }

  bundleOf(phone: string): PreKeyBundle {
    return this.peer(phone).bundle();
  }

  /** Decrypts what a linked device (`device`, e.g. "15550001111.7") sent to `phone`. */
  async decrypt(phone: string, device: string, type: string, body: Buffer): Promise<Buffer> {
    const p = this.peer(phone);
    const [name, num] = device.split(".");
    const cipher = new libsignal.SessionCipher(p.store, new libsignal.ProtocolAddress(name, Number(num)));
    const plain = type === "pkmsg" ? await cipher.decryptPreKeyWhisperMessage(body) : await cipher.decryptWhisperMessage(body);
    return unpad(Buffer.from(plain));
  }

  /** Encrypts `plain` from `phone` to a linked device, starting a session from its bundle when there is none. */
  async encrypt(phone: string, device: string, plain: Buffer, bundle: () => DeviceBundleSource): Promise<{ type: "pkmsg" | "msg"; body: Buffer }> {
    const p = this.peer(phone);
    const [name, num] = device.split(".");
    const address = new libsignal.ProtocolAddress(name, Number(num));
    if (!p.hasSession(address.toString())) {
      const b = bundle();
      const pre = b.takePreKey();
      await new libsignal.SessionBuilder(p.store, address).initOutgoing({
        identityKey: prefix(b.identity),
        registrationId: b.registrationId,
        signedPreKey: { keyId: b.signedPreKey.id, publicKey: prefix(b.signedPreKey.public), signature: b.signedPreKey.signature },
        ...(pre ? { preKey: { keyId: pre.id, publicKey: prefix(pre.public) } } : {}),
      });
    }
    const out = await new libsignal.SessionCipher(p.store, address).encrypt(pad(plain));
    return { type: out.type === 3 ? "pkmsg" : "msg", body: Buffer.from(out.body, typeof out.body === "string" ? "binary" : undefined) };
  }

  /** Forgets the sessions with a device (it was unlinked: a new one starts from new keys). */
  forgetDevice(device: string): void {
    const [name, num] = device.split(".");
    const id = new libsignal.ProtocolAddress(name, Number(num)).toString();
    for (const p of this.peers.values()) void p.store.storeSession(id, undefined).then(() => (p as any).sessions.delete(id));
  }
}

/** WhatsApp pads a plaintext with 1-16 bytes, each holding the pad length. */
export function pad(b: Buffer): Buffer {
  const n = 1 + Math.floor(Math.random() * 16);
  return Buffer.concat([b, Buffer.alloc(n, n)]);
}

export function unpad(b: Buffer): Buffer {
  const n = b[b.length - 1];
  if (!n || n > b.length) throw new Error("bad padding");
  return b.subarray(0, b.length - n);
}

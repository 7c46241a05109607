// The fake WhatsApp server for the real Baileys client: speaks WhatsApp's multi-device protocol on
// `/baileys` (Noise XX under the network's own certificate root, binary nodes, QR pairing with the
// ADV secret, login with stored credentials, prekeys, usync with LIDs, Signal sessions for the
// simulated peers, receipts, logout) and translates it, connection by connection, into the network's
// own protocol on `/ws`. So the SimNetwork stays the one oracle: links, conflicts, keepalive drops,
// queues and counters are its, whatever engine a session runs.
import { createCipheriv, createHash, createHmac, randomBytes, randomInt } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import type { RawData } from "ws";
import type { SimNetwork, SimLog } from "../network";
import type { ServerFrame, SimIncomingMessage, SimMe, SimMedia, SimMessageFields, SimUpdate } from "../protocol";
import type { BaileysDeviceKeys, DeviceRecord } from "../ledger";
import { lidOf } from "../accounts";
import { FrameReader, NoiseResponder, agree, frame, newCurveKeyPair, sign } from "./noise";
import type { CurveKeyPair } from "./noise";
import { bytesOf, child, children, decodeNode, encodeNode } from "./wa-binary";
import type { WaNode } from "./wa-binary";
import { SignalPeers } from "./signal-peers";
import { MediaHost, MediaCodecError } from "./media-host";
import { AppStateError, decodePatch } from "./app-state-patch";
import type { DecodedPatch } from "./app-state-patch";
import { mediaPartOf, simMediaOf, waMediaMessageOf } from "./media-messages";
import { PrimaryLinkCode, WRAPPED_KEY_BYTES } from "./link-code";
import { APP_STATE_COLLECTIONS, AccountAppState, isAppStateCollection } from "./app-state";
import type { AppStateCollection } from "./app-state";
import { GroupsTranslator, SenderKeyBook, servePicture } from "./groups";
import { historySyncMessages, onDemandHistorySync } from "./history-sync";
import { onContactIq, statusNode, syncAddressBook } from "./contacts";
import { chatIdOfJid, noteChatLabel, syncLabels } from "./labels";
import type { WrittenLabels } from "./labels";
import type { ServerResponse } from "node:http";

 
const { proto } = require("baileys/WAProto/index.js") as { proto: any };

const S_WA = "s.whatsapp.net";
const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The device number the phone gives a newly linked companion: 1-98. WhatsApp keeps 99 for hosted
 * devices (the Cloud API's), and Baileys refuses a Signal address of device 99 on a non-hosted
 * server, so a companion numbered 99 could not message anyone (it failed one link in 99).
 */
export function companionDeviceNumber(): number {
  return randomInt(1, 99);
}

/** The network's certificate chain: its root signs an intermediate, which signs the server's static key. */
export class NoiseCertificates {
  readonly root = newCurveKeyPair();
  readonly serverStatic = newCurveKeyPair();
  private readonly intermediate = newCurveKeyPair();
  readonly chain: Buffer;

  constructor() {
    const notAfter = nowSeconds() + 10 * 365 * 86400;
    const intermediateDetails = Buffer.from(proto.CertChain.NoiseCertificate.Details.encode({ serial: 1, issuerSerial: 0, key: this.intermediate.public, notBefore: 0, notAfter }).finish());
    const leafDetails = Buffer.from(proto.CertChain.NoiseCertificate.Details.encode({ serial: 2, issuerSerial: 1, key: this.serverStatic.public, notBefore: 0, notAfter }).finish());
    this.chain = Buffer.from(
      proto.CertChain.encode({
        intermediate: { details: intermediateDetails, signature: sign(this.root.private, intermediateDetails) },
        leaf: { details: leafDetails, signature: sign(this.intermediate.private, leafDetails) },
      }).finish(),
    );
  }
}

export interface BaileysGatewayOptions {
  network: SimNetwork;
  /** The network's own WebSocket endpoint (`ws://host:port/ws`), known once it listens */
  networkWsUrl: () => string;
  log?: SimLog;
}

export class BaileysGateway {
  readonly certs = new NoiseCertificates();
  readonly peers = new SignalPeers();
  readonly senderKeys = new SenderKeyBook();
  /** One-time prekeys each device uploaded (deviceId -> id -> public key) */
  readonly preKeys = new Map<string, Map<number, Buffer>>();
  /** Each account's app state (phone -> its collections and sync key), made at its first login here. */
  readonly appStates = new Map<string, AccountAppState>();

  /** The account's app state; a new one holds its push name, as a phone's does from the start. */
  appStateOf(phone: string, pushname: string | undefined): AccountAppState {
    let state = this.appStates.get(phone);
    if (!state) {
      this.appStates.set(phone, (state = new AccountAppState()));
      if (pushname) state.set("critical_block", ["setting_pushName"], { pushNameSetting: { name: pushname } }, 1);
    }
    return state;
  }
  /** The saved names each account's app state holds (account phone -> contact phone -> name) */
  readonly addressBooks = new Map<string, Map<string, string>>();
  /** What each account's app state says of its labels (account phone -> labels-sync record) */
  readonly labelStates = new Map<string, WrittenLabels>();

  labelsWritten(phone: string): WrittenLabels {
    let w = this.labelStates.get(phone);
    if (!w) this.labelStates.set(phone, (w = { labels: new Map(), chats: new Map() }));
    return w;
  }
  /** Accounts whose phone is away (off, no network): it answers none of its companions' peer requests. */
  readonly phonesAway = new Set<string>();
  /** Devices the phone has sent its history sync to (once, right after linking) */
  readonly historySent = new Set<string>();
  /** Devices the phone has shared its app-state sync key with (deviceId -> the key's id, base64). */
  readonly keyShared = new Map<string, string>();
  /** Each poll an account sent: its secret, which the votes on it are encrypted with (message id -> secret). */
  readonly pollSecrets = new Map<string, Buffer>();
  /** Phone numbers by the LID the server gave them */
  readonly phoneByLid = new Map<string, string>();
  /** Where clients upload media and download what they receive (media_conn names it) */
  readonly media = new MediaHost();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 96 * 1024 * 1024 });
  private readonly links = new Set<BaileysLink>();
  private closed = false;

  constructor(readonly opts: BaileysGatewayOptions) {}

  /** A group picture the fake server handed out a URL for (GET /sim/baileys/pictures/...); false: not such a request. */
  servePicture(req: IncomingMessage, res: ServerResponse): boolean {
    return servePicture(this.opts.network, req, res);
  }

  get rootPublicKey(): Buffer {
    return this.certs.root.public;
  }

  lidOfPhone(phone: string): string {
    const lid = lidOf(phone);
    this.phoneByLid.set(lid, phone);
    return lid;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const link = new BaileysLink(this, ws);
      this.links.add(link);
      ws.on("close", () => this.links.delete(link));
    });
  }

  log(level: "info" | "warn" | "error", msg: string): void {
    this.opts.log?.(level, `baileys: ${msg}`);
  }

  /**
   * A name saved on `phone`'s phone (its address book changed): the phone writes it to its app state
   * and the server tells each connected device of the account (`server_sync`), which syncs it now
   * rather than at its next login.
   */
  addressBookChanged(phone: string): void {
    for (const l of this.links) l.onAddressBookChanged(phone);
  }

  close(): void {
    this.closed = true;
    for (const l of this.links) l.terminate();
    this.wss.close();
    this.media.close();
  }
}

/** A device's Signal registration as this server keeps it. */
function keysOf(device: DeviceRecord | undefined): BaileysDeviceKeys | undefined {
  return device?.baileys;
}

/** One Baileys client connection and its twin connection on the network. */
class BaileysLink {
  private readonly reader = new FrameReader();
  private readonly noise = new NoiseResponder();
  private phase: "hello" | "finish" | "open" | "closed" = "hello";
  private clientStatic: Buffer | undefined;
  private net: WebSocket | undefined;
  private registration: { identity: Buffer; registrationId: number; signedPreKey: { id: number; public: Buffer; signature: Buffer } } | undefined;
  private device: DeviceRecord | undefined;
  private pairing: { pending: boolean } | undefined;
  /**
   * Linking by a code the client made (link_code_companion_reg): its wrapped ephemeral key, the ref
   * both sides name the attempt by, the phone; then the code the phone typed, and the ADV secret once
   * the client's key bundle opened with it.
   */
  private linkCode: { wrapped: Buffer; ref: Buffer; phone: string; typed?: { attempt: string; primary: PrimaryLinkCode }; advSecret?: Buffer } | undefined;
  /** Messages from the network waiting for the client's prekeys */
  /** What waits to be relayed to the client as encrypted messages, in the network's order. */
  private readonly held: Relay[] = [];
  /** Stanzas relayed for a network update (stanza id -> the update's uid), acked by the client's receipt. */
  private readonly relayedUpdates = new Map<string, string>();
  /** Recipients of messages this client sent (id -> jid), for receipts */
  private readonly sentTo = new Map<string, string>();
  private work: Promise<void> = Promise.resolve();
  /** Groups and calls, both ways (lib/simulator/baileys/groups.ts) */
  private readonly groups: GroupsTranslator = new GroupsTranslator({
    send: (node) => this.send(node),
    netQuery: (q, done) => this.netQuery(q, done),
    netSend: (f) => this.netSend(f),
    phoneOf: (jid) => this.phoneOf(jid),
    pictureUrl: (groupId, version) => `${this.gw.opts.networkWsUrl().replace(/^ws/, "http").replace(/\/ws$/, "")}/sim/baileys/pictures/${encodeURIComponent(groupId)}/${version}`,
    clientAddress: () => (this.device?.baileys ? `${this.device.phone}.${this.device.baileys.device}` : undefined),
    decryptFromClient: (phone, type, body) => this.gw.peers.decrypt(phone, `${this.device!.phone}.${this.device!.baileys!.device}`, type, body),
    encryptToClient: (phone, plain) => this.encryptToClient(phone, plain),
    log: (msg) => this.gw.log("warn", msg),
    senderKeys: () => this.gw.senderKeys,
  });

  constructor(
    private readonly gw: BaileysGateway,
    private readonly ws: WebSocket,
  ) {
    ws.on("message", (data: RawData) => this.onBytes(data as Buffer));
    ws.on("error", () => {});
    // after the frames that arrived before it (a logout iq is sent just before the client closes)
    ws.on("close", () => this.serial(() => this.shutdown()));
    // keepalive is the network's: its pings reach the client, and only the client's pongs answer them
    ws.on("pong", () => {
      if (this.net?.readyState === WebSocket.OPEN) this.net.pong();
    });
  }

  terminate(): void {
    this.ws.terminate();
    this.net?.terminate();
  }

  private shutdown(): void {
    this.phase = "closed";
    if (this.net && this.net.readyState !== WebSocket.CLOSED) this.net.close();
  }

  private fail(reason: string): void {
    this.gw.log("warn", `closing a client: ${reason}`);
    this.terminate();
  }

  /** Everything a connection does runs in order, one step at a time (decrypting is async). */
  private serial(step: () => Promise<void> | void): void {
    this.work = this.work.then(step).catch((err: Error) => this.fail(err.stack ?? err.message));
  }

  private onBytes(data: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.reader.push(Buffer.from(data));
    } catch (err) {
      return this.fail((err as Error).message);
    }
    for (const f of frames) this.serial(() => this.onFrame(f));
  }

  private async onFrame(f: Buffer): Promise<void> {
    if (this.phase === "hello") return this.onClientHello(f);
    if (this.phase === "finish") return this.onClientFinish(f);
    if (this.phase !== "open") return;
    return this.onNode(decodeNode(this.noise.decrypt(f)));
  }

  private onClientHello(f: Buffer): void {
    const hello = proto.HandshakeMessage.decode(f).clientHello;
    const ephemeral = hello?.ephemeral ? Buffer.from(hello.ephemeral) : undefined;
    if (!ephemeral || ephemeral.length !== 32) throw new Error("client hello without a 32-byte ephemeral key");
    const n = this.noise;
    n.mixHash(ephemeral);
    n.mixHash(n.ephemeral.public);
    n.mixKey(agree(ephemeral, n.ephemeral.private));
    const encStatic = n.encryptAndHash(this.gw.certs.serverStatic.public);
    n.mixKey(agree(ephemeral, this.gw.certs.serverStatic.private));
    const encCert = n.encryptAndHash(this.gw.certs.chain);
    this.clientEphemeral = ephemeral;
    this.phase = "finish";
    this.ws.send(frame(Buffer.from(proto.HandshakeMessage.encode({ serverHello: { ephemeral: n.ephemeral.public, static: encStatic, payload: encCert } }).finish())));
  }

  private clientEphemeral: Buffer | undefined;

  private onClientFinish(f: Buffer): void {
    const finish = proto.HandshakeMessage.decode(f).clientFinish;
    if (!finish?.static || !finish?.payload) throw new Error("client finish without static key or payload");
    const n = this.noise;
    const clientStatic = n.decryptAndHash(Buffer.from(finish.static));
    n.mixKey(agree(clientStatic, n.ephemeral.private));
    const payload = proto.ClientPayload.decode(n.decryptAndHash(Buffer.from(finish.payload)));
    n.split();
    this.clientStatic = clientStatic;
    this.phase = "open";
    if (payload.devicePairingData) return this.startRegistration(payload.devicePairingData);
    return this.startLogin(String(payload.username ?? ""), Number(payload.device ?? 0));
  }

  // --- linking ---

  private startRegistration(d: any): void {
    const u = (b: Uint8Array) => Buffer.from(b).reduce((v, x) => v * 256 + x, 0);
    this.registration = {
      identity: Buffer.from(d.eIdent),
      registrationId: u(d.eRegid),
      signedPreKey: { id: u(d.eSkeyId), public: Buffer.from(d.eSkeyVal), signature: Buffer.from(d.eSkeySig) },
    };
    this.pairing = { pending: false };
    this.connectNetwork({ t: "hello" });
  }

  private onNetQr(qr: string): void {
    if (this.pairing?.pending) {
      // the network rotated its QR: real WhatsApp makes the client reconnect for new refs
      return this.streamError("515");
    }
    if (this.pairing) this.pairing.pending = true;
    this.send({ tag: "iq", attrs: { from: S_WA, type: "set", id: this.tag(), xmlns: "md" }, content: [{ tag: "pair-device", attrs: {}, content: [{ tag: "ref", attrs: {}, content: Buffer.from(qr.split(",")[0]) }] }] });
  }

  /** The phone scanned our client's QR: hand the client its signed device identity, as the phone would. */
  private onNetPaired(creds: { deviceId: string; secret: string; phone: string }, scanned: string | undefined): void {
    const reg = this.registration;
    const parts = scanned?.split(",") ?? [];
    const byCode = scanned === undefined ? this.linkCode?.advSecret : undefined;
    if (!reg || (!byCode && (parts.length < 4 || Buffer.from(parts[1], "base64").compare(this.clientStatic!) !== 0))) {
      this.gw.log("warn", `device ${creds.deviceId} was linked with a QR or code that is not this client's`);
      return this.streamError("401");
    }
    const advSecret = byCode ?? Buffer.from(parts[3], "base64");
    const device = companionDeviceNumber();
    this.gw.opts.network.setBaileysKeys(creds.deviceId, {
      noiseKey: this.clientStatic!.toString("base64"),
      device,
      identity: reg.identity.toString("base64"),
      registrationId: reg.registrationId,
      signedPreKey: { id: reg.signedPreKey.id, public: reg.signedPreKey.public.toString("base64"), signature: reg.signedPreKey.signature.toString("base64") },
    });
    const account = this.gw.peers.accountKey(creds.phone);
    const details = Buffer.from(proto.ADVDeviceIdentity.encode({ rawId: randomInt(1, 2 ** 31), timestamp: nowSeconds(), keyIndex: 1 }).finish());
    const accountSignature = sign(account.private, Buffer.concat([Buffer.from([6, 0]), details, reg.identity]));
    const signed = Buffer.from(proto.ADVSignedDeviceIdentity.encode({ details, accountSignatureKey: account.public, accountSignature }).finish());
    const hmac = createHmac("sha256", advSecret).update(signed).digest();
    const identity = Buffer.from(proto.ADVSignedDeviceIdentityHMAC.encode({ details: signed, hmac }).finish());
    const lid = this.gw.lidOfPhone(creds.phone);
    this.send({
      tag: "iq",
      attrs: { from: S_WA, type: "set", id: this.tag(), xmlns: "md", t: String(nowSeconds()) },
      content: [
        {
          tag: "pair-success",
          attrs: {},
          content: [
            { tag: "device-identity", attrs: {}, content: identity },
            { tag: "platform", attrs: { name: "sim" } },
            { tag: "device", attrs: { jid: `${creds.phone}:${device}@${S_WA}`, lid: `${lid}:${device}@lid` } },
          ],
        },
      ],
    });
  }

  /** The client shows a code of its own making for `phone`: the phone's typed code comes back to us. */
  private onCompanionHello(reg: WaNode, result: (content?: WaNode[]) => void, refuse: () => void): void {
    const wrapped = bytesOf(child(reg, "link_code_pairing_wrapped_companion_ephemeral_pub"));
    const noiseKey = bytesOf(child(reg, "companion_server_auth_key_pub"));
    const phone = this.phoneOf(reg.attrs.jid ?? "");
    if (!this.pairing || !this.registration || !wrapped || wrapped.length !== WRAPPED_KEY_BYTES || !noiseKey || Buffer.from(noiseKey).compare(this.clientStatic!) !== 0 || !phone) return refuse();
    const ref = Buffer.from(randomBytes(16).toString("base64url"));
    this.linkCode = { wrapped: Buffer.from(wrapped), ref, phone };
    result([{ tag: "link_code_companion_reg", attrs: {}, content: [{ tag: "link_code_pairing_ref", attrs: {}, content: ref }] }]);
    this.netSend({ t: "pair_code", phone, own: true });
  }

  /** The phone typed a code: answer the client as the phone would, with keys wrapped by that code. */
  private async onNetCodeTyped(attempt: string, code: string): Promise<void> {
    const link = this.linkCode;
    if (!link) return this.netSend({ t: "code_proof", attempt, ok: false });
    const primary = await PrimaryLinkCode.typed(link.wrapped, code);
    link.typed = { attempt, primary };
    const identity = this.gw.peers.accountKey(link.phone).public;
    this.send({
      tag: "notification",
      attrs: { from: S_WA, type: "link_code_companion_reg", id: this.tag(), t: String(nowSeconds()) },
      content: [
        {
          tag: "link_code_companion_reg",
          attrs: { stage: "primary_hello" },
          content: [
            { tag: "link_code_pairing_ref", attrs: {}, content: link.ref },
            { tag: "primary_identity_pub", attrs: {}, content: identity },
            { tag: "link_code_pairing_wrapped_primary_ephemeral_pub", attrs: {}, content: await primary.wrappedEphemeral() },
          ],
        },
      ],
    });
  }

  /** The client's key bundle: it opens only if the typed code was its own. */
  private onCompanionFinish(reg: WaNode, result: (content?: WaNode[]) => void, refuse: () => void): void {
    const link = this.linkCode;
    const typed = link?.typed;
    const bundle = bytesOf(child(reg, "link_code_pairing_wrapped_key_bundle"));
    const identity = bytesOf(child(reg, "companion_identity_public"));
    const ref = bytesOf(child(reg, "link_code_pairing_ref"));
    if (!link || !typed || !bundle || !identity || !ref || Buffer.from(ref).compare(link.ref) !== 0) return refuse();
    link.typed = undefined;
    const opened = typed.primary.openBundle(Buffer.from(bundle), this.gw.peers.accountKey(link.phone));
    const ok = !!opened && opened.companionIdentity.equals(Buffer.from(identity)) && opened.companionIdentity.equals(this.registration!.identity);
    if (ok) link.advSecret = opened.advSecret;
    result();
    this.netSend({ t: "code_proof", attempt: typed.attempt, ok });
  }

  // --- login ---

  private startLogin(username: string, deviceNumber: number): void {
    const device = this.gw.opts.network.ledger.deviceOfPhone(username);
    const keys = keysOf(device);
    if (!device || !keys || keys.device !== deviceNumber || Buffer.from(keys.noiseKey, "base64").compare(this.clientStatic!) !== 0) {
      this.send({ tag: "failure", attrs: { reason: "401", location: "sim" } });
      this.ws.close();
      return;
    }
    this.connectNetwork({ t: "hello", creds: { deviceId: device.deviceId, secret: device.secret, phone: device.phone } });
  }

  private async onNetReady(me: SimMe): Promise<void> {
    const device = this.gw.opts.network.ledger.deviceOfPhone(this.netPhone!);
    if (this.pairing) return; // a fresh link: the client restarts (515) and logs in
    this.device = device;
    this.pushname = me.pushname;
    const lid = this.gw.lidOfPhone(device!.phone);
    this.send({ tag: "success", attrs: { t: String(nowSeconds()), props: "1", abprops: "1", location: "sim", lid: `${lid}@lid`, creation: String(Math.floor(device!.linkedAt / 1000)) } });
    this.send({ tag: "ib", attrs: { from: S_WA }, content: [{ tag: "offline", attrs: { count: "0" } }] });
    await this.shareAppState(device!, me);
    // the address book as the phone keeps it (app state): names saved since, told to a device that has the key
    const state = this.gw.appStateOf(device!.phone, me.pushname);
    this.syncAddressBook();
    // and a business account's labels, made or applied on the phone since
    if (syncLabels(state, this.gw.opts.network, device!.phone, this.gw.labelsWritten(device!.phone))) this.tellSync("regular");
  }

  /** The account's address book changed on its phone: written to its app state, this device told (if it is the account's and logged in). */
  onAddressBookChanged(phone: string): void {
    if (this.phase === "open" && this.device?.phone === phone) this.serial(() => this.syncAddressBook());
  }

  /** Names saved on the phone since the address book was last written to app state, and the device told of them. */
  private syncAddressBook(): void {
    const phone = this.device!.phone;
    const state = this.gw.appStates.get(phone);
    if (!state) return;
    let book = this.gw.addressBooks.get(phone);
    if (!book) this.gw.addressBooks.set(phone, (book = new Map()));
    if (syncAddressBook(state, this.gw.opts.network.accounts, phone, book)) this.tellSync("critical_unblock_low");
  }

  /** Tells a device that has the app-state key that a collection has new patches (one still waiting for the key hears of all of them once it has it). */
  private tellSync(name: AppStateCollection): void {
    const device = this.device;
    const state = device ? this.gw.appStates.get(device.phone) : undefined;
    if (!device || !state || this.keyShare || this.gw.keyShared.get(device.deviceId) !== state.key.id.toString("base64")) return;
    this.send({ tag: "notification", attrs: { from: S_WA, type: "server_sync", id: this.tag(), t: String(nowSeconds()) }, content: [{ tag: "collection", attrs: { name, version: String(state.version(name)) } }] });
  }

  /** The account's push name, as its own phone's messages carry it (`notify`). */
  private pushname: string | undefined;
  /** The id of the peer message that shares the app-state sync key with this client, until it is received. */
  private keyShare: { id: string; keyId: string } | undefined;

  /**
   * The phone shares its app-state sync key with a new companion once, in a peer message; once the
   * companion has it (its `peer_msg` receipt), the server tells it the account's collections changed
   * (`server_sync`) and the companion syncs them: the push name first (critical_block).
   */
  private async shareAppState(device: DeviceRecord, me: SimMe): Promise<void> {
    const state = this.gw.appStateOf(device.phone, me.pushname);
    const keyId = state.key.id.toString("base64");
    if (this.gw.keyShared.get(device.deviceId) === keyId) return;
    this.keyShare = { id: `3EB0${randomBytes(8).toString("hex").toUpperCase()}`, keyId };
    const message = { protocolMessage: { type: proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE, appStateSyncKeyShare: state.keyShare() } };
    this.held.push({ from: device.phone, id: this.keyShare.id, t: nowSeconds(), type: "protocol", category: "peer", message });
    // then, once per companion, the history: its chats and their recent messages (history-sync.ts)
    if (!this.gw.historySent.has(device.deviceId)) {
      this.gw.historySent.add(device.deviceId);
      for (const sync of historySyncMessages(this.gw.opts.network.accounts, device.phone, (m) => waMessageOf(m))) {
        this.held.push({ from: device.phone, id: `3EB0${randomBytes(8).toString("hex").toUpperCase()}`, t: nowSeconds(), type: "protocol", category: "peer", message: sync });
      }
    }
    return this.flushHeld();
  }

  /** The client has the app-state sync key: tell it which collections have patches for it. */
  private onKeyShareReceived(): void {
    const device = this.device;
    const share = this.keyShare;
    if (!device || !share) return;
    this.keyShare = undefined;
    this.gw.keyShared.set(device.deviceId, share.keyId);
    const state = this.gw.appStates.get(device.phone);
    for (const name of APP_STATE_COLLECTIONS) {
      const version = state?.version(name) ?? 0;
      if (version === 0) continue;
      this.send({ tag: "notification", attrs: { from: S_WA, type: "server_sync", id: this.tag(), t: String(nowSeconds()) }, content: [{ tag: "collection", attrs: { name, version: String(version) } }] });
    }
  }

  /** `w:sync:app:state`: the patches of each collection after the version the client has. */
  private appStateSync(node: WaNode): WaNode {
    const state = this.device ? this.gw.appStates.get(this.device.phone) : undefined;
    return {
      tag: "sync",
      attrs: {},
      content: children(child(node, "sync"), "collection").map((c): WaNode => {
        const name = c.attrs.name ?? "";
        const from = Number(c.attrs.version ?? "0");
        if (!isAppStateCollection(name) || !Number.isSafeInteger(from) || from < 0) {
          return { tag: "collection", attrs: { name, type: "error" }, content: [{ tag: "error", attrs: { code: "400", text: "bad-request" } }] };
        }
        const { version, patches } = state ? state.patchesSince(name, from) : { version: 0, patches: [] };
        const list: WaNode[] = patches.map((p) => ({ tag: "patch", attrs: {}, content: p }));
        return { tag: "collection", attrs: { name, version: String(version) }, ...(list.length ? { content: [{ tag: "patches", attrs: {}, content: list }] } : {}) };
      }),
    };
  }

  /**
   * A companion's app-state patch: decrypted and checked (value and index MACs here, snapshot and
   * patch MACs against the collection), appended to the account's collection, its deletes-for-me
   * applied on the network before the answer. Any other action is refused (501: not modelled), so the
   * client does not believe it done.
   */
  private onAppStatePatch(node: WaNode, id: string): void {
    const error = (code: string, text: string) => this.send({ tag: "iq", attrs: { from: S_WA, type: "error", id }, content: [{ tag: "error", attrs: { code, text } }] });
    const state = this.device ? this.gw.appStates.get(this.device.phone) : undefined;
    if (!state) return error("400", "no app state for this account");
    const deletes: string[] = [];
    const labels: { chatId: string; labelId: string; on: boolean }[] = [];
    const applied: { name: AppStateCollection; base: number; patch: DecodedPatch & { encoded: Buffer } }[] = [];
    try {
      for (const c of children(child(node, "sync"), "collection")) {
        const name = c.attrs.name ?? "";
        if (!isAppStateCollection(name)) return error("400", `bad collection ${name}`);
        let base = Number(c.attrs.version ?? "0");
        for (const p of children(c, "patch")) {
          const encoded = bytesOf(p) ?? Buffer.alloc(0);
          const patch = decodePatch(encoded, (kid) => (kid.equals(state.key.id) ? state.key.data : undefined));
          for (const m of patch.mutations) {
            if (m.operation === "set" && m.index[0] === "deleteMessageForMe" && m.index[2]) deletes.push(m.index[2]);
            else if (m.operation === "set" && m.index[0] === "label_jid" && m.index[1] && m.index[2] && m.value?.labelAssociationAction) labels.push({ labelId: m.index[1], chatId: chatIdOfJid(m.index[2]), on: m.value.labelAssociationAction.labeled === true });
            else return error("501", `not-implemented: ${m.index[0] ?? "?"}`);
          }
          applied.push({ name, base: base++, patch: { ...patch, encoded } });
        }
      }
    } catch (err) {
      if (!(err instanceof AppStateError)) throw err;
      this.gw.log("warn", `app-state patch refused: ${err.code}: ${err.message}`);
      return error("400", err.code);
    }
    const versions = new Map<string, number>();
    for (const a of applied) {
      const v = state.applyPatch(a.name, a.base, a.patch);
      if (v === "conflict") return error("409", "conflict");
      if (v === "bad-mac") return error("400", "APP_STATE_BAD_MAC");
      versions.set(a.name, v);
    }
    const answer = () => this.send({ tag: "iq", attrs: { from: S_WA, type: "result", id }, content: [{ tag: "sync", attrs: {}, content: [...versions].map(([name, version]) => ({ tag: "collection", attrs: { name, version: String(version) } })) }] });
    const queries: { q: Record<string, unknown>; done?: (data: unknown) => string | undefined }[] = [
      ...deletes.map((msgId) => ({ q: { op: "revoke", id: msgId, forEveryone: false } })),
      // a chat labelled on this device: the network's, noted as the app state's already
      ...labels.map((l) => ({
        q: { op: "chat_label", ...l },
        done: (data: unknown) => {
          if (data !== "ok") return String(data);
          noteChatLabel(this.gw.labelsWritten(this.device!.phone), l.chatId, l.labelId, l.on);
          return undefined;
        },
      })),
    ];
    if (!queries.length) return answer();
    let left = queries.length;
    let failed: string | undefined;
    for (const { q, done } of queries) {
      this.netQuery(q, (err, data) => {
        failed ??= err ?? done?.(data);
        if (--left > 0) return;
        if (failed) error("500", failed);
        else answer();
      });
    }
  }

  // --- the network side ---

  private netPhone: string | undefined;
  private logoutIq: string | undefined;

  private connectNetwork(hello: { t: "hello"; creds?: { deviceId: string; secret: string; phone: string } }): void {
    this.netPhone = hello.creds?.phone;
    const net = new WebSocket(this.gw.opts.networkWsUrl(), { autoPong: false, maxPayload: 96 * 1024 * 1024 });
    this.net = net;
    net.on("open", () => net.send(JSON.stringify({ ...hello, client: "baileys-gateway" })));
    net.on("ping", () => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
    });
    net.on("message", (data) => {
      const f = JSON.parse(data.toString()) as ServerFrame;
      this.serial(() => this.onNetFrame(f));
    });
    net.on("error", () => {});
    net.on("close", () => {
      // the network dropped or ended us: so does WhatsApp's server
      this.serial(() => {
        if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
      });
    });
  }

  private async onNetFrame(f: ServerFrame): Promise<void> {
    if (this.phase === "closed") return;
    switch (f.t) {
      case "qr":
        return this.onNetQr(f.qr);
      case "code_typed":
        return this.onNetCodeTyped(f.attempt, f.code);
      case "paired":
        this.netPhone = f.creds.phone;
        return this.onNetPaired(f.creds, f.scanned);
      case "ready":
        return this.onNetReady(f.me);
      case "message": {
        const m = f.message;
        if (m.media) await this.gw.media.listen();
        const type = m.location || m.vcard || m.media ? "media" : m.poll ? "poll" : "text";
        if (m.from.endsWith("@g.us") && m.author) {
          this.held.push({ group: m.from, from: m.author.replace(/@.*$/, ""), id: m.id, t: m.timestamp, type, message: waMessageOf(m, this.gw.media) });
          return this.flushHeld();
        }
        this.held.push({ from: m.from.replace(/@.*$/, ""), id: m.id, t: m.timestamp, type, message: waMessageOf(m, this.gw.media) });
        return this.flushHeld();
      }
      case "ack":
        return this.onNetAck(f.id, f.ack, f.error);
      case "logged_out":
        // our own logout is done: answer the client's iq, then end the stream as WhatsApp does
        if (this.logoutIq) this.send({ tag: "iq", attrs: { from: S_WA, type: "result", id: this.logoutIq } });
        return this.streamError("401", [{ tag: "conflict", attrs: { type: "device_removed" } }]);
      case "conflict":
        return this.streamError(undefined, [{ tag: "conflict", attrs: { type: "replaced" } }]);
      case "restricted":
        // a banned account: WhatsApp ends the stream with 403 (Baileys' DisconnectReason.forbidden)
        return this.streamError("403");
      case "error":
        this.gw.log("warn", `network error ${f.code}: ${f.message}`);
        return;
      case "update":
        return this.onNetUpdate(f.update, f.uid);
      case "result": {
        const done = this.queries.get(f.qid);
        this.queries.delete(f.qid);
        done?.(f.error, f.data);
        return;
      }
      default:
        return;
    }
  }

  private onNetAck(id: string, ack: string, error?: string): void {
    const to = this.sentTo.get(id);
    if (!to) return;
    if (ack === "SERVER") this.send({ tag: "ack", attrs: { class: "message", id, from: to, t: String(nowSeconds()) } });
    else if (ack === "ERROR") this.send({ tag: "ack", attrs: { class: "message", id, from: to, error: error?.startsWith("NOT_ADMIN") ? "403" : "479", ...(error ? { reason: error.slice(0, 100) } : {}) } });
    // a group's receipt names the member it is from: the network tells that a member's device got it, not whose
    const member = to.endsWith("@g.us") ? this.gw.opts.network.groups.membersOf(to)?.find((p) => p !== this.device?.phone) : undefined;
    const from = { from: to, ...(member ? { participant: `${member}@${S_WA}` } : {}) };
    if (ack === "DEVICE") this.send({ tag: "receipt", attrs: { id, ...from, t: String(nowSeconds()) } });
    else if (ack === "READ") this.send({ tag: "receipt", attrs: { id, ...from, type: "read", t: String(nowSeconds()) } });
  }

  /**
   * What happened to the account's messages elsewhere, as WhatsApp tells a companion: a contact's
   * reaction or edit as a message from them (a reactionMessage, a MESSAGE_EDIT protocolMessage),
   * acknowledged to the network once the client's receipt comes; a contact typing as a chatstate.
   * The rest is not translated for Baileys yet (its engine declares none of those capabilities) and
   * is acknowledged at once so the network stops keeping it.
   */
  private onNetUpdate(u: SimUpdate, uid: string | undefined): Promise<void> | void {
    const me = this.device?.phone ?? this.netPhone;
    if (this.groups.onUpdate(u, uid)) return;
    if ((u.kind === "reaction" || u.kind === "edit" || u.kind === "revoke") && me) {
      const from = u.kind === "reaction" ? u.from.replace(/@.*$/, "") : u.chatId.replace(/@.*$/, "");
      const key = { remoteJid: `${me}@${S_WA}`, fromMe: u.kind !== "reaction", id: u.id };
      // (a contact's revoke of their own message: a REVOKE protocolMessage, type 0)
      const message =
        u.kind === "reaction"
          ? { reactionMessage: { key, text: u.emoji, senderTimestampMs: Date.now() } }
          : u.kind === "edit"
            ? { protocolMessage: { key, type: 14, editedMessage: { conversation: u.body }, timestampMs: Date.now() } }
            : { protocolMessage: { key, type: 0 } };
      const id = `3EB0${randomBytes(8).toString("hex").toUpperCase()}`;
      if (uid) this.relayedUpdates.set(id, uid);
      this.held.push({ from, id, t: nowSeconds(), type: u.kind === "reaction" ? "reaction" : "text", message });
      return this.flushHeld();
    }
    if (u.kind === "sent" && me) {
      // an own message typed on the phone: to a companion WhatsApp relays it from the account itself,
      // to the chat as recipient, wrapped in a deviceSentMessage
      const m = u.message;
      const destination = waJid(m.chatId);
      const message = { deviceSentMessage: { destinationJid: destination, message: waMessageOf(m) } };
      if (uid) this.relayedUpdates.set(m.id, uid);
      this.held.push({ from: me, id: m.id, t: m.timestamp, type: m.location || m.vcard ? "media" : "text", message, recipient: destination });
      return this.flushHeld();
    }
    if (u.kind === "vote" && me) {
      const secret = this.gw.pollSecrets.get(u.id);
      const voter = u.voter.replace(/@.*$/, "");
      if (secret) {
        const vote = Buffer.from(proto.Message.PollVoteMessage.encode({ selectedOptions: u.options.map((o) => createHash("sha256").update(o).digest()) }).finish());
        const message = { pollUpdateMessage: { pollCreationMessageKey: { remoteJid: `${me}@${S_WA}`, fromMe: false, id: u.id }, vote: encryptPollVote(vote, secret, u.id, `${me}@${S_WA}`, `${voter}@${S_WA}`), senderTimestampMs: Date.now() } };
        const id = `3EB0${randomBytes(8).toString("hex").toUpperCase()}`;
        if (uid) this.relayedUpdates.set(id, uid);
        this.held.push({ from: voter, id, t: nowSeconds(), type: "poll", message });
        return this.flushHeld();
      }
    }
    if ((u.kind === "label" || u.kind === "label_defs") && this.device) {
      // the phone made a label or labelled a chat: in the account's app state, and the device told
      const state = this.gw.appStates.get(this.device.phone);
      if (state && syncLabels(state, this.gw.opts.network, this.device.phone, this.gw.labelsWritten(this.device.phone))) this.tellSync("regular");
    }
    if (u.kind === "presence") {
      const state: WaNode = u.state === "paused" ? { tag: "paused", attrs: {} } : { tag: "composing", attrs: u.state === "recording" ? { media: "audio" } : {} };
      this.send({ tag: "chatstate", attrs: { from: `${u.from.replace(/@.*$/, "")}@${S_WA}` }, content: [state] });
    }
    if (uid) this.netSend({ t: "update_ack", uid });
  }

  /** Relays what the network handed over once the client has keys to receive it. */
  private async flushHeld(): Promise<void> {
    const device = this.device;
    if (!device?.baileys || !this.gw.preKeys.get(device.deviceId)?.size) return;
    while (this.held.length) {
      const r = this.held.shift()!;
      if (r.group) {
        this.send(await this.groups.groupStanza({ ...r, group: r.group }));
        continue;
      }
      const content = Buffer.from(proto.Message.encode(r.message).finish());
      const enc = await this.encryptToClient(r.from, content);
      this.send({
        tag: "message",
        // notify is the sender's push name: the account's own when its phone sent it
        attrs: { from: `${r.from}@${S_WA}`, id: r.id, t: String(r.t), type: r.type, notify: r.from === device.phone ? (this.pushname ?? `Sim ${r.from}`) : `Contact ${r.from}`, ...(r.recipient ? { recipient: r.recipient } : {}), ...(r.category ? { category: r.category } : {}) },
        content: [{ tag: "enc", attrs: { v: "2", type: enc.type }, content: enc.body }],
      });
    }
  }

  /** 1:1 Signal from `phone`'s phone to the client, starting the session from the client's bundle when there is none. */
  private encryptToClient(phone: string, content: Buffer): Promise<{ type: "pkmsg" | "msg"; body: Buffer }> {
    const device = this.device!;
    const keys = device.baileys!;
    return this.gw.peers.encrypt(phone, `${device.phone}.${keys.device}`, content, () => ({
      registrationId: keys.registrationId,
      identity: Buffer.from(keys.identity, "base64"),
      signedPreKey: { id: keys.signedPreKey.id, public: Buffer.from(keys.signedPreKey.public, "base64"), signature: Buffer.from(keys.signedPreKey.signature, "base64") },
      takePreKey: () => this.takePreKey(device.deviceId),
    }));
  }

  private takePreKey(deviceId: string): { id: number; public: Buffer } | undefined {
    const keys = this.gw.preKeys.get(deviceId);
    const first = keys?.entries().next();
    if (!keys || !first || first.done) return undefined;
    keys.delete(first.value[0]);
    return { id: first.value[0], public: first.value[1] };
  }

  // --- the client's nodes ---

  private async onNode(node: WaNode): Promise<void> {
    switch (node.tag) {
      case "iq":
        return this.onIq(node);
      case "message":
        return this.onMessage(node);
      case "call":
        return this.groups.onCall(node);
      case "ack":
        return this.groups.onAck(node);
      case "receipt": {
        const ack = () => this.send({ tag: "ack", attrs: { class: "receipt", id: node.attrs.id, from: node.attrs.to ?? S_WA, ...(node.attrs.type ? { type: node.attrs.type } : {}) } });
        if (node.attrs.type === "read" || node.attrs.type === "read-self") {
          // the account read the chat: the network marks it read (and tells the senders); acked once done
          const to = node.attrs.to ?? "";
          const phone = this.phoneOf(to);
          const chatId = /^[0-9-]+@g\.us$/.test(to) ? to : phone ? `${phone}@c.us` : undefined;
          if (!chatId) return ack();
          this.netQuery({ op: "read", chatId }, ack);
          return;
        }
        ack();
        if (node.attrs.type === "peer_msg" && node.attrs.id === this.keyShare?.id) return this.onKeyShareReceived();
        // (a companion's receipt for an own message from another device is type "sender")
        if (!node.attrs.type || node.attrs.type === "inactive" || node.attrs.type === "sender") {
          const uid = this.relayedUpdates.get(node.attrs.id);
          this.relayedUpdates.delete(node.attrs.id);
          this.netSend(uid ? { t: "update_ack", uid } : { t: "recv_ack", id: node.attrs.id });
        }
        return;
      }
      case "chatstate": {
        // the account types (or records, or stops) in a chat: the network records it; the next frame
        // waits until it has, so a client's round trip after it finds it done
        const phone = this.phoneOf(node.attrs.to ?? "");
        const first = Array.isArray(node.content) ? node.content[0] : undefined;
        if (!phone || !first) return;
        const state = first.tag === "paused" ? "paused" : first.attrs.media === "audio" ? "recording" : "typing";
        this.netQuery({ op: "presence", chatId: `${phone}@c.us`, state }, () => undefined);
        return;
      }
      default:
        return; // presence, acks, ib, notifications' acks: nothing to do in the simulation
    }
  }

  private async onIq(node: WaNode): Promise<void> {
    const { id, xmlns, type } = node.attrs;
    const first = Array.isArray(node.content) ? node.content[0] : undefined;
    const result = (content?: WaNode[]) => this.send({ tag: "iq", attrs: { from: S_WA, type: "result", id }, ...(content ? { content } : {}) });
    if (type === "result") {
      if (child(node, "pair-device-sign") && this.pairing) {
        // linked: like WhatsApp, the server asks the client to reconnect with its new credentials
        return this.streamError("515");
      }
      return;
    }
    if (type === "error") return;
    // a ping is answered once the network has answered every earlier query (the server handles a
    // connection's stanzas in order; a chatstate, which has no answer, is done when its ping returns)
    if (xmlns === "w:p") return void this.netIdle().then(() => result());
    if (xmlns === "encrypt" && first?.tag === "count") return result([{ tag: "count", attrs: { value: String(this.device ? (this.gw.preKeys.get(this.device.deviceId)?.size ?? 0) : 0) } }]);
    if (xmlns === "encrypt" && type === "set" && child(node, "list")) {
      if (!this.device) return result();
      let keys = this.gw.preKeys.get(this.device.deviceId);
      if (!keys) this.gw.preKeys.set(this.device.deviceId, (keys = new Map()));
      for (const k of children(child(node, "list"), "key")) {
        const kid = bytesOf(child(k, "id"));
        const value = bytesOf(child(k, "value"));
        if (kid && value) keys.set(kid.reduce((v, x) => v * 256 + x, 0), Buffer.from(value));
      }
      result();
      return this.flushHeld();
    }
    if (xmlns === "encrypt" && type === "get" && first?.tag === "digest") {
      // the digest of the key bundle the server holds (its prekey ids and a hash over them); with none
      // held the answer carries no digest and the client uploads its keys again, as with WhatsApp
      const keys = this.device ? this.gw.preKeys.get(this.device.deviceId) : undefined;
      if (!keys?.size) return result();
      const ids = [...keys.keys()].sort((a, b) => a - b);
      const hash = createHash("sha1");
      for (const i of ids) hash.update(keys.get(i)!);
      const idBytes = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
      return result([{ tag: "digest", attrs: {}, content: [{ tag: "list", attrs: {}, content: ids.map((i) => ({ tag: "id", attrs: {}, content: idBytes(i) })) }, { tag: "hash", attrs: {}, content: hash.digest() }] }]);
    }
    if (xmlns === "encrypt" && first?.tag === "key") return result([{ tag: "list", attrs: {}, content: children(first, "user").map((u) => this.bundleNode(u.attrs.jid)) }]);
    if (xmlns === "usync") return result([this.usync(first!)]);
    if (xmlns === "w:sync:app:state" && type === "set") {
      // a companion's own change comes as a patch; otherwise it asks for what it lacks
      if (children(child(node, "sync"), "collection").some((c) => children(c, "patch").length)) return this.onAppStatePatch(node, id);
      return result([this.appStateSync(node)]);
    }
    if (xmlns === "w:m" && first?.tag === "media_conn") {
      // where to upload media, and a token that lets this client do it
      await this.gw.media.listen();
      const { auth, ttlSeconds } = this.gw.media.issueAuth();
      return result([{ tag: "media_conn", attrs: { auth, ttl: String(ttlSeconds), auth_ttl: String(ttlSeconds), max_buckets: "12" }, content: [{ tag: "host", attrs: { hostname: this.gw.media.hostname, maxContentLengthBytes: String(this.gw.media.maxBytes) } }] }]);
    }
    if (xmlns === "w:g2") return this.groups.onGroupIq(node);
    if (xmlns === "w:profile:picture" && this.groups.onPictureIq(node)) return;
    if (
      onContactIq(node, {
        send: (n) => this.send(n),
        netQuery: (q, done) => this.netQuery(q, done),
        phoneOf: (jid) => this.phoneOf(jid),
        lidOf: (phone) => this.gw.lidOfPhone(phone),
        accounts: this.gw.opts.network.accounts,
        me: () => this.device?.phone,
      })
    )
      return;
    if (xmlns === "privacy" && type === "get") {
      // the simulated accounts keep WhatsApp's default privacy settings
      const settings = { readreceipts: "all", last: "all", online: "all", profile: "all", status: "all", groupadd: "all", calladd: "all" };
      return result([{ tag: "privacy", attrs: {}, content: Object.entries(settings).map(([name, value]) => ({ tag: "category", attrs: { name, value } })) }]);
    }
    if (xmlns === "md" && first?.tag === "link_code_companion_reg") {
      const refuse = () => this.send({ tag: "iq", attrs: { from: S_WA, type: "error", id }, content: [{ tag: "error", attrs: { code: "400", text: "bad-request" } }] });
      if (first.attrs.stage === "companion_hello") return this.onCompanionHello(first, result, refuse);
      if (first.attrs.stage === "companion_finish") return this.onCompanionFinish(first, result, refuse);
    }
    if (xmlns === "md" && first?.tag === "remove-companion-device") {
      // answered once the network has unlinked the device (its logged_out), so the client knows it is done
      this.logoutIq = id;
      if (this.net?.readyState === WebSocket.OPEN) this.netSend({ t: "logout" });
      else result();
      return;
    }
    return result();
  }

  /** A WhatsApp jid as the network names people: `<phone>@c.us`, or `<lid>@lid` for an unknown LID. */
  private personId(jid: string): string {
    const phone = this.phoneOf(jid);
    return phone ? `${phone}@c.us` : jid.replace(/:\d+@/, "@");
  }

  private phoneOf(jid: string): string | undefined {
    const [userPart, server] = jid.split("@");
    const user = userPart.split(":")[0];
    if (server === "lid") return this.gw.phoneByLid.get(user);
    if (server === S_WA || server === "c.us") return user;
    return undefined;
  }

  private bundleNode(jid: string): WaNode {
    const phone = this.phoneOf(jid);
    if (!phone) return { tag: "user", attrs: { jid }, content: [{ tag: "error", attrs: { code: "404", text: "item-not-found" } }] };
    const b = this.gw.peers.bundleOf(phone);
    const u = (v: number, n: number) => {
      const out = Buffer.alloc(n);
      out.writeUIntBE(v, 0, n);
      return out;
    };
    return {
      tag: "user",
      attrs: { jid },
      content: [
        { tag: "registration", attrs: {}, content: u(b.registrationId, 4) },
        { tag: "type", attrs: {}, content: Buffer.from([5]) },
        { tag: "identity", attrs: {}, content: b.identity },
        { tag: "skey", attrs: {}, content: [{ tag: "id", attrs: {}, content: u(b.signedPreKey.id, 3) }, { tag: "value", attrs: {}, content: b.signedPreKey.public }, { tag: "signature", attrs: {}, content: b.signedPreKey.signature }] },
        { tag: "key", attrs: {}, content: [{ tag: "id", attrs: {}, content: u(b.preKey.id, 3) }, { tag: "value", attrs: {}, content: b.preKey.public }] },
      ],
    };
  }

  /** Device lists, LIDs and "is on WhatsApp" for the users asked about. */
  private usync(usync: WaNode): WaNode {
    const query = child(usync, "query");
    const asked = new Set(children(query).map((c) => c.tag));
    const me = this.device?.phone;
    const users = children(child(usync, "list"), "user").map((u) => {
      const contactNode = child(u, "contact");
      const contactPhone = contactNode ? bytesOf(contactNode)?.toString().replace(/^\+/, "") : undefined;
      const jid = u.attrs.jid ?? (contactPhone ? `${contactPhone}@${S_WA}` : "");
      const phone = this.phoneOf(jid);
      const onWa = phone !== undefined && this.gw.opts.network.accounts.onWhatsApp(phone);
      const content: WaNode[] = [];
      if (asked.has("devices")) {
        // the phone (device 0); our own companion too, so the client recognises itself
        const list: WaNode[] = [{ tag: "device", attrs: { id: "0" } }];
        if (phone && phone === me && this.device?.baileys) list.push({ tag: "device", attrs: { id: String(this.device.baileys.device), "key-index": "1" } });
        content.push({ tag: "devices", attrs: {}, content: [{ tag: "device-list", attrs: {}, content: onWa ? list : [] }] });
      }
      if (asked.has("lid") && phone) content.push({ tag: "lid", attrs: { val: `${this.gw.lidOfPhone(phone)}@lid` } });
      if (asked.has("contact")) content.push({ tag: "contact", attrs: { type: onWa ? "in" : "out" } });
      if (asked.has("status") && phone && onWa) content.push(statusNode(this.gw.opts.network.accounts, me ?? phone, phone));
      return { tag: "user", attrs: { jid: phone ? `${phone}@${S_WA}` : jid }, content };
    });
    return { tag: "usync", attrs: {}, content: [{ tag: "list", attrs: {}, content: users }] };
  }

  /** An outgoing message: decrypt the copy meant for the recipient's phone and hand it to the network. */
  private async onMessage(node: WaNode): Promise<void> {
    const { id, to } = node.attrs;
    const device = this.device;
    if (!device?.baileys) return;
    if (node.attrs.category === "peer") return this.onPeerMessage(node, device);
    const toPhone = this.phoneOf(to ?? "");
    const fail = (reason: string) => this.send({ tag: "ack", attrs: { class: "message", id, from: to ?? S_WA, error: "400", reason } });
    const isGroup = /^[0-9-]+@g\.us$/.test(to ?? "");
    if (!toPhone && !isGroup) return fail("bad recipient");
    let msg: any;
    if (isGroup) {
      // a post to a group: sender keys (lib/simulator/baileys/groups.ts)
      const opened = await this.groups.openGroupMessage(node);
      if (!opened.message) return fail(opened.error ?? "unreadable");
      msg = opened.message;
    } else {
      const encs: { jid: string; enc: WaNode }[] = [];
      for (const p of children(child(node, "participants"), "to")) for (const e of children(p, "enc")) encs.push({ jid: p.attrs.jid, enc: e });
      for (const e of children(node, "enc")) encs.push({ jid: to!, enc: e });
      // the copy for the recipient's phone (device 0); copies for our own other devices are not relayed
      const mine = encs.find((e) => this.phoneOf(e.jid) === toPhone && !/:\d+@/.test(e.jid.replace(/:0@/, "@"))) ?? encs.find((e) => this.phoneOf(e.jid) === toPhone);
      if (!mine) return fail("no copy for the recipient");
      const plain = await this.gw.peers.decrypt(toPhone!, `${device.phone}.${device.baileys.device}`, mine.enc.attrs.type, bytesOf(mine.enc)!);
      msg = proto.Message.decode(plain);
    }
    // a reaction or an edit of an own message: the network's action on that message, acked once done
    const answer = (error?: string) => this.send({ tag: "ack", attrs: { class: "message", id, from: to!, t: String(nowSeconds()), ...(error ? { error: "479", reason: error } : {}) } });
    if (msg.reactionMessage?.key?.id) return this.netQuery({ op: "react", id: msg.reactionMessage.key.id, emoji: msg.reactionMessage.text ?? "" }, answer);
    if (msg.protocolMessage?.type === 14 && msg.protocolMessage.key?.id) {
      const edited = msg.protocolMessage.editedMessage;
      const text = edited?.conversation || edited?.extendedTextMessage?.text || "";
      return this.netQuery({ op: "edit", id: msg.protocolMessage.key.id, body: text }, answer);
    }
    // a revoke (delete for everyone): REVOKE is type 0, so it must be set, not protobuf's default
    if (msg.protocolMessage && Object.prototype.hasOwnProperty.call(msg.protocolMessage, "type") && msg.protocolMessage.type === 0 && msg.protocolMessage.key?.id) {
      return this.netQuery({ op: "revoke", id: msg.protocolMessage.key.id, forEveryone: true }, answer);
    }
    const { body: text, fields } = fieldsOfWaMessage(msg, (jid) => this.personId(jid));
    let body = text;
    let media: SimMedia | undefined;
    const part = mediaPartOf(msg);
    if (part) {
      // the media the client uploaded, decrypted with its message's key: the network relays the bytes
      try {
        const found = simMediaOf(this.gw.media, part);
        ({ media, body } = found);
        if (found.voice) fields.voice = true;
      } catch (err) {
        if (!(err instanceof MediaCodecError)) throw err;
        this.gw.log("warn", `message ${id}: ${err.code}: ${err.message}`);
        return fail(err.code);
      }
    }
    // a poll's secret, which the votes on it are encrypted with (as the phones that vote would)
    if (fields.poll && msg.messageContextInfo?.messageSecret) this.gw.pollSecrets.set(id, Buffer.from(msg.messageContextInfo.messageSecret));
    this.sentTo.set(id, to!);
    this.netSend({ t: "send", id, to: isGroup ? to : `${toPhone}@c.us`, body, ...(media ? { media } : {}), ...fields });
  }

  /**
   * A message from the companion to the account's own phone (`category="peer"`, the DSM-wrapped
   * protocol message encrypted for the phone's device 0): the server acks it, and the phone, if it is
   * not away, answers a peer-data-operation request for earlier history (HISTORY_SYNC_ON_DEMAND) with
   * an ON_DEMAND history sync (history-sync.ts). Other peer requests go unanswered, as a phone that
   * does not serve them.
   */
  private async onPeerMessage(node: WaNode, device: DeviceRecord): Promise<void> {
    const { id, to } = node.attrs;
    const ack = (error?: string) => this.send({ tag: "ack", attrs: { class: "message", id, from: to ?? S_WA, t: String(nowSeconds()), ...(error ? { error } : {}) } });
    const enc = children(node, "enc")[0];
    if (this.phoneOf(to ?? "") !== device.phone || !enc) return ack("400");
    let msg: any;
    try {
      msg = proto.Message.decode(await this.gw.peers.decrypt(device.phone, `${device.phone}.${device.baileys!.device}`, enc.attrs.type, bytesOf(enc)!));
    } catch (err) {
      this.gw.log("warn", `peer message ${id}: unreadable: ${(err as Error).message}`);
      return ack("400");
    }
    ack();
    const pm = (msg.deviceSentMessage?.message ?? msg).protocolMessage;
    const request = pm?.type === proto.Message.ProtocolMessage.Type.PEER_DATA_OPERATION_REQUEST_MESSAGE ? pm.peerDataOperationRequestMessage : undefined;
    if (request?.peerDataOperationRequestType !== proto.Message.PeerDataOperationRequestType.HISTORY_SYNC_ON_DEMAND || !request.historySyncOnDemandRequest) return;
    if (this.gw.phonesAway.has(device.phone)) return;
    const answer = onDemandHistorySync(this.gw.opts.network.accounts, device.phone, request.historySyncOnDemandRequest, id!, (m) => waMessageOf(m));
    this.held.push({ from: device.phone, id: `3EB0${randomBytes(8).toString("hex").toUpperCase()}`, t: nowSeconds(), type: "protocol", category: "peer", message: answer });
    return this.flushHeld();
  }

  // --- plumbing ---

  private tagN = 0;
  private tag(): string {
    return `sim.${randomBytes(2).toString("hex")}.${++this.tagN}`;
  }

  private send(node: WaNode): void {
    if (this.phase !== "open" || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(frame(this.noise.encrypt(encodeNode(node))));
  }

  private readonly queries = new Map<string, (error?: string, data?: unknown) => void>();

  /** A query to the network on the account's behalf; `done` runs when it has answered. */
  /** Resolves once every network query asked so far has been answered. */
  private netIdle(): Promise<void> {
    if (!this.queries.size) return Promise.resolve();
    const waiting = [...this.queries.keys()];
    return new Promise((resolve) => {
      // (a closed connection answers nothing more: then nothing is waited for)
      const check = () => (this.phase !== "closed" && this.net?.readyState === WebSocket.OPEN && waiting.some((q) => this.queries.has(q)) ? setTimeout(check, 5) : resolve());
      check();
    });
  }

  private netQuery(q: Record<string, unknown>, done: (error?: string, data?: unknown) => void): void {
    const qid = this.tag();
    this.queries.set(qid, done);
    this.netSend({ t: "query", qid, ...q });
  }

  private netSend(f: unknown): void {
    if (this.net?.readyState === WebSocket.OPEN) this.net.send(JSON.stringify(f));
  }

  /** Ends the stream with a code (515 restart, 401 logged out) or a reason node (conflict), then closes. */
  private streamError(code: string | undefined, content?: WaNode[]): void {
    this.send({ tag: "stream:error", attrs: code ? { code } : {}, ...(content ? { content } : {}) });
    this.phase = "closed";
    this.ws.close();
    this.net?.close();
  }
}

export type { CurveKeyPair };

/** A message waiting to be relayed to the client: from whom (phone), its stanza, its content. */
interface Relay {
  from: string;
  id: string;
  t: number;
  type: string;
  message: Record<string, unknown>;
  /** An own message from another device: the chat it went to */
  recipient?: string;
  /** A member's post to this group (`from` is the author) */
  group?: string;
  /** `peer`: a message between the account's own devices (a protocol message, not a chat's) */
  category?: "peer";
}

// --- message content: the network's fields <-> WhatsApp's Message protobuf (written here, not with
// Baileys' own builders, so a mistake on one side is not hidden by the same mistake on the other) ---

/** `<phone>@c.us` -> `<phone>@s.whatsapp.net`; LIDs stay. */
const waJid = (id: string) => id.replace(/@c\.us$/, `@${S_WA}`);

/** What the network hands over (an incoming message) as the Message a phone would send. */
export function waMessageOf(m: Pick<SimIncomingMessage, "body"> & SimMessageFields & { media?: SimMedia | { mimetype: string } }, media?: MediaHost): Record<string, unknown> {
  const contextInfo: Record<string, unknown> = {};
  if (m.replyTo) Object.assign(contextInfo, { stanzaId: m.replyTo, quotedMessage: { conversation: "" } });
  if (m.mentions?.length) contextInfo.mentionedJid = m.mentions.map(waJid);
  const ctx = Object.keys(contextInfo).length ? { contextInfo } : {};
  // media is encrypted and hosted for the client to download (a host that listens)
  if (media && m.media && "data" in m.media) return waMediaMessageOf(media, { ...m, media: m.media }, ctx);
  if (m.location) {
    const { latitude, longitude, name, address } = m.location;
    return { locationMessage: { degreesLatitude: latitude, degreesLongitude: longitude, ...(name ? { name } : {}), ...(address ? { address } : {}), ...ctx } };
  }
  if (m.poll) {
    // WhatsApp's own shapes: a single-choice poll is a V3, a multiple-choice one the first version
    const poll = { name: m.poll.name, options: m.poll.options.map((optionName) => ({ optionName })), selectableOptionsCount: m.poll.multiple ? 0 : 1, ...ctx };
    return { messageContextInfo: { messageSecret: randomBytes(32) }, ...(m.poll.multiple ? { pollCreationMessage: poll } : { pollCreationMessageV3: poll }) };
  }
  if (m.vcard) return { contactMessage: { displayName: /^FN:(.*)$/m.exec(m.vcard)?.[1]?.trim() ?? "", vcard: m.vcard, ...ctx } };
  return ctx.contextInfo ? { extendedTextMessage: { text: m.body, ...ctx } } : { conversation: m.body };
}

/** An outgoing Message as the network's send frame carries it (text, reply, mentions, location, vCard). */
export function fieldsOfWaMessage(msg: any, personId: (jid: string) => string): { body: string; fields: SimMessageFields } {
  const fields: SimMessageFields = {};
  const poll = msg.pollCreationMessage ?? msg.pollCreationMessageV2 ?? msg.pollCreationMessageV3;
  const inner = msg.extendedTextMessage ?? msg.locationMessage ?? msg.contactMessage ?? poll ?? mediaPartOf(msg)?.part;
  const ctx = inner?.contextInfo;
  if (ctx?.stanzaId) fields.replyTo = ctx.stanzaId;
  if (ctx?.mentionedJid?.length) fields.mentions = (ctx.mentionedJid as string[]).map(personId);
  if (msg.locationMessage) {
    const l = msg.locationMessage;
    fields.location = { latitude: l.degreesLatitude, longitude: l.degreesLongitude, ...(l.name ? { name: l.name } : {}), ...(l.address ? { address: l.address } : {}) };
  }
  if (msg.contactMessage?.vcard) fields.vcard = msg.contactMessage.vcard;
  if (poll) fields.poll = { name: poll.name ?? "", options: (poll.options ?? []).map((o: any) => o.optionName ?? ""), multiple: (poll.selectableOptionsCount ?? 0) !== 1 };
  return { body: msg.conversation || msg.extendedTextMessage?.text || "", fields };
}

/**
 * A vote as a voting phone encrypts it (WhatsApp's poll vote scheme, written here with node:crypto):
 * key = HMAC(HMAC(0^32, secret), pollId | creator | voter | "Poll Vote" | 1), AES-256-GCM with the
 * additional data `pollId \0 voter`, the tag after the ciphertext.
 */
export function encryptPollVote(plain: Buffer, secret: Buffer, pollId: string, creatorJid: string, voterJid: string): { encPayload: Buffer; encIv: Buffer } {
  const key0 = createHmac("sha256", Buffer.alloc(32)).update(secret).digest();
  const key = createHmac("sha256", key0).update(Buffer.concat([Buffer.from(pollId), Buffer.from(creatorJid), Buffer.from(voterJid), Buffer.from("Poll Vote"), Buffer.from([1])])).digest();
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(`${pollId}\u0000${voterJid}`));
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return { encPayload: body, encIv: iv };
}

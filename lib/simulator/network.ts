// The simulated WhatsApp network: plays WhatsApp's servers (linking, resume, conflicts, keepalive,
// acks, offline queues) and the phones and contacts around them, over one HTTP port (admin API + WebSocket).
import { createServer } from "node:http";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import type { RawData, WebSocket } from "ws";
import { ulid } from "ulid";
import { createAdminHandler } from "./admin-api";
import { SimConnection } from "./connection";
import { KeepaliveSchedule } from "./keepalive";
import type { BaileysDeviceKeys, DeviceRecord, InboxMessage, IncomingRecord, LedgerSnapshot, LedgerView, OutgoingRecord } from "./ledger";
import { SimLedger } from "./ledger";
import { newDeviceId, newDeviceSecret, newPairingCode, newQrString, normalizePairingCode } from "./link-codes";
import { parseMedia } from "./media";
import { SimAccounts, PAGE_MAX } from "./accounts";
import type { SimProfile } from "./accounts";
import { messageTypeOf, parseMessageFields } from "./message-fields";
import type { SimFaults, SimHistoryMessage, SimIncomingMessage, SimMe, SimMedia, SimMessageFields, SimRestriction, SimStats, SimUpdate } from "./protocol";
import type { AckLevel } from "../whatsapp";
import { parseId, parsePhone, parseUserJid, userJid } from "../whatsapp";
import { SimError } from "./sim-error";
import { BaileysGateway } from "./baileys/gateway";
import { StateFile } from "./state-file";
import { GROUP_SIZE_MAX, SimGroups } from "./groups";
import type { SimGroupEvent, SimGroupSettings } from "./groups";
import { SimCalls } from "./calls";
import type { SimCall } from "./calls";
import { SimLabels } from "./labels";

export type SimLog = (level: "info" | "warn" | "error", msg: string) => void;

export interface SimNetworkOptions {
  /** A connection that has not answered a ping for this long is dropped. Default 5000. */
  keepaliveMs?: number;
  /** A new QR is shown this often; the previous one expires then. Default 20000. */
  qrRotateMs?: number;
  /** Delay between a contact's inbox receiving a message and the sender's DEVICE ack. Default 50. */
  deviceAckDelayMs?: number;
  log?: SimLog;
  /** State to start from (devices, messages, counters), e.g. loaded from a state file. */
  state?: LedgerSnapshot;
  /** Called after every change of the ledger, e.g. to persist it. */
  onStateChange?: () => void;
}

export interface StartSimNetworkOptions extends Omit<SimNetworkOptions, "state" | "onStateChange"> {
  /** 0 (default) = any free port. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Persist the ledger here, so a restarted network still knows its devices and queues. */
  stateFile?: string;
}

export interface RunningSimNetwork {
  /** `http://host:port`; engines connect to `<url>/ws`, the admin API is `<url>/sim/*`. */
  url: string;
  port: number;
  network: SimNetwork;
  close(): Promise<void>;
}

/** A frame carries at most one media of 64 MiB, as base64 (4/3), with room for the rest of the message. */
const MAX_FRAME_BYTES = 96 * 1024 * 1024;
const MAX_ID_LENGTH = 128;
/** How long a typed pairing code waits for the client that made it to prove it. */
const CODE_PROOF_TIMEOUT_MS = 15_000;
/** A group picture: at most 1 MiB, as base64. */
const GROUP_PICTURE_MAX_BASE64 = Math.ceil((1024 * 1024) / 3) * 4;
const nowSeconds = () => Math.floor(Date.now() / 1000);

export class SimNetwork {
  readonly ledger: SimLedger;
  /** Accounts' chats, history, contacts and profiles: what WhatsApp keeps for each */
  readonly accounts: SimAccounts;
  /** Groups: members, admins, settings, invite codes, pictures */
  readonly groups: SimGroups;
  /** Calls ringing linked accounts */
  readonly calls = new SimCalls();
  /** WhatsApp Business labels of each account */
  readonly labels: SimLabels;
  private readonly keepaliveMs: number;
  private readonly qrRotateMs: number;
  private readonly deviceAckDelayMs: number;
  private readonly log: SimLog;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly connections = new Set<SimConnection>();
  /** The one live authenticated connection of each device (deviceId -> connection). */
  private readonly readyByDevice = new Map<string, SimConnection>();
  private readonly byQr = new Map<string, SimConnection>();
  private readonly byCode = new Map<string, SimConnection>();
  private readonly ackTimers = new Set<NodeJS.Timeout>();
  private readonly keepaliveTimer: NodeJS.Timeout;
  private readonly keepalive: KeepaliveSchedule<SimConnection>;
  /** The fake WhatsApp server for Baileys clients, when this network serves one (startSimNetwork) */
  baileysGateway: BaileysGateway | undefined;
  private faults: SimFaults = { latencyMs: 0, dropRate: 0, loseUpdateAcks: false };
  /** Accounts whose sends reach the server and no device (one tick), each with its held deliveries. */
  private readonly holding = new Map<string, Array<() => void>>();
  /** Accounts WhatsApp restricted, with the reason their connection is refused. */
  private readonly restrictedAccounts = new Map<string, SimRestriction>();
  private nextConnectionId = 1;
  private closed = false;

  constructor(opts: SimNetworkOptions = {}) {
    this.keepaliveMs = opts.keepaliveMs ?? 5000;
    this.qrRotateMs = opts.qrRotateMs ?? 20000;
    this.deviceAckDelayMs = opts.deviceAckDelayMs ?? 50;
    this.log = opts.log ?? (() => {});
    this.ledger = new SimLedger(opts.onStateChange);
    this.ledger.restore(opts.state);
    this.accounts = new SimAccounts(opts.onStateChange);
    this.accounts.restore(opts.state?.accounts);
    this.groups = new SimGroups((phone, by) => this.addVerdict(phone, by), opts.onStateChange);
    this.groups.restore(opts.state?.groups);
    this.labels = new SimLabels(opts.onStateChange);
    this.labels.restore(opts.state?.labels);
    this.accounts.groupName = (id) => this.groups.subjectOf(id);
    // Each connection is pinged every K/2, a fiftieth of them at each tick (lib/simulator/keepalive.ts).
    this.keepalive = new KeepaliveSchedule(this.keepaliveMs);
    this.keepaliveTimer = setInterval(() => this.checkKeepalives(), this.keepalive.tickMs);
  }

  /** Hands an HTTP upgrade request to the network; only `/ws` is a WebSocket endpoint. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {});
    const path = (req.url ?? "").split("?")[0];
    if (this.closed || path !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  // --- admin operations (the phones and contacts) ---

  /**
   * A phone scans a QR (or types a pairing code): the connection showing it becomes a linked device.
   * A code the client made itself (`pair_code` with `own`) is proved by that client first, so this
   * waits for its answer.
   */
  async link(input: { qr: string; phone: string } | { code: string; phone: string }): Promise<SimMe> {
    const phone = this.requirePhone(input.phone, "phone");
    let conn: SimConnection | undefined;
    if ("qr" in input) {
      // WhatsApp Web shows `ref,noisePub,identityPub,advSecret,platform` built from the network's ref
      // and keys it cached when linking began: a scanned QR is found by its ref (the fake WA Web page)
      // newer clients (Baileys 7) show it as a link: `https://wa.me/settings/linked_devices#<data>`
      const data = input.qr.replace(/^https:\/\/wa\.me\/settings\/linked_devices#/, "");
      conn = this.byQr.get(data) ?? this.connectionShowingRef(data.split(",")[0]);
      if (!conn?.live) throw new SimError("QR_NOT_FOUND", "No connection shows this QR (wrong or expired)");
    } else {
      const code = normalizePairingCode(input.code);
      conn = this.byCode.get(code);
      if (!conn) {
        // a companion's own code: the phone's number reaches the connection that asked for it
        const own = this.ownCodeConnection(phone);
        if (own && (await this.proveCode(own, code))) conn = own;
      }
      if (!conn?.live || conn.pairing?.phone !== phone) throw new SimError("CODE_NOT_FOUND", "No connection shows this pairing code for this phone");
    }
    this.stopLinking(conn);
    const device: DeviceRecord = { deviceId: newDeviceId(), secret: newDeviceSecret(), phone, linkedAt: Date.now() };
    const previous = this.ledger.putDevice(device);
    if (previous) this.endDeviceConnection(previous, "UNPAIRED");
    this.log("info", `linked ${phone} as ${device.deviceId} (connection ${conn.id})`);
    conn.send({ t: "paired", creds: { deviceId: device.deviceId, secret: device.secret, phone }, ...("qr" in input ? { scanned: input.qr.replace(/^https:\/\/wa\.me\/settings\/linked_devices#/, "") } : {}) });
    this.becomeReady(conn, device);
    return this.meOf(phone);
  }

  /** The live connection waiting to be linked to `phone` by a code of its own making (the newest). */
  private ownCodeConnection(phone: string): SimConnection | undefined {
    let found: SimConnection | undefined;
    for (const conn of this.connections) if (conn.live && conn.phase === "linking" && conn.pairing?.phone === phone && conn.pairing.code === undefined) found = conn;
    return found;
  }

  /**
   * Hands a typed code to the connection that made its own and waits for its proof: true when it is
   * that code. One attempt at a time per connection; a connection that closes or does not answer in
   * time has not proved it.
   */
  private proveCode(conn: SimConnection, code: string): Promise<boolean> {
    const pairing = conn.pairing!;
    if (pairing.attempt) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const id = ulid();
      const timer = setTimeout(() => attempt.settle(false), CODE_PROOF_TIMEOUT_MS);
      const attempt = {
        id,
        settle: (ok: boolean) => {
          clearTimeout(timer);
          if (pairing.attempt === attempt) pairing.attempt = undefined;
          resolve(ok);
        },
      };
      pairing.attempt = attempt;
      conn.send({ t: "code_typed", attempt: id, code });
    });
  }

  /** Records the keys a Baileys client registered for a device linked through the fake WhatsApp server. */
  setBaileysKeys(deviceId: string, keys: BaileysDeviceKeys): void {
    const device = this.ledger.deviceById(deviceId);
    if (!device) return;
    device.baileys = keys;
    this.ledger.touched();
  }

  /** The phone removes the linked device (WhatsApp's "log out" from the phone). */
  unlink(phoneInput: string): void {
    const phone = this.requirePhone(phoneInput, "phone");
    const device = this.ledger.removeDevice(phone);
    if (!device) throw new SimError("DEVICE_NOT_FOUND", `No device is linked for ${phone}`);
    this.endDeviceConnection(device, "LOGOUT");
    this.log("info", `unlinked ${phone}`);
  }

  /**
   * Holds (or releases) the deliveries of an account's sends: held, a message is accepted (SERVER ack)
   * and reaches no device, as WhatsApp treats a number it quietly restricts; released, the held ones
   * are delivered (DEVICE acks follow). Not kept in the state file (a fault, like latency).
   */
  holdDeliveries(phoneInput: string, hold: boolean): { held: number } {
    const phone = this.requirePhone(phoneInput, "phone");
    const held = this.holding.get(phone) ?? [];
    if (hold) {
      this.holding.set(phone, held);
      return { held: held.length };
    }
    this.holding.delete(phone);
    for (const deliver of held) deliver();
    this.log("info", `released ${held.length} held deliveries of ${phone}`);
    return { held: 0 };
  }

  /** The account's live connection drops (a network blip): its client reconnects. False when it had none. */
  dropConnection(phoneInput: string): boolean {
    const conn = this.liveConnectionOf(this.requirePhone(phoneInput, "phone"));
    if (!conn) return false;
    this.log("info", `dropping the connection of ${conn.device?.phone}`);
    this.drop(conn);
    return true;
  }

  /**
   * WhatsApp restricts an account (`reason`) or lifts it (null): its device's connection is told
   * `restricted` and closed, and every connection of it is refused the same way until lifted.
   */
  restrict(phoneInput: string, reason: SimRestriction | null): void {
    const phone = this.requirePhone(phoneInput, "phone");
    if (!reason) {
      this.restrictedAccounts.delete(phone);
      return;
    }
    this.restrictedAccounts.set(phone, reason);
    const conn = this.liveConnectionOf(phone);
    this.log("info", `restricted ${phone} (${reason})`);
    if (!conn) return;
    conn.send({ t: "restricted", reason });
    this.end(conn, reason);
  }

  /** A contact messages an account; delivered now if the account is online, else when it comes back. */
  contactSend(contactInput: string, msg: { to: string; body: string; media?: SimMedia; fields?: SimMessageFields }): { id: string; queued: boolean; blocked?: true } {
    const contact = this.requirePhone(contactInput, "contact");
    const toPhone = this.requirePhone(msg.to, "to");
    const id = `SIMC${ulid()}`;
    // a blocked contact's messages never reach the account
    if (this.accounts.isBlocked(toPhone, contact)) return { id, queued: false, blocked: true };
    const fields = msg.fields ?? {};
    this.checkReply(toPhone, userJid(contact), fields);
    const record: IncomingRecord = { id, from: userJid(contact), toPhone, body: msg.body, timestamp: nowSeconds(), acked: false };
    if (msg.media) record.media = msg.media;
    if (Object.keys(fields).length) record.fields = fields;
    this.ledger.addIncoming(record);
    this.accounts.record(toPhone, historyOf(record, userJid(contact), false));
    return { id: record.id, queued: !this.pushIncoming(record) };
  }

  /**
   * The account's own phone sends a message (not through a linked device): the contact receives it,
   * it joins the history, and the linked device hears of it (WhatsApp's "message_create" from the phone).
   */
  phoneSend(accountInput: string, msg: { to: string; body: string; fields?: SimMessageFields }): { id: string } {
    const account = this.requirePhone(accountInput, "account");
    const to = this.requirePhone(msg.to, "to");
    const id = `SIMP${ulid()}`;
    const record: OutgoingRecord = { id, fromPhone: account, to: userJid(to), body: msg.body, timestamp: nowSeconds(), deliveries: 0, toAccount: false, read: false };
    if (msg.fields && Object.keys(msg.fields).length) record.fields = msg.fields;
    this.ledger.acceptOutgoing(record);
    this.ledger.deliverToContact(record);
    const m = this.accounts.record(account, { ...historyOf({ ...record, toPhone: to, from: userJid(account) }, userJid(to), true), ack: "DEVICE" });
    this.update(account, { kind: "sent", message: m });
    return { id };
  }

  /** A contact acts on a message it exchanged with an account: react, edit, revoke, vote. */
  contactAct(contactInput: string, input: { to: string; messageId: string } & ({ act: "react"; emoji: string } | { act: "edit"; body: string } | { act: "revoke" } | { act: "vote"; options: string[] })): SimHistoryMessage {
    const contact = this.requirePhone(contactInput, "contact");
    const account = this.requirePhone(input.to, "to");
    const chatId = userJid(contact);
    const current = this.accounts.message(account, input.messageId);
    if (!current || current.chatId !== chatId) throw new SimError("NOT_FOUND", `${account} has no message ${input.messageId} in its chat with ${contact}`);
    let m: SimHistoryMessage | undefined;
    let update: SimUpdate;
    switch (input.act) {
      case "react":
        m = this.accounts.react(account, input.messageId, contact, input.emoji);
        update = { kind: "reaction", id: input.messageId, chatId, from: chatId, emoji: input.emoji };
        break;
      case "edit":
        m = this.accounts.edit(account, input.messageId, input.body, false);
        update = { kind: "edit", id: input.messageId, chatId, body: input.body };
        break;
      case "revoke":
        m = this.accounts.revoke(account, input.messageId, false);
        update = { kind: "revoke", id: input.messageId, chatId };
        break;
      case "vote":
        m = this.accounts.vote(account, input.messageId, contact, input.options);
        update = { kind: "vote", id: input.messageId, chatId, voter: chatId, options: input.options };
        break;
    }
    if (!m) throw new SimError("VALIDATION_ERROR", `cannot ${input.act} message ${input.messageId} (not the sender's, revoked, not text or not a poll, or options not in the poll)`, "messageId");
    this.update(account, update);
    return m;
  }

  /** A contact shows typing, recording or paused in its chat with an account. */
  contactPresence(contactInput: string, toInput: string, state: "typing" | "recording" | "paused"): void {
    const contact = this.requirePhone(contactInput, "contact");
    const account = this.requirePhone(toInput, "to");
    this.update(account, { kind: "presence", chatId: userJid(contact), from: userJid(contact), state });
  }

  // --- groups, calls and labels, from the other side (contacts and the account's own phone) ---

  /** A contact creates a group (and may add linked accounts to it). */
  contactCreateGroup(byInput: string, subject: string, participantInputs: string[]) {
    const by = this.requirePhone(byInput, "by");
    const r = this.groups.create(by, subject, participantInputs.map((p) => this.requirePhone(p, "participants")));
    this.groupUpdate(r.event);
    return { group: r.group, participants: r.results };
  }

  /** A member acts on a group: add, remove, promote or demote participants. */
  contactGroupParticipants(byInput: string, groupId: string, action: "add" | "remove" | "promote" | "demote", participantInputs: string[]) {
    const by = this.requirePhone(byInput, "by");
    const r = this.groups.participants(by, this.requireGroup(groupId), action, participantInputs.map((p) => this.requirePhone(p, "participants")));
    for (const e of r.events) this.groupUpdate(e);
    return { participants: r.results };
  }

  contactGroupUpdate(byInput: string, groupId: string, change: { subject?: string; description?: string; settings?: Partial<SimGroupSettings> }) {
    const r = this.groups.update(this.requirePhone(byInput, "by"), this.requireGroup(groupId), change);
    for (const e of r.events) this.groupUpdate(e);
    return r.group;
  }

  contactLeaveGroup(byInput: string, groupId: string): void {
    for (const e of this.groups.leave(this.requirePhone(byInput, "by"), this.requireGroup(groupId))) this.groupUpdate(e);
  }

  contactJoinGroup(byInput: string, code: string) {
    const r = this.groups.joinByCode(this.requirePhone(byInput, "by"), code);
    if (r.event) this.groupUpdate(r.event);
    return r.group;
  }

  /** A contact (a member) posts to a group; linked members receive it with the contact as `author`. */
  groupSend(fromInput: string, groupIdInput: string, msg: { body: string; media?: SimMedia; fields?: SimMessageFields }): { id: string } {
    const from = this.requirePhone(fromInput, "from");
    const groupId = this.requireGroup(groupIdInput);
    const members = this.groups.checkPost(from, groupId);
    const record: OutgoingRecord = { id: `SIMG${ulid()}`, fromPhone: from, to: groupId, body: msg.body, timestamp: nowSeconds(), deliveries: 0, toAccount: false, read: false };
    if (msg.media) record.media = msg.media;
    if (msg.fields && Object.keys(msg.fields).length) record.fields = msg.fields;
    this.deliverToGroup(record, groupId, members);
    return { id: record.id };
  }

  /** A contact calls a linked account; its device hears of it if online (a call is never queued). */
  contactCall(fromInput: string, toInput: string, opts: { isVideo: boolean; isGroup: boolean }): SimCall {
    const from = this.requirePhone(fromInput, "contact");
    const to = this.requirePhone(toInput, "to");
    const call = this.calls.ring(userJid(from), to, opts.isVideo, opts.isGroup);
    this.update(to, { kind: "call", callId: call.id, from: call.from, isVideo: call.isVideo, isGroup: call.isGroup, timestamp: call.timestamp });
    return call;
  }

  /** The account's phone makes a label (WhatsApp Business accounts only). */
  phoneCreateLabel(accountInput: string, name: string, color?: string) {
    const account = this.requirePhone(accountInput, "account");
    this.requireBusiness(account);
    const label = this.labels.create(account, name, color);
    this.update(account, { kind: "label_defs", labels: this.labels.list(account) });
    return label;
  }

  /** The account's phone puts a label on a chat or takes it off; its linked device hears of it. */
  phoneLabelChat(accountInput: string, chatId: string, labelId: string, on: boolean): boolean {
    const account = this.requirePhone(accountInput, "account");
    this.requireBusiness(account);
    if (!this.labels.get(account, labelId)) throw new SimError("NOT_FOUND", `${account} has no label ${labelId}`);
    const changed = this.labels.set(account, chatId, labelId, on);
    if (changed) this.update(account, { kind: "label", chatId, labelId, on });
    return changed;
  }

  private requireBusiness(phone: string): void {
    if (!this.accounts.profile(phone).isBusiness) throw new SimError("NOT_BUSINESS", `${phone} is not a WhatsApp Business account: it has no labels`);
  }

  private requireGroup(value: string): string {
    const id = parseId(value);
    if (id?.kind !== "group") throw new SimError("VALIDATION_ERROR", "expected a group id: <digits>@g.us", "groupId");
    return id.serialized;
  }

  setProfile(phoneInput: string, profile: SimProfile): void {
    this.accounts.setProfile(this.requirePhone(phoneInput, "contact"), profile);
  }

  saveContact(accountInput: string, phoneInput: string, name: string): void {
    this.accounts.saveContact(this.requirePhone(accountInput, "account"), this.requirePhone(phoneInput, "phone"), name);
  }

  /** Everything `contact` received; reading it marks it read and sends READ acks to online senders. */
  inbox(contactInput: string): InboxMessage[] {
    const contact = this.requirePhone(contactInput, "contact");
    const { messages, newlyRead } = this.ledger.readInbox(contact);
    for (const r of newlyRead) this.ackToSender(r.fromPhone, r.id, "READ");
    return messages;
  }

  stats(): SimStats {
    const l = this.ledger.stats();
    return {
      connections: this.connections.size,
      linkedConnections: this.readyByDevice.size,
      conflicts: l.conflicts,
      sent: l.sent,
      delivered: l.delivered,
      duplicates: l.duplicates,
      queued: l.queued,
      queuedUpdates: l.queuedUpdates,
      devices: l.devices,
    };
  }

  ledgerView(): LedgerView {
    return this.ledger.view();
  }

  qrs(): { qr: string; expiresAt: number }[] {
    return [...this.byQr.values()].flatMap((c) => (c.qr ? [{ ...c.qr }] : []));
  }

  getFaults(): SimFaults {
    return { ...this.faults };
  }

  setFaults(faults: Partial<SimFaults>): SimFaults {
    this.faults = { ...this.faults, ...faults };
    this.log("info", `faults now latency=${this.faults.latencyMs}ms dropRate=${this.faults.dropRate} loseUpdateAcks=${this.faults.loseUpdateAcks}`);
    return this.getFaults();
  }

  /** Forgets everything (devices, messages, counters, faults) and drops every connection. */
  reset(): void {
    for (const conn of [...this.connections]) this.drop(conn);
    for (const t of this.ackTimers) clearTimeout(t);
    this.ackTimers.clear();
    this.faults = { latencyMs: 0, dropRate: 0, loseUpdateAcks: false };
    this.holding.clear();
    this.restrictedAccounts.clear();
    this.accounts.restore(undefined);
    this.groups.restore(undefined);
    this.labels.restore(undefined);
    this.calls.clear();
    this.ledger.clear();
  }

  /** Everything the network keeps, for the state file. */
  snapshot(): LedgerSnapshot {
    return { ...this.ledger.snapshot(), accounts: this.accounts.snapshot(), groups: this.groups.snapshot(), labels: this.labels.snapshot() };
  }

  /** Drops every connection and stops all timers; the network serves nothing afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepaliveTimer);
    for (const t of this.ackTimers) clearTimeout(t);
    this.ackTimers.clear();
    for (const conn of [...this.connections]) this.drop(conn);
    this.wss.close();
  }

  // --- connections ---

  private accept(ws: WebSocket): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const conn = new SimConnection(this.nextConnectionId++, ws, () => this.faults.latencyMs);
    this.connections.add(conn);
    this.keepalive.add(conn);
    ws.on("error", () => {}); // a 'close' always follows
    ws.on("close", () => {
      this.detach(conn);
      conn.dispose();
    });
    ws.on("message", (data, isBinary) => this.onRawFrame(conn, data, isBinary));
  }

  private onRawFrame(conn: SimConnection, data: RawData, isBinary: boolean): void {
    if (!conn.live) return;
    if (this.faults.dropRate > 0 && Math.random() < this.faults.dropRate) {
      this.log("info", `fault: dropping connection ${conn.id}`);
      this.drop(conn);
      return;
    }
    conn.receive(() => this.handleFrame(conn, data, isBinary));
  }

  private handleFrame(conn: SimConnection, data: RawData, isBinary: boolean): void {
    let frame: any;
    try {
      if (isBinary) throw new Error("binary");
      frame = JSON.parse(data.toString());
    } catch {
      return this.protocolError(conn, "BAD_JSON", "Frames must be JSON text");
    }
    if (typeof frame !== "object" || frame === null) return this.protocolError(conn, "BAD_FRAME", "A frame is a JSON object with a `t` field");
    switch (frame.t) {
      case "hello":
        return this.onHello(conn, frame.creds);
      case "pair_code":
        return this.onPairCode(conn, frame.phone, frame.own === true);
      case "code_proof":
        if (conn.pairing?.attempt && conn.pairing.attempt.id === frame.attempt) conn.pairing.attempt.settle(frame.ok === true);
        return;
      case "send":
        return this.onSend(conn, frame);
      case "recv_ack":
        return this.onRecvAck(conn, frame.id);
      case "update_ack":
        if (this.faults.loseUpdateAcks) return;
        if (conn.phase === "ready" && conn.device && typeof frame.uid === "string") this.ledger.ackUpdate(conn.device.phone, frame.uid);
        return;
      case "logout":
        return this.onLogout(conn);
      case "query":
        return this.onQuery(conn, frame);
      default:
        return this.protocolError(conn, "UNKNOWN_FRAME", `Unknown frame type ${JSON.stringify(frame.t)}`);
    }
  }

  private onHello(conn: SimConnection, creds: unknown): void {
    if (conn.phase !== "new") return this.protocolError(conn, "UNEXPECTED_HELLO", "hello is only valid as the first frame");
    if (creds === undefined || creds === null) {
      conn.phase = "linking";
      this.showQr(conn);
      conn.qrTimer = setInterval(() => this.showQr(conn), this.qrRotateMs);
      return;
    }
    const { deviceId, secret } = creds as Record<string, unknown>;
    const device = typeof deviceId === "string" ? this.ledger.deviceById(deviceId) : undefined;
    if (!device || device.secret !== secret) {
      conn.send({ t: "logged_out", reason: "UNPAIRED" });
      this.end(conn, "UNPAIRED");
      return;
    }
    const restriction = this.restrictedAccounts.get(device.phone);
    if (restriction) {
      conn.send({ t: "restricted", reason: restriction });
      this.end(conn, restriction);
      return;
    }
    this.becomeReady(conn, device);
  }

  private onPairCode(conn: SimConnection, phoneInput: unknown, own: boolean): void {
    if (conn.phase !== "linking") return this.protocolError(conn, "NOT_LINKING", "pair_code is only valid while linking (after a hello without creds)");
    const phone = parsePhone(phoneInput);
    if (!phone) return this.protocolError(conn, "BAD_PHONE", "pair_code needs a phone number (digits, 5-20)");
    // Asking for a code switches the connection from QR to phone-number linking, as WhatsApp Web does.
    this.stopLinking(conn);
    if (own) {
      // the client shows a code it made and keeps: the phone's typed code comes back to it (link)
      conn.pairing = { code: undefined, phone };
      return;
    }
    let code = newPairingCode();
    while (this.byCode.has(code)) code = newPairingCode();
    conn.pairing = { code, phone };
    this.byCode.set(code, conn);
    conn.send({ t: "code", code });
  }

  private onSend(conn: SimConnection, frame: Record<string, unknown>): void {
    const id = frame.id;
    if (typeof id !== "string" || !id || id.length > MAX_ID_LENGTH) return this.protocolError(conn, "BAD_FRAME", `send needs an id (a string of 1-${MAX_ID_LENGTH} chars)`);
    const fail = (error: string) => conn.send({ t: "ack", id, ack: "ERROR", timestamp: nowSeconds(), error });
    const device = conn.device;
    if (conn.phase !== "ready" || !device) return fail("NOT_READY: the connection is not authenticated");
    const group = parseId(frame.to);
    if (group?.kind === "group") return this.onGroupSend(conn, device.phone, id, group.serialized, frame, fail);
    const to = parseUserJid(frame.to);
    if (!to) return fail("BAD_RECIPIENT: `to` must be <digits>@c.us or a phone number");
    const content = this.parseContent(device.phone, userJid(to), frame, fail);
    if (!content) return;
    const { body, media, fields } = content;

    const existing = this.ledger.findOutgoing(device.phone, id);
    if (existing) {
      // A resend after a lost ack: acknowledge again so the client can stop, but never deliver twice.
      // The acks it may have missed follow, so its view of the message catches up.
      this.ledger.countDuplicate();
      conn.send({ t: "ack", id, ack: "SERVER", timestamp: existing.timestamp });
      if (existing.deliveries > 0) conn.send({ t: "ack", id, ack: "DEVICE", timestamp: nowSeconds() });
      if (existing.read) conn.send({ t: "ack", id, ack: "READ", timestamp: nowSeconds() });
      return;
    }
    if (this.accounts.isBlocked(device.phone, to)) return fail("BLOCKED: unblock the contact to message it");
    const toAccount = this.ledger.deviceOfPhone(to) !== undefined;
    const record: OutgoingRecord = { id, fromPhone: device.phone, to: userJid(to), body, timestamp: nowSeconds(), deliveries: 0, toAccount, read: false };
    if (media) record.media = media;
    if (Object.keys(fields).length) record.fields = fields;
    this.ledger.acceptOutgoing(record);
    this.accounts.record(device.phone, { ...historyOf({ ...record, toPhone: to, from: userJid(device.phone) }, userJid(to), true), ack: "SERVER" });
    conn.send({ t: "ack", id, ack: "SERVER", timestamp: record.timestamp });
    const held = this.holding.get(device.phone);
    if (held) held.push(() => this.deliverSent(record));
    else this.deliverSent(record);
  }

  /** A sent message reaches its recipient: another account's device (DEVICE when it acks), or a contact. */
  private deliverSent(record: OutgoingRecord): void {
    const from = record.fromPhone;
    if (record.toAccount) {
      // Another linked account: it arrives as that account's incoming message; DEVICE when it acks.
      // An account that blocked the sender never gets it (the sender sees one tick, as on WhatsApp).
      const to = parseUserJid(record.to)!;
      if (this.accounts.isBlocked(to, from)) return;
      const incoming: IncomingRecord = { id: record.id, from: userJid(from), toPhone: to, body: record.body, timestamp: record.timestamp, acked: false };
      if (record.media) incoming.media = record.media;
      if (record.fields) incoming.fields = record.fields;
      this.ledger.addIncoming(incoming);
      this.accounts.record(to, historyOf(incoming, userJid(from), false));
      this.pushIncoming(incoming);
      return;
    }
    this.ledger.deliverToContact(record);
    const timer = setTimeout(() => {
      this.ackTimers.delete(timer);
      this.ackToSender(from, record.id, "DEVICE");
    }, this.deviceAckDelayMs);
    this.ackTimers.add(timer);
  }

  /** A sent frame's content (body, media, message fields), or undefined once `fail` was called. */
  private parseContent(me: string, chatId: string, frame: Record<string, unknown>, fail: (error: string) => void): { body: string; media: ReturnType<typeof parseMedia>; fields: SimMessageFields } | undefined {
    if (typeof frame.body !== "string") return void fail("BAD_BODY: `body` must be a string");
    const media = frame.media === undefined ? undefined : parseMedia(frame.media);
    if (frame.media !== undefined && !media) return void fail("BAD_MEDIA: `media` needs mimetype and base64 data");
    try {
      const fields = parseMessageFields(frame);
      this.checkReply(me, chatId, fields);
      return { body: frame.body, media, fields };
    } catch (err) {
      return void fail(`BAD_FIELDS: ${(err as Error).message}`);
    }
  }

  /** A linked account posts to a group: members only, admins only in an announcement group (WhatsApp refuses it otherwise). */
  private onGroupSend(conn: SimConnection, me: string, id: string, groupId: string, frame: Record<string, unknown>, fail: (error: string) => void): void {
    const content = this.parseContent(me, groupId, frame, fail);
    if (!content) return;
    const { body, media, fields } = content;
    const existing = this.ledger.findOutgoing(me, id);
    if (existing) {
      this.ledger.countDuplicate();
      conn.send({ t: "ack", id, ack: "SERVER", timestamp: existing.timestamp });
      if (existing.deliveries > 0) conn.send({ t: "ack", id, ack: "DEVICE", timestamp: nowSeconds() });
      return;
    }
    let members: string[];
    try {
      members = this.groups.checkPost(me, groupId);
    } catch (err) {
      const e = err as SimError;
      return fail(e.code === "NOT_ADMIN" ? "NOT_ADMIN: only admins may send messages to this group" : `GROUP_NOT_FOUND: ${e.message}`);
    }
    const record: OutgoingRecord = { id, fromPhone: me, to: groupId, body, timestamp: nowSeconds(), deliveries: 0, toAccount: false, read: false };
    if (media) record.media = media;
    if (Object.keys(fields).length) record.fields = fields;
    this.ledger.acceptOutgoing(record);
    this.accounts.record(me, { ...historyOf({ ...record, toPhone: me, from: userJid(me) }, groupId, true), to: groupId, ack: "SERVER" });
    conn.send({ t: "ack", id, ack: "SERVER", timestamp: record.timestamp });
    this.deliverToGroup(record, groupId, members);
    record.deliveries = 1;
    const timer = setTimeout(() => {
      this.ackTimers.delete(timer);
      this.ackToSender(me, id, "DEVICE");
    }, this.deviceAckDelayMs);
    this.ackTimers.add(timer);
  }

  /** A group message reaches every other member: linked accounts as an incoming message (`author` the sender), phones in their inbox. */
  private deliverToGroup(record: OutgoingRecord, groupId: string, members: string[]): void {
    const author = userJid(record.fromPhone);
    for (const member of members) {
      if (member === record.fromPhone) continue;
      if (!this.ledger.deviceOfPhone(member)) {
        this.ledger.deliverToGroupMember(member, record);
        continue;
      }
      const incoming: IncomingRecord = { id: record.id, from: groupId, author, toPhone: member, body: record.body, timestamp: record.timestamp, acked: false };
      if (record.media) incoming.media = record.media;
      if (record.fields) incoming.fields = record.fields;
      this.ledger.addIncoming(incoming);
      this.accounts.record(member, { ...historyOf(incoming, groupId, false), to: groupId, author });
      this.pushIncoming(incoming);
    }
  }

  /** Tells the members (and those a change removed) what changed in a group; best effort, like every update. */
  private groupUpdate(e: SimGroupEvent): void {
    for (const phone of e.audience) {
      this.update(phone, { kind: "group", groupId: e.groupId, change: e.change, by: e.by, ...(e.participants ? { participants: e.participants } : {}), ...(e.value !== undefined ? { value: e.value } : {}) });
    }
  }

  /** Whether `by` may add `phone` to a group: WhatsApp's "Who can add me to groups". */
  private addVerdict(phone: string, by: string): "ok" | "not_on_whatsapp" | "privacy" {
    if (!this.accounts.onWhatsApp(phone)) return "not_on_whatsapp";
    const rule = this.accounts.profile(phone).addToGroups ?? "everyone";
    if (rule === "nobody" || (rule === "contacts" && !this.accounts.knows(phone, by))) return "privacy";
    return "ok";
  }

  private onRecvAck(conn: SimConnection, id: unknown): void {
    if (conn.phase !== "ready" || !conn.device || typeof id !== "string") return;
    const record = this.ledger.ackIncoming(conn.device.phone, id);
    if (!record) return;
    const senderPhone = record.from.replace(/@.*$/, "");
    const sent = this.ledger.findOutgoing(senderPhone, id);
    if (sent?.toAccount && sent.to === userJid(record.toPhone)) {
      this.ledger.countOutgoingDelivery(sent);
      this.ackToSender(senderPhone, id, "DEVICE");
    }
  }

  private onLogout(conn: SimConnection): void {
    if (conn.phase === "ready" && conn.device && this.ledger.deviceById(conn.device.deviceId)) {
      this.ledger.removeDevice(conn.device.phone);
      this.log("info", `${conn.device.phone} logged out from its device`);
      this.endDeviceConnection(conn.device, "LOGOUT");
      return;
    }
    this.end(conn, "LOGOUT");
  }

  /** Authenticates `conn` as `device`: one live connection per device, the older one loses. */
  private becomeReady(conn: SimConnection, device: DeviceRecord): void {
    const older = this.readyByDevice.get(device.deviceId);
    if (older && older !== conn) {
      this.ledger.countConflict();
      this.log("warn", `conflict: device ${device.deviceId} (${device.phone}) connected twice; dropping connection ${older.id}`);
      older.send({ t: "conflict" });
      this.end(older, "CONFLICT");
    }
    conn.phase = "ready";
    conn.device = device;
    this.readyByDevice.set(device.deviceId, conn);
    conn.send({ t: "ready", me: this.meOf(device.phone) });
    // At-least-once: everything not yet acked goes again, oldest first.
    for (const m of this.ledger.pendingIncoming(device.phone)) conn.send({ t: "message", message: toWire(m) });
    // then what happened to messages while it was away (after the messages it may be about)
    for (const u of this.ledger.pendingUpdates(device.phone)) conn.send({ t: "update", update: u.update, uid: u.uid });
  }

  /** Sends an incoming message to its account's live connection; false if the account is offline. */
  private pushIncoming(record: IncomingRecord): boolean {
    const conn = this.liveConnectionOf(record.toPhone);
    if (!conn) return false;
    conn.send({ t: "message", message: toWire(record) });
    return true;
  }

  private ackToSender(phone: string, id: string, ack: AckLevel): void {
    this.accounts.setAck(phone, id, ack);
    this.liveConnectionOf(phone)?.send({ t: "ack", id, ack, timestamp: nowSeconds() });
  }

  /**
   * Tells an account's linked device what happened (the history already holds it). Kept until the
   * device acknowledges it, so an offline device hears of it on reconnect; a contact's typing and a
   * ringing call are live only (stale by then, as on WhatsApp).
   */
  private update(phone: string, update: SimUpdate): void {
    if (update.kind === "presence" || update.kind === "call") {
      this.liveConnectionOf(phone)?.send({ t: "update", update });
      return;
    }
    if (!this.ledger.deviceOfPhone(phone)) return; // no linked device: nothing to tell
    const uid = `SIMU${ulid()}`;
    this.ledger.addUpdate({ uid, toPhone: phone, update });
    this.liveConnectionOf(phone)?.send({ t: "update", update, uid });
  }

  /** A reply quotes a message of the same chat. */
  private checkReply(account: string, chatId: string, fields: SimMessageFields): void {
    if (fields.replyTo === undefined) return;
    const quoted = this.accounts.message(account, fields.replyTo);
    if (!quoted || quoted.chatId !== chatId) throw new SimError("VALIDATION_ERROR", `replyTo: no message ${fields.replyTo} in this chat`, "replyTo");
  }

  // --- queries: what a linked device asks about its account, and its actions on messages ---

  private onQuery(conn: SimConnection, frame: Record<string, unknown>): void {
    const qid = frame.qid;
    if (typeof qid !== "string" || !qid || qid.length > MAX_ID_LENGTH) return this.protocolError(conn, "BAD_FRAME", "query needs a qid");
    if (conn.phase !== "ready" || !conn.device) return conn.send({ t: "result", qid, error: "NOT_READY", message: "the connection is not authenticated" });
    try {
      conn.send({ t: "result", qid, data: this.query(conn.device.phone, frame) });
    } catch (err) {
      const e = err as SimError;
      conn.send({ t: "result", qid, error: e instanceof SimError ? e.code : "BAD_QUERY", message: e.message });
    }
  }

  private query(me: string, q: Record<string, unknown>): unknown {
    const str = (v: unknown, field: string) => {
      if (typeof v !== "string" || !v || v.length > 4096) throw new SimError("VALIDATION_ERROR", `${field} must be a string`, field);
      return v;
    };
    const limit = () => {
      const v = q.limit;
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > PAGE_MAX) throw new SimError("VALIDATION_ERROR", `limit must be 1-${PAGE_MAX}`, "limit");
      return v as number;
    };
    const seq = (v: unknown, field: string) => {
      if (v === undefined) return undefined;
      if (!Number.isInteger(v) || (v as number) < 0) throw new SimError("VALIDATION_ERROR", `${field} must be a position`, field);
      return v as number;
    };
    /** A chat the account may have: a user by phone or LID (LIDs resolve to their phone). */
    const chatOf = (v: unknown) => {
      const id = parseId(v);
      if (id?.kind === "user") return id.serialized;
      if (id?.kind === "lid") {
        const phone = this.accounts.phoneOfLid(id.user);
        if (phone) return userJid(phone);
      }
      if (id?.kind === "group" || id?.kind === "newsletter") return id.serialized;
      throw new SimError("NOT_FOUND", `no chat ${JSON.stringify(v)}`);
    };
    const personOf = (v: unknown) => {
      const id = parseId(v);
      const phone = id?.kind === "user" ? id.user : id?.kind === "lid" ? this.accounts.phoneOfLid(id.user) : undefined;
      return phone && this.accounts.onWhatsApp(phone) ? phone : undefined;
    };
    /** The other account in a chat, when the chat is with a linked account (it sees the same messages). */
    const peerOf = (chatId: string) => {
      const phone = parseUserJid(chatId);
      return phone && this.ledger.deviceOfPhone(phone) ? phone : undefined;
    };
    switch (q.op) {
      case "chats":
        return this.accounts.chats(me, limit(), seq(q.before, "before"));
      case "chat":
        return this.accounts.chat(me, chatOf(q.chatId)) ?? null;
      case "messages": {
        const since = seq(q.since, "since");
        if (q.fromMe !== undefined && typeof q.fromMe !== "boolean") throw new SimError("VALIDATION_ERROR", "fromMe must be a boolean", "fromMe");
        return this.accounts.messages(me, chatOf(q.chatId), { limit: limit(), before: seq(q.before, "before"), since, fromMe: q.fromMe as boolean | undefined }) ?? null;
      }
      case "message":
        return this.accounts.message(me, str(q.id, "id")) ?? null;
      case "media": {
        // only media of a message in the asking account's own history (the history keeps no bytes: the record does)
        const id = str(q.id, "id");
        const h = this.accounts.message(me, id);
        if (!h?.media || h.revoked) return null;
        const media = (h.fromMe ? this.ledger.findOutgoing(me, id) : this.ledger.findIncoming(me, id))?.media;
        return media ? { mimetype: media.mimetype, data: media.data, ...(media.filename ? { filename: media.filename } : {}) } : null;
      }
      case "react": {
        const id = str(q.id, "id");
        if (typeof q.emoji !== "string" || q.emoji.length > 32) throw new SimError("VALIDATION_ERROR", "emoji must be a string", "emoji");
        const m = this.accounts.react(me, id, me, q.emoji);
        if (!m) return false;
        const peer = peerOf(m.chatId);
        if (peer && this.accounts.react(peer, id, me, q.emoji)) this.update(peer, { kind: "reaction", id, chatId: userJid(me), from: userJid(me), emoji: q.emoji });
        return true;
      }
      case "edit": {
        const id = str(q.id, "id");
        const body = str(q.body, "body");
        const m = this.accounts.edit(me, id, body, true);
        if (!m) return false;
        this.touchOutgoing(me, id, (r) => {
          r.body = body;
          r.edited = true;
        });
        const peer = peerOf(m.chatId);
        if (peer && this.accounts.edit(peer, id, body, false)) this.update(peer, { kind: "edit", id, chatId: userJid(me), body });
        return true;
      }
      case "revoke": {
        const id = str(q.id, "id");
        if (q.forEveryone !== true) return this.accounts.deleteForMe(me, id);
        const m = this.accounts.revoke(me, id, true);
        if (!m) return false;
        this.touchOutgoing(me, id, (r) => {
          r.revoked = true;
          r.body = "";
        });
        const peer = peerOf(m.chatId);
        if (peer && this.accounts.revoke(peer, id, false)) this.update(peer, { kind: "revoke", id, chatId: userJid(me) });
        return true;
      }
      case "read": {
        const newly = this.accounts.markRead(me, chatOf(q.chatId));
        if (!newly) return false;
        for (const m of newly) {
          const sender = parseUserJid(m.from);
          if (sender && this.ledger.deviceOfPhone(sender)) this.ackToSender(sender, m.id, "READ");
        }
        return true;
      }
      case "presence": {
        const state = q.state;
        if (state !== "typing" && state !== "recording" && state !== "paused") throw new SimError("VALIDATION_ERROR", "state must be typing, recording or paused", "state");
        const chatId = chatOf(q.chatId);
        this.accounts.setPresence(me, chatId, state);
        const peer = peerOf(chatId);
        if (peer) this.update(peer, { kind: "presence", chatId: userJid(me), from: userJid(me), state });
        return true;
      }
      case "contacts": {
        const after = q.after === undefined ? undefined : str(q.after, "after");
        return this.accounts.contacts(me, limit(), after);
      }
      case "contact": {
        const phone = personOf(q.id);
        return phone ? this.accounts.contact(me, phone) : null;
      }
      case "check": {
        if (!Array.isArray(q.phones) || q.phones.length > PAGE_MAX) throw new SimError("VALIDATION_ERROR", `phones must be a list of at most ${PAGE_MAX}`, "phones");
        return q.phones.map((p) => {
          const phone = parsePhone(p);
          if (!phone || !this.accounts.onWhatsApp(phone)) return { phone: String(p), exists: false, id: null, lid: null };
          const c = this.accounts.contact(me, phone);
          return { phone, exists: true, id: c.id, lid: `${c.lid}@lid` };
        });
      }
      case "block": {
        const phone = personOf(q.id);
        if (!phone) return false;
        if (typeof q.blocked !== "boolean") throw new SimError("VALIDATION_ERROR", "blocked must be a boolean", "blocked");
        this.accounts.setBlocked(me, phone, q.blocked);
        return true;
      }
      default:
        return this.surfaceQuery(me, q, { str, limit, chatOf });
    }
  }

  /** Groups, calls and labels: what a linked device asks and does. */
  private surfaceQuery(me: string, q: Record<string, unknown>, v: { str: (v: unknown, field: string) => string; limit: () => number; chatOf: (v: unknown) => string }): unknown {
    const groupOf = (value: unknown) => {
      const id = parseId(value);
      if (id?.kind !== "group") throw new SimError("VALIDATION_ERROR", "groupId must be a group id (<digits>@g.us)", "groupId");
      return id.serialized;
    };
    const phonesOf = (value: unknown) => {
      if (!Array.isArray(value) || value.length > GROUP_SIZE_MAX) throw new SimError("VALIDATION_ERROR", `participants must be a list of at most ${GROUP_SIZE_MAX} person ids`, "participants");
      return value.map((p) => {
        const id = parseId(p);
        const phone = id?.kind === "user" ? id.user : id?.kind === "lid" ? this.accounts.phoneOfLid(id.user) : undefined;
        if (!phone) throw new SimError("VALIDATION_ERROR", `not a person id: ${JSON.stringify(p)}`, "participants");
        return phone;
      });
    };
    const optionalText = (value: unknown, field: string) => {
      if (value === undefined) return undefined;
      if (typeof value !== "string") throw new SimError("VALIDATION_ERROR", `${field} must be a string`, field);
      return value;
    };
    switch (q.op) {
      case "group_create": {
        const r = this.groups.create(me, v.str(q.subject, "subject"), phonesOf(q.participants));
        this.groupUpdate(r.event);
        return { group: r.group, participants: r.results };
      }
      case "groups":
        return this.groups.list(me, v.limit(), q.before === undefined ? undefined : v.str(q.before, "before"));
      case "group":
        return this.groups.get(me, groupOf(q.groupId)) ?? null;
      case "group_update": {
        const settings = q.settings as Record<string, unknown> | undefined;
        if (settings !== undefined && (typeof settings !== "object" || settings === null || Object.values(settings).some((x) => typeof x !== "boolean"))) throw new SimError("VALIDATION_ERROR", "settings must be {announce?, restrict?} booleans", "settings");
        const change: { subject?: string; description?: string; settings?: Partial<SimGroupSettings> } = {};
        const subject = optionalText(q.subject, "subject");
        const description = optionalText(q.description, "description");
        if (subject !== undefined) change.subject = subject;
        if (description !== undefined) change.description = description;
        if (settings) change.settings = { ...(settings.announce !== undefined ? { announce: settings.announce as boolean } : {}), ...(settings.restrict !== undefined ? { restrict: settings.restrict as boolean } : {}) };
        const r = this.groups.update(me, groupOf(q.groupId), change);
        for (const e of r.events) this.groupUpdate(e);
        return r.group;
      }
      case "group_leave":
        for (const e of this.groups.leave(me, groupOf(q.groupId))) this.groupUpdate(e);
        return true;
      case "group_participants": {
        const action = q.action;
        if (action !== "add" && action !== "remove" && action !== "promote" && action !== "demote") throw new SimError("VALIDATION_ERROR", "action must be add, remove, promote or demote", "action");
        const r = this.groups.participants(me, groupOf(q.groupId), action, phonesOf(q.participants));
        for (const e of r.events) this.groupUpdate(e);
        return r.results;
      }
      case "group_invite":
        return this.groups.inviteCode(me, groupOf(q.groupId));
      case "group_revoke_invite": {
        const r = this.groups.revokeInvite(me, groupOf(q.groupId));
        this.groupUpdate(r.event);
        return r.code;
      }
      case "group_join": {
        const r = this.groups.joinByCode(me, v.str(q.code, "code"));
        if (r.event) this.groupUpdate(r.event);
        return r.group;
      }
      case "group_picture_set": {
        const p = q.picture as Record<string, unknown> | null;
        let picture: { mimetype: string; data: string } | null = null;
        if (p !== null) {
          if (typeof p !== "object" || (p.mimetype !== "image/jpeg" && p.mimetype !== "image/png") || typeof p.data !== "string" || !p.data || p.data.length > GROUP_PICTURE_MAX_BASE64) {
            throw new SimError("VALIDATION_ERROR", "picture must be {mimetype: image/jpeg | image/png, data: base64 of at most 1 MiB}, or null", "picture");
          }
          picture = { mimetype: p.mimetype, data: p.data };
        }
        this.groupUpdate(this.groups.setPicture(me, groupOf(q.groupId), picture));
        return true;
      }
      case "group_picture":
        return this.groups.picture(me, groupOf(q.groupId));
      case "call_reject":
        return this.calls.reject(me, v.str(q.callId, "callId"));
      case "labels":
        this.requireBusiness(me);
        return this.labels.list(me);
      case "label_state":
        this.requireBusiness(me);
        return { labels: this.labels.list(me), chats: this.labels.chatsOf(me) };
      case "chat_labels": {
        this.requireBusiness(me);
        const chatId = v.chatOf(q.chatId);
        return this.accounts.chat(me, chatId) || this.groups.get(me, chatId) ? this.labels.ofChat(me, chatId) : null;
      }
      case "chat_label": {
        this.requireBusiness(me);
        const chatId = v.chatOf(q.chatId);
        if (typeof q.on !== "boolean") throw new SimError("VALIDATION_ERROR", "on must be a boolean", "on");
        if (!this.accounts.chat(me, chatId) && !this.groups.get(me, chatId)) return "no_chat";
        if (!this.labels.get(me, v.str(q.labelId, "labelId"))) return "no_label";
        this.labels.set(me, chatId, q.labelId as string, q.on);
        return "ok";
      }
      default:
        throw new SimError("VALIDATION_ERROR", `unknown query ${JSON.stringify(q.op)}`, "op");
    }
  }

  /** Applies a change to the record of a message the account sent to a contact (the contact's inbox shows it). */
  private touchOutgoing(me: string, id: string, change: (r: OutgoingRecord) => void): void {
    const r = this.ledger.findOutgoing(me, id);
    if (!r) return;
    change(r);
    this.ledger.touched();
  }

  private liveConnectionOf(phone: string): SimConnection | undefined {
    const device = this.ledger.deviceOfPhone(phone);
    return device && this.readyByDevice.get(device.deviceId);
  }

  /** Tells a device's live connection it is no longer linked, and closes it. */
  private endDeviceConnection(device: DeviceRecord, reason: "LOGOUT" | "UNPAIRED"): void {
    const conn = this.readyByDevice.get(device.deviceId);
    if (!conn) return;
    conn.send({ t: "logged_out", reason });
    this.end(conn, reason);
  }

  private showQr(conn: SimConnection): void {
    if (conn.qr) this.byQr.delete(conn.qr.qr);
    conn.qr = { qr: newQrString(), expiresAt: Date.now() + this.qrRotateMs };
    this.byQr.set(conn.qr.qr, conn);
    conn.send({ t: "qr", qr: conn.qr.qr, expiresAt: conn.qr.expiresAt });
  }

  private connectionShowingRef(ref: string): SimConnection | undefined {
    for (const conn of this.byQr.values()) if (conn.qr && conn.qr.qr.split(",")[0] === ref) return conn;
    return undefined;
  }

  private stopLinking(conn: SimConnection): void {
    if (conn.qrTimer) clearInterval(conn.qrTimer);
    conn.qrTimer = undefined;
    if (conn.qr) this.byQr.delete(conn.qr.qr);
    conn.qr = undefined;
    if (conn.pairing?.code) this.byCode.delete(conn.pairing.code);
    conn.pairing?.attempt?.settle(false);
    conn.pairing = undefined;
  }

  private checkKeepalives(): void {
    const now = Date.now();
    const { ping, drop } = this.keepalive.tick(now);
    for (const conn of drop) {
      this.log("info", `keepalive: connection ${conn.id}${conn.device ? ` (${conn.device.phone})` : ""} left a ping unanswered for ${this.keepaliveMs} ms; dropping it`);
      this.drop(conn);
    }
    for (const conn of ping) conn.ping(now);
  }

  private protocolError(conn: SimConnection, code: string, message: string): void {
    conn.send({ t: "error", code, message });
    this.end(conn, code);
  }

  /** Closes politely: frames already sent still go out first. */
  private end(conn: SimConnection, reason: string): void {
    this.detach(conn);
    conn.close(1000, reason);
  }

  /** Cuts the socket at once, as a dead network would. */
  private drop(conn: SimConnection): void {
    this.detach(conn);
    conn.terminate();
  }

  /** The connection stops counting as live and stops being addressable, right now. */
  private detach(conn: SimConnection): void {
    this.stopLinking(conn);
    this.connections.delete(conn);
    this.keepalive.remove(conn);
    if (conn.device && this.readyByDevice.get(conn.device.deviceId) === conn) this.readyByDevice.delete(conn.device.deviceId);
  }

  private meOf(phone: string): SimMe {
    return { phone, wid: userJid(phone), pushname: `Sim ${phone}`, platform: this.accounts.profile(phone).isBusiness ? "smba" : "sim" };
  }

  private requirePhone(value: string, field: string): string {
    const phone = parsePhone(value);
    if (!phone) throw new SimError("VALIDATION_ERROR", `${field} must be a phone number: 5-20 digits, optionally with a leading +`, field);
    return phone;
  }
}

function toWire(record: IncomingRecord): SimIncomingMessage {
  const message: SimIncomingMessage = { ...record.fields, id: record.id, from: record.from, to: userJid(record.toPhone), body: record.body, timestamp: record.timestamp };
  if (record.author) message.author = record.author;
  if (record.media) message.media = record.media;
  return message;
}

/** A message as it joins an account's history (media without its bytes). */
function historyOf(r: { id: string; from: string; toPhone: string; body: string; timestamp: number; media?: SimMedia; fields?: SimMessageFields }, chatId: string, fromMe: boolean): Omit<SimHistoryMessage, "seq"> {
  const fields = r.fields ?? {};
  const m: Omit<SimHistoryMessage, "seq"> = { ...fields, id: r.id, chatId, from: r.from, to: userJid(r.toPhone), fromMe, body: r.body, timestamp: r.timestamp, type: messageTypeOf(r.media, fields) };
  if (r.media) m.media = { mimetype: r.media.mimetype, size: Math.floor((r.media.data.length * 3) / 4), ...(r.media.filename ? { filename: r.media.filename } : {}) };
  return m;
}

/** Starts a network with its HTTP server (admin API under `/sim/*`, WebSocket at `/ws`). */
export async function startSimNetwork(opts: StartSimNetworkOptions = {}): Promise<RunningSimNetwork> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.log ?? (() => {});
  const state = opts.stateFile ? await StateFile.read<LedgerSnapshot>(opts.stateFile) : undefined;
  if (state && state.version !== 1) throw new Error(`Unsupported simulator state file version in ${opts.stateFile}`);
  const net = new SimNetwork({ ...opts, log, state, onStateChange: () => stateFile?.markDirty() });
  const stateFile = opts.stateFile ? new StateFile(opts.stateFile, () => net.snapshot(), 50, (err) => log("error", `cannot write state file: ${err.message}`)) : undefined;
  let wsUrl = "";
  const gateway = new BaileysGateway({ network: net, networkWsUrl: () => wsUrl, log });
  net.baileysGateway = gateway;
  const admin = createAdminHandler(net);
  const server = createServer((req, res) => {
    // the fake WhatsApp server's certificate root: engines in simulation trust it (and nothing else does)
    if (req.method === "GET" && (req.url ?? "").split("?")[0] === "/sim/baileys") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: `${wsUrl.replace(/\/ws$/, "")}/baileys`, root: gateway.rootPublicKey.toString("base64"), mediaCa: gateway.media.caPem }));
      return;
    }
    if (gateway.servePicture(req, res)) return;
    admin(req, res);
  });
  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] === "/baileys") gateway.handleUpgrade(req, socket, head);
    else net.handleUpgrade(req, socket, head);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    net.close();
    throw err;
  }
  server.on("error", (err) => log("error", `simulated network server: ${err.message}`));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  wsUrl = `${url.replace(/^http/, "ws")}/ws`;
  log("info", `simulated WhatsApp network listening on ${url}`);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      gateway.close();
      net.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stateFile?.flush();
    })());
  return { url, port, network: net, close };
}

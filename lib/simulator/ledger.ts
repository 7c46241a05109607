// What the simulated network remembers: linked devices, every message in both directions and the
// counters. Pure data and bookkeeping, no sockets and no IO, so it can be snapshotted to a state
// file and checked by tests as the oracle of what WhatsApp "really" delivered.
import type { AccountsSnapshot } from "./accounts";
import type { GroupsSnapshot } from "./groups";
import type { LabelsSnapshot } from "./labels";
import type { SimCredentials, SimMedia, SimMessageFields, SimUpdate } from "./protocol";
import { userJid } from "../whatsapp";

export interface DeviceRecord extends SimCredentials {
  linkedAt: number;
  /** A device linked by a Baileys client through the fake WhatsApp server: its keys, as WhatsApp keeps them */
  baileys?: BaileysDeviceKeys;
}

export interface BaileysDeviceKeys {
  /** base64 of the client's Noise static public key: its login credential */
  noiseKey: string;
  /** The companion's device number (`<phone>:<device>@s.whatsapp.net`) */
  device: number;
  /** base64 of its Signal identity public key, registration id and signed prekey */
  identity: string;
  registrationId: number;
  signedPreKey: { id: number; public: string; signature: string };
}

/** A message an account sent: to a simulated contact, or to another linked account. */
export interface OutgoingRecord {
  id: string;
  fromPhone: string;
  /** `<phone>@c.us` */
  to: string;
  body: string;
  media?: SimMedia;
  /** Unix seconds, when the server accepted it. */
  timestamp: number;
  /** Epoch ms, when the server accepted it (a contact receives it then): the pace as the contacts see it. */
  acceptedAt?: number;
  /** Times it reached its recipient. Anything but 1 (once delivered) is a bug. */
  deliveries: number;
  /** True when the recipient is a linked account (delivered as an incoming message), false for a contact's inbox. */
  toAccount: boolean;
  read: boolean;
  /** Reply, mentions, location, vCard, poll, voice */
  fields?: SimMessageFields;
  /** The sender edited it (body is the latest text) */
  edited?: boolean;
  /** The sender revoked it for everyone */
  revoked?: boolean;
}

/** A message for a linked account, from a contact or from another account. */
export interface IncomingRecord {
  id: string;
  /** `<phone>@c.us` of the sender, or the group's id for a group message */
  from: string;
  /** A group message's sender */
  author?: string;
  toPhone: string;
  body: string;
  media?: SimMedia;
  timestamp: number;
  acked: boolean;
  fields?: SimMessageFields;
}

/** Something that happened to an account's messages elsewhere, kept until its device acknowledges it. */
export interface PendingUpdate {
  /** The network's id of this update (the client acknowledges it by this id) */
  uid: string;
  toPhone: string;
  update: SimUpdate;
}

export interface SimCounters {
  conflicts: number;
  sent: number;
  delivered: number;
  duplicates: number;
}

export interface LedgerSnapshot {
  version: 1;
  devices: DeviceRecord[];
  outgoing: OutgoingRecord[];
  incoming: IncomingRecord[];
  counters: SimCounters;
  /** Updates (reactions, edits, revokes, votes, messages sent from the phone) not yet acknowledged (absent in older state files) */
  updates?: PendingUpdate[];
  /** Accounts' chats, history, contacts and profiles (absent in older state files) */
  accounts?: AccountsSnapshot;
  /** Groups (absent in older state files) */
  groups?: GroupsSnapshot;
  /** WhatsApp Business labels (absent in older state files) */
  labels?: LabelsSnapshot;
}

export interface InboxMessage extends SimMessageFields {
  id: string;
  from: string;
  to: string;
  body: string;
  timestamp: number;
  media?: SimMedia;
  edited?: boolean;
  revoked?: boolean;
}

export interface LedgerView {
  outgoing: { id: string; fromPhone: string; to: string; body: string; deliveries: number; acceptedAt?: number }[];
  incoming: { id: string; from: string; toPhone: string; body: string; acked: boolean }[];
}

// Message ids are chosen by clients, so they are only unique per sender (outgoing) or per recipient (incoming).
const key = (phone: string, id: string) => `${phone}\u0000${id}`;

export class SimLedger {
  private readonly devicesByPhone = new Map<string, DeviceRecord>();
  private readonly devicesById = new Map<string, DeviceRecord>();
  private readonly outgoing = new Map<string, OutgoingRecord>();
  private readonly incoming = new Map<string, IncomingRecord>();
  /** Unacked incoming messages per account phone, in arrival order (Map keeps insertion order). */
  private readonly queues = new Map<string, Map<string, IncomingRecord>>();
  /** Messages each contact received, in arrival order. */
  private readonly inboxes = new Map<string, OutgoingRecord[]>();
  /** Unacknowledged updates per account phone, in the order they happened. */
  private readonly updates = new Map<string, Map<string, PendingUpdate>>();
  private counters: SimCounters = { conflicts: 0, sent: 0, delivered: 0, duplicates: 0 };

  /** Called after every change, so the owner can persist. */
  constructor(private readonly onChange: () => void = () => {}) {}

  // --- devices ---

  deviceOfPhone(phone: string): DeviceRecord | undefined {
    return this.devicesByPhone.get(phone);
  }

  deviceById(deviceId: string): DeviceRecord | undefined {
    return this.devicesById.get(deviceId);
  }

  /** Links `device`, replacing (and returning) the phone's previous device: one device per phone. */
  putDevice(device: DeviceRecord): DeviceRecord | undefined {
    const previous = this.removeDevice(device.phone);
    this.devicesByPhone.set(device.phone, device);
    this.devicesById.set(device.deviceId, device);
    this.onChange();
    return previous;
  }

  removeDevice(phone: string): DeviceRecord | undefined {
    const device = this.devicesByPhone.get(phone);
    if (!device) return undefined;
    this.devicesByPhone.delete(phone);
    this.devicesById.delete(device.deviceId);
    this.onChange();
    return device;
  }

  // --- outgoing (account -> contact or account) ---

  findOutgoing(fromPhone: string, id: string): OutgoingRecord | undefined {
    return this.outgoing.get(key(fromPhone, id));
  }

  acceptOutgoing(record: OutgoingRecord): void {
    record.acceptedAt ??= Date.now();
    this.outgoing.set(key(record.fromPhone, record.id), record);
    this.counters.sent++;
    this.onChange();
  }

  countDuplicate(): void {
    this.counters.duplicates++;
    this.onChange();
  }

  countConflict(): void {
    this.counters.conflicts++;
    this.onChange();
  }

  /** Puts an accepted message in its contact's inbox: the contact's phone has received it. */
  deliverToContact(record: OutgoingRecord): void {
    const contact = record.to.replace(/@.*$/, "");
    let inbox = this.inboxes.get(contact);
    if (!inbox) this.inboxes.set(contact, (inbox = []));
    inbox.push(record);
    record.deliveries++;
    this.counters.delivered++;
    this.onChange();
  }

  /** A group message reaches a member's phone (a simulated contact): its inbox shows it, `to` the group. */
  deliverToGroupMember(contact: string, record: OutgoingRecord): void {
    let inbox = this.inboxes.get(contact);
    if (!inbox) this.inboxes.set(contact, (inbox = []));
    inbox.push(record);
    this.counters.delivered++;
    this.onChange();
  }

  /** Everything `contact` ever received; the unread ones are marked read and returned in `newlyRead`. */
  readInbox(contact: string): { messages: InboxMessage[]; newlyRead: OutgoingRecord[] } {
    const inbox = this.inboxes.get(contact) ?? [];
    const newlyRead = inbox.filter((r) => !r.read);
    for (const r of newlyRead) r.read = true;
    if (newlyRead.length) this.onChange();
    const messages = inbox.map((r) => {
      const m: InboxMessage = { ...r.fields, id: r.id, from: userJid(r.fromPhone), to: r.to, body: r.body, timestamp: r.timestamp };
      if (r.media && !r.revoked) m.media = r.media;
      if (r.edited) m.edited = true;
      if (r.revoked) m.revoked = true;
      return m;
    });
    return { messages, newlyRead };
  }

  // --- incoming (contact or account -> account) ---

  addIncoming(record: IncomingRecord): void {
    this.incoming.set(key(record.toPhone, record.id), record);
    this.enqueue(record);
    this.onChange();
  }

  findIncoming(toPhone: string, id: string): IncomingRecord | undefined {
    return this.incoming.get(key(toPhone, id));
  }

  /** The account stored the message: it is delivered and leaves the queue. False if unknown or already acked. */
  ackIncoming(toPhone: string, id: string): IncomingRecord | undefined {
    const record = this.incoming.get(key(toPhone, id));
    if (!record || record.acked) return undefined;
    record.acked = true;
    this.queues.get(toPhone)?.delete(id);
    this.counters.delivered++;
    this.onChange();
    return record;
  }

  /** Messages waiting for `phone`'s ack, oldest first. */
  pendingIncoming(phone: string): IncomingRecord[] {
    return [...(this.queues.get(phone)?.values() ?? [])];
  }

  // --- updates (what happened to an account's messages elsewhere) ---

  /** Keeps an update for `toPhone` until its device acknowledges it (delivered now if online, else on reconnect). */
  addUpdate(pending: PendingUpdate): void {
    let queue = this.updates.get(pending.toPhone);
    if (!queue) this.updates.set(pending.toPhone, (queue = new Map()));
    queue.set(pending.uid, pending);
    this.onChange();
  }

  /** The device has applied the update: it leaves the queue. False if unknown (already acknowledged). */
  ackUpdate(toPhone: string, uid: string): boolean {
    const queue = this.updates.get(toPhone);
    if (!queue?.delete(uid)) return false;
    if (!queue.size) this.updates.delete(toPhone);
    this.onChange();
    return true;
  }

  /** Updates waiting for `phone`'s acknowledgement, oldest first. */
  pendingUpdates(phone: string): PendingUpdate[] {
    return [...(this.updates.get(phone)?.values() ?? [])];
  }

  /** Something about an accepted message changed (an edit, a revoke, a reaction): persist it. */
  touched(): void {
    this.onChange();
  }

  countOutgoingDelivery(record: OutgoingRecord): void {
    record.deliveries++;
    this.onChange();
  }

  // --- views ---

  stats(): SimCounters & { queued: number; queuedUpdates: number; devices: number } {
    let queued = 0;
    for (const q of this.queues.values()) queued += q.size;
    let queuedUpdates = 0;
    for (const q of this.updates.values()) queuedUpdates += q.size;
    return { ...this.counters, queued, queuedUpdates, devices: this.devicesByPhone.size };
  }

  view(): LedgerView {
    return {
      outgoing: [...this.outgoing.values()].map((r) => ({ id: r.id, fromPhone: r.fromPhone, to: r.to, body: r.body, deliveries: r.deliveries, ...(r.acceptedAt !== undefined ? { acceptedAt: r.acceptedAt } : {}) })),
      incoming: [...this.incoming.values()].map((r) => ({ id: r.id, from: r.from, toPhone: r.toPhone, body: r.body, acked: r.acked })),
    };
  }

  // --- persistence ---

  snapshot(): LedgerSnapshot {
    return {
      version: 1,
      devices: [...this.devicesByPhone.values()],
      outgoing: [...this.outgoing.values()],
      incoming: [...this.incoming.values()],
      counters: { ...this.counters },
      updates: [...this.updates.values()].flatMap((q) => [...q.values()]),
    };
  }

  /** Replaces everything with `snapshot` (or with nothing). Does not call onChange. */
  restore(snapshot?: LedgerSnapshot): void {
    this.devicesByPhone.clear();
    this.devicesById.clear();
    this.outgoing.clear();
    this.incoming.clear();
    this.queues.clear();
    this.inboxes.clear();
    this.updates.clear();
    this.counters = { conflicts: 0, sent: 0, delivered: 0, duplicates: 0 };
    if (!snapshot) return;
    for (const d of snapshot.devices) {
      this.devicesByPhone.set(d.phone, d);
      this.devicesById.set(d.deviceId, d);
    }
    for (const r of snapshot.outgoing) {
      this.outgoing.set(key(r.fromPhone, r.id), r);
      if (!r.toAccount && r.deliveries > 0) {
        const contact = r.to.replace(/@.*$/, "");
        let inbox = this.inboxes.get(contact);
        if (!inbox) this.inboxes.set(contact, (inbox = []));
        inbox.push(r);
      }
    }
    for (const r of snapshot.incoming) {
      this.incoming.set(key(r.toPhone, r.id), r);
      if (!r.acked) this.enqueue(r);
    }
    for (const u of snapshot.updates ?? []) {
      let queue = this.updates.get(u.toPhone);
      if (!queue) this.updates.set(u.toPhone, (queue = new Map()));
      queue.set(u.uid, u);
    }
    this.counters = { ...this.counters, ...snapshot.counters };
  }

  clear(): void {
    this.restore(undefined);
    this.onChange();
  }

  private enqueue(record: IncomingRecord): void {
    let queue = this.queues.get(record.toPhone);
    if (!queue) this.queues.set(record.toPhone, (queue = new Map()));
    queue.set(record.id, record);
  }
}

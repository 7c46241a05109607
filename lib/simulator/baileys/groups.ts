// Groups and calls on the fake WhatsApp server, translated both ways between WhatsApp's stanzas and
// the simulated network's own operations (so the network stays the one oracle):
//  - `w:g2` iqs (create, metadata, participating, subject, description, settings, participants,
//    invite codes, join by code, leave) and `w:profile:picture` iqs for a group -> the network's
//    group queries; the network's refusals -> WhatsApp's error codes (403 not admin, 404 not found);
//  - the network's group updates -> `w:gp2` notifications (and `picture` ones), acknowledged to the
//    network once the client acks the notification;
//  - the network's ringing calls -> `<call><offer>`; the client's `<call><reject>` -> the network's reject.
import { pad, unpad } from "./signal-peers";
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SimNetwork } from "../network";
import type { SimUpdate } from "../protocol";
import type { WaNode } from "./wa-binary";
import { bytesOf, child, children } from "./wa-binary";
import { SenderKeyReceiver, SenderKeySender } from "./sender-keys";

const { proto } = require("baileys/WAProto/index.js") as { proto: any };

const S_WA = "s.whatsapp.net";
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** What the translator needs of its connection. */
export interface GroupsLinkPort {
  send(node: WaNode): void;
  /** A query to the network on the account's behalf; `done` gets its error code or its data. */
  netQuery(q: Record<string, unknown>, done: (error?: string, data?: unknown) => void): void;
  netSend(frame: unknown): void;
  /** The phone of a WhatsApp jid (`<phone>@s.whatsapp.net`, a known `<lid>@lid`), if any */
  phoneOf(jid: string): string | undefined;
  /** Where a group picture's bytes are served (`http://host:port/...`), by group id */
  pictureUrl(groupId: string, version: string): string;
  /** The client's Signal address (`<phone>.<device>`), once it is logged in */
  clientAddress(): string | undefined;
  /** Decrypts what the client sent to `phone`'s phone (1:1 Signal, unpadded) */
  decryptFromClient(phone: string, type: string, body: Buffer): Promise<Buffer>;
  /** Encrypts (1:1 Signal, padded) what `phone`'s phone sends the client */
  encryptToClient(phone: string, plain: Buffer): Promise<{ type: string; body: Buffer }>;
  log(msg: string): void;
  /** The network's sender keys (shared by its connections) */
  senderKeys(): SenderKeyBook;
}

/**
 * The sender keys of a network (shared by its connections, like the Signal peers): what each linked
 * device distributed for each group (`<group>|<device address>`), and each phone's own sender key
 * per group (`<group>|<phone>`), which the fake encrypts members' posts with.
 */
export class SenderKeyBook {
  readonly received = new Map<string, SenderKeyReceiver>();
  readonly own = new Map<string, SenderKeySender>();
}

/** A group as the network shows a member (lib/simulator/groups.ts SimGroup). */
interface NetGroup {
  id: string;
  subject: string;
  description: string;
  owner: string;
  createdAt: number;
  participants: Array<{ id: string; admin: boolean; superAdmin: boolean }>;
  settings: { announce: boolean; restrict: boolean };
}

/** `<phone>@c.us` -> `<phone>@s.whatsapp.net` */
const waJid = (id: string) => id.replace(/@c\.us$/, `@${S_WA}`);
/** `<digits>@g.us` -> `<digits>` (a group node's id attribute) */
const bareGroup = (id: string) => id.replace(/@g\.us$/, "");

/** How many groups one `participating` answer reads per network page. */
const PAGE = 100;

export class GroupsTranslator {
  /** Notification stanza id -> the network update's uid, acked when the client acks the stanza. */
  private readonly relayed = new Map<string, string>();
  /** Each group's description id (WhatsApp versions descriptions; Baileys sends the previous one). */
  private readonly descIds = new Map<string, string>();
  /** The settings of each group as last told to this connection */
  private readonly settingsSeen = new Map<string, { announce: boolean; restrict: boolean }>();

  /** Senders (`<group>|<phone>`) whose sender key this connection's client has been given */
  private readonly distributed = new Set<string>();

  constructor(private readonly port: GroupsLinkPort) {}

  private get book(): SenderKeyBook {
    return this.port.senderKeys();
  }

  // --- group messages ---

  /**
   * A message the client posts to a group: a sender key distribution message to each member's
   * devices (`pkmsg`/`msg`, 1:1 Signal), which the fake reads as each member's phone, and the message
   * itself once (`skmsg`), read with the client's sender key. The decoded Message, or why not.
   */
  async openGroupMessage(node: WaNode): Promise<{ message?: any; error?: string }> {
    const group = node.attrs.to ?? "";
    const client = this.port.clientAddress();
    if (!client) return { error: "not logged in" };
    const key = `${group}|${client}`;
    for (const to of children(child(node, "participants"), "to")) {
      const jid = to.attrs.jid ?? "";
      const phone = this.port.phoneOf(jid);
      // the members' phones (device 0); the account's other companions are not modelled
      if (!phone || /:[1-9]\d*@/.test(jid)) continue;
      for (const enc of children(to, "enc")) {
        try {
          const plain = await this.port.decryptFromClient(phone, enc.attrs.type, bytesOf(enc)!);
          const skdm = proto.Message.decode(plain).senderKeyDistributionMessage?.axolotlSenderKeyDistributionMessage;
          if (skdm) this.book.received.set(key, SenderKeyReceiver.fromBytes(Buffer.from(skdm)));
        } catch (err) {
          this.port.log(`a sender key for ${group} to ${jid} could not be read: ${(err as Error).message}`);
        }
      }
    }
    const sk = children(node, "enc").find((e) => e.attrs.type === "skmsg");
    if (!sk) return { error: "no skmsg" };
    const receiver = this.book.received.get(key);
    if (!receiver) return { error: "no sender key from this device for this group" };
    try {
      return { message: proto.Message.decode(unpad(receiver.decrypt(bytesOf(sk)!))) };
    } catch (err) {
      return { error: `skmsg: ${(err as Error).message}` };
    }
  }

  /**
   * A member's post as WhatsApp relays it to the client: the author's sender key distribution
   * message (1:1 Signal from the author) the first time on this connection, then the post under the
   * author's sender key for the group (`skmsg`).
   */
  async groupStanza(r: { group: string; from: string; id: string; t: number; type: string; message: Record<string, unknown> }): Promise<WaNode> {
    const key = `${r.group}|${r.from}`;
    let sender = this.book.own.get(key);
    if (!sender) this.book.own.set(key, (sender = new SenderKeySender()));
    const encs: WaNode[] = [];
    if (!this.distributed.has(key)) {
      const skdm = Buffer.from(proto.Message.encode({ senderKeyDistributionMessage: { groupId: r.group, axolotlSenderKeyDistributionMessage: sender.distribution() } }).finish());
      const enc = await this.port.encryptToClient(r.from, skdm);
      encs.push({ tag: "enc", attrs: { v: "2", type: enc.type }, content: enc.body });
      this.distributed.add(key);
    }
    encs.push({ tag: "enc", attrs: { v: "2", type: "skmsg" }, content: sender.encrypt(pad(Buffer.from(proto.Message.encode(r.message).finish()))) });
    return { tag: "message", attrs: { from: r.group, participant: `${r.from}@${S_WA}`, id: r.id, t: String(r.t), type: r.type, notify: `Contact ${r.from}`, addressing_mode: "pn" }, content: encs };
  }

  // --- calls ---

  /** The network says someone calls the account: WhatsApp's `<call><offer>`. */
  private offer(u: Extract<SimUpdate, { kind: "call" }>): void {
    const caller = waJid(u.from);
    const offer: WaNode = {
      tag: "offer",
      attrs: { "call-id": u.callId, "call-creator": caller, count: "0", ...(u.isGroup ? { type: "group" } : {}) },
      content: [{ tag: "audio", attrs: { enc: "opus", rate: "16000" } }, ...(u.isVideo ? [{ tag: "video", attrs: { enc: "vp8", dec: "vp8" } }] : [])],
    };
    this.port.send({ tag: "call", attrs: { from: caller, id: stanzaId(), t: String(u.timestamp) }, content: [offer] });
  }

  /** The client's `<call>` stanza: a reject goes to the network; its answer is the ack the client waits for. */
  onCall(node: WaNode): void {
    const reject = child(node, "reject");
    const id = node.attrs.id;
    const ack = (error?: { code: string; text: string }) => this.port.send({ tag: "ack", attrs: { class: "call", id, from: node.attrs.to ?? S_WA, type: "reject" }, ...(error ? { content: [{ tag: "error", attrs: error }] } : {}) });
    if (!reject) return;
    const callId = reject.attrs["call-id"];
    if (!callId) return ack({ code: "400", text: "bad-request" });
    this.port.netQuery({ op: "call_reject", callId }, (error, data) => (error || data !== true ? ack({ code: "404", text: "item-not-found" }) : ack()));
  }

  // --- what the network tells ---

  /** A group change or a call from the network; true when it was this translator's. */
  onUpdate(u: SimUpdate, uid: string | undefined): boolean {
    if (u.kind === "call") {
      this.offer(u);
      if (uid) this.port.netSend({ t: "update_ack", uid });
      return true;
    }
    if (u.kind !== "group") return false;
    // sent again after a reconnect (its ack was lost), a notification keeps its id, as WhatsApp's do
    const id = uid ? notificationIdOf(uid) : stanzaId();
    const node = this.notification(u, id);
    if (!node) {
      if (uid) this.port.netSend({ t: "update_ack", uid });
      return true;
    }
    if (uid) this.relayed.set(id, uid);
    this.port.send(node);
    return true;
  }

  /** The client acknowledged a notification: the network forgets the update behind it. */
  onAck(node: WaNode): void {
    if (node.attrs.class !== "notification") return;
    const uid = this.relayed.get(node.attrs.id);
    if (!uid) return;
    this.relayed.delete(node.attrs.id);
    this.port.netSend({ t: "update_ack", uid });
  }

  /** WhatsApp's `w:gp2` (or `picture`) notification for a group change. */
  private notification(u: Extract<SimUpdate, { kind: "group" }>, id: string): WaNode | undefined {
    const by = waJid(u.by);
    const attrs = { from: u.groupId, id, t: String(nowSeconds()), participant: by };
    const people = (u.participants ?? []).map((p) => ({ tag: "participant", attrs: { jid: waJid(p) } }));
    const gp2 = (content: WaNode): WaNode => ({ tag: "notification", attrs: { ...attrs, type: "w:gp2" }, content: [content] });
    switch (u.change) {
      case "create":
        // the group as it is now, read when the client asks; the notification carries its first state
        return gp2({ tag: "create", attrs: {}, content: [groupNode({ id: u.groupId, subject: String(u.value ?? ""), description: "", owner: u.by, createdAt: nowSeconds(), participants: [{ id: u.by, admin: true, superAdmin: true }, ...(u.participants ?? []).map((p) => ({ id: p, admin: false, superAdmin: false }))], settings: { announce: false, restrict: false } })] });
      case "add":
      case "join":
        return gp2({ tag: "add", attrs: u.change === "join" ? { reason: "invite" } : {}, content: people });
      case "remove":
      case "leave":
        // WhatsApp tells a leave as a remove of the person by themselves
        return gp2({ tag: u.change === "leave" ? "leave" : "remove", attrs: {}, content: people });
      case "promote":
      case "demote":
        return gp2({ tag: u.change, attrs: {}, content: people });
      case "subject":
        return gp2({ tag: "subject", attrs: { subject: String(u.value ?? ""), s_o: by, s_t: String(nowSeconds()) } });
      case "description": {
        const text = String(u.value ?? "");
        const descId = this.newDescId(u.groupId);
        return gp2(text ? { tag: "description", attrs: { id: descId }, content: [{ tag: "body", attrs: {}, content: Buffer.from(text) }] } : { tag: "description", attrs: { id: descId, delete: "true" } });
      }
      case "settings": {
        // WhatsApp tells one setting per notification; the network's value has both: the one that
        // changed since this connection last saw the group's settings (announce when it cannot tell)
        const s = u.value as { announce: boolean; restrict: boolean };
        const seen = this.settingsSeen.get(u.groupId);
        this.settingsSeen.set(u.groupId, { ...s });
        const restrictOnly = seen !== undefined && seen.announce === s.announce && seen.restrict !== s.restrict;
        return gp2(restrictOnly ? { tag: s.restrict ? "locked" : "unlocked", attrs: {} } : { tag: s.announce ? "announcement" : "not_announcement", attrs: {} });
      }
      case "invite_revoked":
        // (the network tells the admins that it changed, not the new code)
        return gp2({ tag: "invite", attrs: {} });
      case "picture":
        return { tag: "notification", attrs: { ...attrs, type: "picture" }, content: [{ tag: "set", attrs: { jid: u.groupId, author: by, id: stanzaId() } }] };
      default:
        return undefined;
    }
  }

  private newDescId(groupId: string): string {
    const id = randomBytes(8).toString("hex").toUpperCase();
    this.descIds.set(groupId, id);
    return id;
  }

  // --- the client's group iqs ---

  /** A `w:g2` iq: answered from the network (or with WhatsApp's error). */
  onGroupIq(node: WaNode): void {
    const { id, to = "" } = node.attrs;
    const first = Array.isArray(node.content) ? node.content[0] : undefined;
    const result = (content?: WaNode[]) => this.port.send({ tag: "iq", attrs: { from: to || "g.us", type: "result", id }, ...(content ? { content } : {}) });
    const error = (code: string, text: string) => this.port.send({ tag: "iq", attrs: { from: to || "g.us", type: "error", id }, content: [{ tag: "error", attrs: { code, text } }] });
    const refused = (err: string) => (err === "NOT_ADMIN" ? error("403", "forbidden") : err === "NOT_FOUND" ? error("404", "item-not-found") : err === "GROUP_FULL" ? error("406", "group-full") : err === "VALIDATION_ERROR" ? error("400", "bad-request") : error("500", "internal-server-error"));
    const ask = (q: Record<string, unknown>, then: (data: unknown) => void) => this.port.netQuery(q, (err, data) => (err ? refused(err) : then(data)));
    const groupId = /^[0-9-]+@g\.us$/.test(to) ? to : undefined;
    const people = (n: WaNode | undefined) => children(n, "participant").map((p) => this.personOf(p.attrs.jid ?? ""));
    if (!first) return error("400", "bad-request");
    const type = node.attrs.type;
    const metadata = (gid: string) =>
      ask({ op: "group", groupId: gid }, (g) => {
        if (!g) return error("404", "item-not-found");
        this.settingsSeen.set(gid, { ...(g as NetGroup).settings });
        result([groupNode(g as NetGroup, this.descIds.get(gid))]);
      });

    if (!groupId) {
      switch (first.tag) {
        case "create":
          return ask({ op: "group_create", subject: first.attrs.subject ?? "", participants: people(first) }, (data) => {
            const { group, participants } = data as { group: NetGroup; participants: Array<{ id: string; status: string }> };
            // as WhatsApp answers: the group, and an error code for each person it could not add
            const failed = participants.filter((p) => p.status !== "added" && p.status !== "already_member").map((p) => ({ tag: "participant", attrs: { jid: waJid(p.id), error: addCode(p.status) } }));
            const g = groupNode(group);
            result([{ ...g, content: [...(g.content as WaNode[]), ...failed] }]);
          });
        case "participating":
          return this.participating([], undefined, result, refused);
        case "leave": {
          const gid = child(first, "group")?.attrs.id ?? "";
          return ask({ op: "group_leave", groupId: gid.includes("@") ? gid : `${gid}@g.us` }, () => result([{ tag: "leave", attrs: {}, content: [{ tag: "group", attrs: { id: gid } }] }]));
        }
        case "invite":
          if (type === "set" && first.attrs.code) return ask({ op: "group_join", code: first.attrs.code }, (g) => result([{ tag: "group", attrs: { jid: (g as NetGroup).id } }]));
          return error("400", "bad-request");
        default:
          return error("501", "feature-not-implemented");
      }
    }
    switch (first.tag) {
      case "query":
        return metadata(groupId);
      case "subject":
        return ask({ op: "group_update", groupId, subject: bytesOf(first)?.toString("utf8") ?? "" }, () => result());
      case "description":
        return ask({ op: "group_update", groupId, description: first.attrs.delete === "true" ? "" : (bytesOf(child(first, "body"))?.toString("utf8") ?? "") }, () => {
          if (first.attrs.id) this.descIds.set(groupId, first.attrs.id);
          result();
        });
      case "announcement":
      case "not_announcement":
        return ask({ op: "group_update", groupId, settings: { announce: first.tag === "announcement" } }, () => result());
      case "locked":
      case "unlocked":
        return ask({ op: "group_update", groupId, settings: { restrict: first.tag === "locked" } }, () => result());
      case "add":
      case "remove":
      case "promote":
      case "demote":
        return ask({ op: "group_participants", groupId, action: first.tag, participants: people(first) }, (data) => {
          const results = data as Array<{ id: string; status: string }>;
          result([{ tag: first.tag, attrs: {}, content: results.map((r) => ({ tag: "participant", attrs: { jid: waJid(r.id), ...(isDone(r.status) ? {} : { error: first.tag === "add" ? addCode(r.status) : "404" }) } })) }]);
        });
      case "invite":
        return ask({ op: type === "set" ? "group_revoke_invite" : "group_invite", groupId }, (code) => result([{ tag: "invite", attrs: { code: String(code) } }]));
      case "leave":
        return ask({ op: "group_leave", groupId }, () => result());
      default:
        return error("501", "feature-not-implemented");
    }
  }

  /** Every group the account is in, read page by page from the network. */
  private participating(done: NetGroup[], before: string | undefined, result: (c: WaNode[]) => void, refused: (err: string) => void): void {
    this.port.netQuery({ op: "groups", limit: PAGE, ...(before ? { before } : {}) }, (err, data) => {
      if (err) return refused(err);
      const page = data as { items: NetGroup[]; next?: string };
      const all = [...done, ...page.items];
      if (page.next) return this.participating(all, page.next, result, refused);
      result([{ tag: "groups", attrs: {}, content: all.map((g) => groupNode(g, this.descIds.get(g.id))) }]);
    });
  }

  /** A `w:profile:picture` iq about a group: set, remove, or read (a URL the client downloads). */
  onPictureIq(node: WaNode): boolean {
    const { id, type } = node.attrs;
    const target = node.attrs.target ?? "";
    if (!target.endsWith("@g.us")) return false;
    const result = (content?: WaNode[]) => this.port.send({ tag: "iq", attrs: { from: S_WA, type: "result", id }, ...(content ? { content } : {}) });
    const error = (code: string, text: string) => this.port.send({ tag: "iq", attrs: { from: S_WA, type: "error", id }, content: [{ tag: "error", attrs: { code, text } }] });
    const refused = (err: string) => (err === "NOT_ADMIN" ? error("403", "forbidden") : err === "NOT_FOUND" ? error("404", "item-not-found") : err === "VALIDATION_ERROR" ? error("400", "bad-request") : error("500", "internal-server-error"));
    const picture = child(node, "picture");
    if (type === "set") {
      const bytes = bytesOf(picture);
      const data = bytes ? { mimetype: mimetypeOf(bytes), data: bytes.toString("base64") } : null;
      if (bytes && !data!.mimetype) return error("400", "bad-request"), true;
      this.port.netQuery({ op: "group_picture_set", groupId: target, picture: data }, (err) => (err ? refused(err) : result(bytes ? [{ tag: "picture", attrs: { id: stanzaId() } }] : undefined)));
      return true;
    }
    this.port.netQuery({ op: "group_picture", groupId: target }, (err, data) => {
      if (err) return refused(err);
      const p = data as { sha256: string } | null;
      if (!p) return error("404", "item-not-found");
      result([{ tag: "picture", attrs: { id: p.sha256.slice(0, 16), type: picture?.attrs.type ?? "image", url: this.port.pictureUrl(target, p.sha256) } }]);
    });
    return true;
  }

  private personOf(jid: string): string {
    const phone = this.port.phoneOf(jid);
    return phone ? `${phone}@c.us` : jid;
  }
}

/**
 * Serves a group picture's bytes at the URL a `w:profile:picture` answer gave
 * (`/sim/baileys/pictures/<groupId>/<sha256>`): only the picture the group has now. False when the
 * request is not one of these.
 */
export function servePicture(network: SimNetwork, req: IncomingMessage, res: ServerResponse): boolean {
  const m = /^\/sim\/baileys\/pictures\/([^/]+)\/([0-9a-f]{64})$/.exec((req.url ?? "").split("?")[0]);
  if (req.method !== "GET" || !m) return false;
  const groupId = decodeURIComponent(m[1]);
  const member = network.groups.membersOf(groupId)?.[0];
  const picture = member ? network.groups.picture(member, groupId) : null;
  if (!picture || picture.sha256 !== m[2]) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("no such picture");
    return true;
  }
  const bytes = Buffer.from(picture.data, "base64");
  res.writeHead(200, { "content-type": picture.mimetype, "content-length": String(bytes.length) });
  res.end(bytes);
  return true;
}

/** A group as WhatsApp's `<group>` node describes it. */
function groupNode(g: NetGroup, descId?: string): WaNode {
  const content: WaNode[] = g.participants.map((p) => ({ tag: "participant", attrs: { jid: waJid(p.id), ...(p.superAdmin ? { type: "superadmin" } : p.admin ? { type: "admin" } : {}) } }));
  if (g.description) content.push({ tag: "description", attrs: { id: descId ?? "0", t: String(g.createdAt) }, content: [{ tag: "body", attrs: {}, content: Buffer.from(g.description) }] });
  if (g.settings.announce) content.push({ tag: "announcement", attrs: {} });
  if (g.settings.restrict) content.push({ tag: "locked", attrs: {} });
  return {
    tag: "group",
    attrs: { id: bareGroup(g.id), subject: g.subject, s_t: String(g.createdAt), s_o: waJid(g.owner), creation: String(g.createdAt), creator: waJid(g.owner), size: String(g.participants.length), addressing_mode: "pn" },
    content,
  };
}

/** WhatsApp's code for a person a group add could not add. */
function addCode(status: string): string {
  switch (status) {
    case "already_member":
      return "409";
    case "invite_sent":
      return "403"; // their privacy forbids it: an invite was sent instead
    case "not_on_whatsapp":
      return "404";
    default:
      return "500";
  }
}

const isDone = (status: string) => status === "added" || status === "removed" || status === "promoted" || status === "demoted";

/** The image type of a picture's bytes (what the network accepts), "" for anything else. */
function mimetypeOf(bytes: Buffer): string {
  if (bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))) return "image/jpeg";
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image/png";
  return "";
}

const stanzaId = () => `3EB0${randomBytes(8).toString("hex").toUpperCase()}`;
/** The stanza id of the notification for a network update: the same each time the update is sent. */
const notificationIdOf = (uid: string) => createHash("sha256").update(`notification|${uid}`).digest("hex").slice(0, 20).toUpperCase();

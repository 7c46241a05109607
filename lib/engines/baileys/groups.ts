// The baileys engine's groups and calls (capabilities `groups`, `calls`), through Baileys' own
// methods (groupCreate, groupMetadata, groupFetchAllParticipating, groupUpdateSubject /
// Description, groupSettingUpdate, groupParticipantsUpdate, groupInviteCode, groupRevokeInvite,
// groupAcceptInvite, groupLeave, updateProfilePicture / removeProfilePicture / profilePictureUrl,
// rejectCall) and its events (`groups.upsert`, `groups.update`, `group-participants.update`, the
// group picture's stub message, `call`), in the engine's terms.
import { parseId } from "../../whatsapp";
import { EngineError } from "../errors";
import type { GroupChange, GroupInfo, GroupPicture, GroupUpdate, IncomingCall, ParticipantAction, ParticipantResult, ParticipantStatus, EnginePage, PageQuery } from "../capabilities";
import { loadBaileys } from "./library";

export interface GroupsHost {
  /** The connected socket; throws SESSION_NOT_READY otherwise */
  sock(): any;
  emitGroupUpdate(update: GroupUpdate): void;
  emitCall(call: IncomingCall): void;
  /** An own message's status moved on (Baileys' status numbers: 3 delivered, 4 read) */
  ackChanged(id: string, status: number): void;
  /** The group notifications heard on any connection of this device, kept with its auth (a restart and a failover keep them) */
  notifications(): { heard(key: string): boolean; note(key: string, keep: number): Promise<void> } | undefined;
  log?(level: "warn" | "error", msg: string): void;
}

/** Calls remembered (id -> caller jid), so a ringing one can be rejected; the oldest forgotten first. */
const CALLS_KEPT = 500;
/** Group notifications remembered (group and stanza id), so one sent again is not announced twice; the oldest forgotten first. */
const NOTIFICATIONS_KEPT = 2000;
/** The largest picture read back (WhatsApp's are a 640x640 JPEG, far smaller). */
const PICTURE_MAX_BYTES = 2 * 1024 * 1024;

export class BaileysGroups {
  private readonly calls = new Map<string, string>();
  /** Group events are announced one at a time, in arrival order (a settings change reads the group). */
  private events: Promise<void> = Promise.resolve();

  constructor(private readonly host: GroupsHost) {}

  /** Listens to a new socket's group and call events. */
  attach(sock: any, current: () => boolean): void {
    this.dedupeNotifications(sock);
    sock.ev.on("call", (calls: any[]) => {
      if (!current()) return;
      for (const c of calls) {
        if (c.status !== "offer" || !c.id) continue;
        const from = c.from ?? c.chatId;
        this.calls.set(c.id, from);
        if (this.calls.size > CALLS_KEPT) this.calls.delete(this.calls.keys().next().value!);
        const date = c.date instanceof Date ? c.date.getTime() : Date.now();
        this.host.emitCall({ callId: c.id, from: personOf(c.callerPn || from), isVideo: !!c.isVideo, isGroup: !!c.isGroup, timestamp: Math.floor(date / 1000) });
      }
    });
    sock.ev.on("groups.upsert", (groups: any[]) => {
      if (!current()) return;
      for (const g of groups) {
        const by = personOf(g.authorPn || g.author || g.owner || "");
        const participants = (g.participants ?? []).map((p: any) => personOf(p.id)).filter((p: string) => p !== by);
        this.announce(async () => ({ groupId: g.id, change: "create", by, participants, value: g.subject ?? "" }));
      }
    });
    sock.ev.on("group-participants.update", (u: any) => {
      if (!current()) return;
      const by = personOf(u.authorPn || u.author || "");
      const participants = (u.participants ?? []).map((p: any) => personOf(typeof p === "string" ? p : p.phoneNumber || p.id));
      const self = participants.length === 1 && participants[0] === by;
      const change = u.action === "add" && self ? "join" : u.action === "remove" && self ? "leave" : u.action;
      if (!["add", "join", "remove", "leave", "promote", "demote"].includes(change)) return;
      this.announce(async () => ({ groupId: u.id, change, by, participants }));
    });
    sock.ev.on("groups.update", (updates: any[]) => {
      if (!current()) return;
      for (const u of updates) {
        if (!u.author && !u.authorPn) continue; // a refresh of the group list, not a change
        const by = personOf(u.authorPn || u.author);
        const base = { groupId: u.id as string, by };
        if (typeof u.subject === "string") this.announce(async () => ({ ...base, change: "subject", value: u.subject }));
        if ("desc" in u) this.announce(async () => ({ ...base, change: "description", value: u.desc ?? "" }));
        if ("announce" in u || "restrict" in u) {
          // WhatsApp tells one setting at a time: the value is the group's settings as they are now
          this.announce(async () => {
            const meta = await sock.groupMetadata(u.id).catch(() => undefined);
            return { ...base, change: "settings", value: meta ? { announce: !!meta.announce, restrict: !!meta.restrict } : { announce: !!u.announce, restrict: !!u.restrict } };
          });
        }
        if ("inviteCode" in u) this.announce(async () => ({ ...base, change: "invite_revoked" }));
      }
    });
    // an own group message's receipts come per member (the first one moves its ack on)
    sock.ev.on("message-receipt.update", (updates: any[]) => {
      if (!current()) return;
      for (const u of updates) {
        if (!u.key?.fromMe || !u.key.id || !String(u.key.remoteJid ?? "").endsWith("@g.us")) continue;
        if (u.receipt?.readTimestamp) this.host.ackChanged(u.key.id, 4);
        else if (u.receipt?.receiptTimestamp) this.host.ackChanged(u.key.id, 3);
      }
    });
    // a picture change is told as a stub message of the group (no event of its own carries its author)
    sock.ev.on("messages.upsert", (u: { messages: any[] }) => {
      if (!current()) return;
      const { proto } = loadBaileys();
      for (const m of u.messages ?? []) {
        // a member's receipt that came while Baileys buffered events is folded into the own message's upsert
        if (m.key?.fromMe && String(m.key.remoteJid ?? "").endsWith("@g.us") && m.userReceipt?.length) {
          if (m.userReceipt.some((r: any) => r.readTimestamp)) this.host.ackChanged(m.key.id, 4);
          else if (m.userReceipt.some((r: any) => r.receiptTimestamp)) this.host.ackChanged(m.key.id, 3);
        }
        if (m.messageStubType !== proto.WebMessageInfo.StubType.GROUP_CHANGE_ICON || !String(m.key?.remoteJid ?? "").endsWith("@g.us")) continue;
        const by = personOf(m.key.participantAlt || m.key.participant || m.participant || "");
        this.announce(async () => ({ groupId: m.key.remoteJid, change: "picture", by }));
      }
    });
  }

  /**
   * WhatsApp sends a notification again, with the same id, when it did not get its ack (the
   * connection dropped first); Baileys processes it again and emits the group change again. So a
   * group's notification whose id was already heard on any connection of this device is only acked
   * (the server stops sending it) and not handed to Baileys. The ids heard are kept with the auth
   * (BaileysAuthStore.noteNotification), so a restart or a failover between a lost ack and the
   * re-send does not announce the change twice. Baileys has no hook for this: its
   * socket's frame events are filtered (a frame is emitted as `frame`, then as its tag and
   * callback events; each of them is withheld for a repeated notification).
   */
  private dedupeNotifications(sock: any): void {
    const ws = sock.ws;
    const emit = ws.emit.bind(ws) as (event: string | symbol, ...args: unknown[]) => boolean;
    const repeated = new WeakSet<object>();
    ws.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      const node = args[0] as { tag?: string; attrs?: Record<string, string> } | undefined;
      if (event === "frame" && node?.tag === "notification" && node.attrs?.id && String(node.attrs.from ?? "").endsWith("@g.us")) {
        const key = `${node.attrs.from}/${node.attrs.id}`;
        const heard = this.host.notifications();
        if (heard?.heard(key)) {
          repeated.add(node);
          this.host.log?.("warn", `group notification ${node.attrs.id} of ${node.attrs.from} came again: acknowledged, not announced twice`);
          Promise.resolve(sock.sendMessageAck(node)).catch(() => undefined);
          return true;
        }
        heard?.note(key, NOTIFICATIONS_KEPT).catch((err: Error) => this.host.log?.("error", `cannot save the group notifications heard: ${err.message}`));
      }
      if (node && typeof node === "object" && repeated.has(node)) return false;
      return emit(event, ...args);
    };
  }

  private announce(make: () => Promise<GroupUpdate>): void {
    this.events = this.events.then(async () => {
      try {
        this.host.emitGroupUpdate(await make());
      } catch (err) {
        this.host.log?.("warn", `a group change could not be read: ${(err as Error).message}`);
      }
    });
  }

  // --- calls ---

  /** Rejects a call this engine announced; false for one it does not know or that no longer rings. */
  async rejectCall(callId: string): Promise<boolean> {
    const sock = this.host.sock();
    const from = this.calls.get(callId);
    if (!from) return false;
    try {
      await sock.rejectCall(callId, from);
      return true;
    } catch (err) {
      if (codeOf(err) === 404) return false;
      throw engineError(err, "reject the call");
    }
  }

  // --- groups ---

  async createGroup(subject: string, participants: string[]): Promise<{ group: GroupInfo; participants: ParticipantResult[] }> {
    const sock = this.host.sock();
    const people = unique(participants.map(personId));
    let created: any;
    try {
      created = await sock.groupCreate(subject, people.map(waJid));
    } catch (err) {
      throw engineError(err, "create the group");
    }
    // Baileys keeps only the members of WhatsApp's answer: read the group, and ask who is on WhatsApp
    const group = await this.readGroup(created.id);
    if (!group) throw new EngineError("ENGINE_ERROR", `WhatsApp created ${created.id} but does not show it`);
    const members = new Set(group.participants.map((p) => p.id));
    const missing = people.filter((p) => !members.has(p));
    const onWa = new Set<string>();
    if (missing.length) for (const r of (await sock.onWhatsApp(...missing.map(waJid))) ?? []) if (r.exists) onWa.add(personOf(r.jid));
    const results = people.map((id): ParticipantResult => ({ id, status: members.has(id) ? "added" : onWa.has(id) ? "invite_sent" : "not_on_whatsapp" }));
    return { group, participants: results };
  }

  async listGroups(q: PageQuery): Promise<EnginePage<GroupInfo>> {
    const sock = this.host.sock();
    let all: GroupInfo[];
    try {
      all = Object.values((await sock.groupFetchAllParticipating()) as Record<string, any>).map(groupInfoOf);
    } catch (err) {
      throw engineError(err, "list the groups");
    }
    const start = q.before === undefined ? 0 : all.findIndex((g) => g.id === q.before) + 1;
    if (q.before !== undefined && start === 0) return { items: [] };
    const items = all.slice(start, start + q.limit);
    return { items, ...(start + q.limit < all.length ? { next: items[items.length - 1].id } : {}) };
  }

  async getGroup(groupId: string): Promise<GroupInfo | undefined> {
    return this.readGroup(groupOf(groupId));
  }

  async updateGroup(groupId: string, change: GroupChange): Promise<GroupInfo | undefined> {
    const sock = this.host.sock();
    const id = groupOf(groupId);
    if (!(await this.readGroup(id))) return undefined;
    try {
      if (change.subject !== undefined) await sock.groupUpdateSubject(id, change.subject);
      if (change.description !== undefined) await sock.groupUpdateDescription(id, change.description);
      if (change.settings?.announce !== undefined) await sock.groupSettingUpdate(id, change.settings.announce ? "announcement" : "not_announcement");
      if (change.settings?.restrict !== undefined) await sock.groupSettingUpdate(id, change.settings.restrict ? "locked" : "unlocked");
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw engineError(err, "change the group");
    }
    return this.readGroup(id);
  }

  async leaveGroup(groupId: string): Promise<boolean> {
    const sock = this.host.sock();
    try {
      await sock.groupLeave(groupOf(groupId));
      return true;
    } catch (err) {
      if (codeOf(err) === 404) return false;
      throw engineError(err, "leave the group");
    }
  }

  async changeParticipants(groupId: string, action: ParticipantAction, participants: string[]): Promise<ParticipantResult[] | undefined> {
    const sock = this.host.sock();
    const people = unique(participants.map(personId));
    let answer: Array<{ status: string; jid: string }>;
    try {
      answer = await sock.groupParticipantsUpdate(groupOf(groupId), people.map(waJid), action);
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw engineError(err, `${action} participants`);
    }
    const byId = new Map(answer.map((a) => [personOf(a.jid), a.status]));
    return people.map((id) => ({ id, status: participantStatus(action, byId.get(id)) }));
  }

  async getInviteCode(groupId: string): Promise<string | undefined> {
    return this.inviteVerb(groupId, (sock, id) => sock.groupInviteCode(id), "read the invite code");
  }

  async revokeInviteCode(groupId: string): Promise<string | undefined> {
    return this.inviteVerb(groupId, (sock, id) => sock.groupRevokeInvite(id), "revoke the invite code");
  }

  private async inviteVerb(groupId: string, verb: (sock: any, id: string) => Promise<string | undefined>, what: string): Promise<string | undefined> {
    const sock = this.host.sock();
    try {
      return (await verb(sock, groupOf(groupId))) || undefined;
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw engineError(err, what);
    }
  }

  async joinGroup(code: string): Promise<string | undefined> {
    const sock = this.host.sock();
    if (typeof code !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(code)) throw new EngineError("VALIDATION_ERROR", "An invite code is the url-safe text after chat.whatsapp.com/");
    try {
      return ((await sock.groupAcceptInvite(code)) as string | undefined) || undefined;
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw engineError(err, "join the group");
    }
  }

  /** Baileys re-encodes the picture (a 640x640 JPEG, with sharp) before WhatsApp keeps it. */
  async setGroupPicture(groupId: string, picture: GroupPicture | null): Promise<boolean> {
    const sock = this.host.sock();
    const id = groupOf(groupId);
    if (!(await this.readGroup(id))) return false;
    try {
      if (picture === null) await sock.removeProfilePicture(id);
      else await sock.updateProfilePicture(id, Buffer.from(picture.data, "base64"));
      return true;
    } catch (err) {
      if (codeOf(err) === 404) return false;
      // an error without WhatsApp's code is the image library's: bytes that are no image
      if (picture && !(err as { isBoom?: boolean })?.isBoom) throw new EngineError("VALIDATION_ERROR", `The picture could not be read as an image: ${(err as Error).message}`);
      throw engineError(err, "set the group's picture");
    }
  }

  async getGroupPicture(groupId: string): Promise<GroupPicture | null | undefined> {
    const sock = this.host.sock();
    const id = groupOf(groupId);
    if (!(await this.readGroup(id))) return undefined;
    let url: string | undefined;
    try {
      url = await sock.profilePictureUrl(id, "image");
    } catch (err) {
      if (codeOf(err) === 404) return null;
      throw engineError(err, "read the group's picture");
    }
    if (!url) return null;
    const res = await fetch(url, { signal: AbortSignal.timeout(15000) });
    if (res.status === 404) return null;
    if (!res.ok) throw new EngineError("ENGINE_ERROR", `WhatsApp's picture server answered ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > PICTURE_MAX_BYTES) throw new EngineError("ENGINE_ERROR", "The group's picture is larger than a WhatsApp picture can be");
    return { mimetype: (res.headers.get("content-type") ?? "image/jpeg").split(";")[0], data: bytes.toString("base64") };
  }

  /** The group's metadata; undefined when there is no such group or the account is not in it. */
  private async readGroup(id: string): Promise<GroupInfo | undefined> {
    const sock = this.host.sock();
    try {
      return groupInfoOf(await sock.groupMetadata(id));
    } catch (err) {
      const code = codeOf(err);
      if (code === 404 || code === 403) return undefined;
      throw engineError(err, "read the group");
    }
  }
}

/** Baileys' group metadata in the engine's terms. */
function groupInfoOf(m: any): GroupInfo {
  return {
    id: m.id,
    subject: m.subject ?? "",
    description: m.desc ?? "",
    owner: m.ownerPn || m.owner ? personOf(m.ownerPn || m.owner) : null,
    createdAt: Number.isFinite(m.creation) ? m.creation : null,
    participants: (m.participants ?? []).map((p: any) => ({ id: personOf(p.phoneNumber || p.id), admin: p.admin === "admin" || p.admin === "superadmin", superAdmin: p.admin === "superadmin" })),
    settings: { announce: !!m.announce, restrict: !!m.restrict },
  };
}

/** WhatsApp's per-participant code as the contract's status. */
function participantStatus(action: ParticipantAction, code: string | undefined): ParticipantStatus {
  if (code === "200") return action === "add" ? "added" : action === "remove" ? "removed" : action === "promote" ? "promoted" : "demoted";
  if (action !== "add") return "not_a_member";
  if (code === "409") return "already_member";
  if (code === "403") return "invite_sent";
  return "not_on_whatsapp";
}

/** The WhatsApp error code in a Baileys error (an iq's `<error code>`, or a Boom's status). */
function codeOf(err: unknown): number | undefined {
  const e = err as { data?: unknown; output?: { statusCode?: number } };
  if (typeof e?.data === "number") return e.data;
  return e?.output?.statusCode;
}

function engineError(err: unknown, what: string): EngineError {
  if (err instanceof EngineError) return err;
  const code = codeOf(err);
  if (code === 403) return new EngineError("GROUP_NOT_ADMIN", `WhatsApp refused to ${what}: only admins may`);
  if (code === 400) return new EngineError("VALIDATION_ERROR", `WhatsApp refused to ${what}: ${(err as Error).message}`);
  if (code === 406) return new EngineError("GROUP_FULL", `WhatsApp refused to ${what}: the group is full`);
  if (code === 428 || (err as Error)?.message === "Connection Closed") return new EngineError("SESSION_NOT_READY", "The connection to WhatsApp closed");
  return new EngineError("ENGINE_ERROR", `Baileys could not ${what}: ${(err as Error).message}`);
}

function groupOf(groupId: string): string {
  const id = parseId(groupId);
  if (id?.kind !== "group") throw new EngineError("VALIDATION_ERROR", `Not a group id: ${JSON.stringify(groupId)} (expected <digits>@g.us)`);
  return id.serialized;
}

/** A person id (`<phone>`, `<phone>@c.us`) as `<phone>@c.us`. */
function personId(p: string): string {
  const id = parseId(p);
  if (id?.kind !== "user") throw new EngineError("VALIDATION_ERROR", `Not a person id: ${JSON.stringify(p)} (expected a phone number or <digits>@c.us)`);
  return `${id.user}@c.us`;
}

const unique = (ids: string[]) => [...new Set(ids)];
const waJid = (id: string) => id.replace(/@c\.us$/, "@s.whatsapp.net");
/** `<phone>@s.whatsapp.net` (or `:device`) -> `<phone>@c.us`; LIDs as they are. */
const personOf = (jid: string) => (jid.endsWith("@s.whatsapp.net") ? `${jid.split("@")[0].split(":")[0]}@c.us` : jid);

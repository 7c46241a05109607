// What WhatsApp's servers keep for groups: participants and admins, subject, description, the two
// settings (only admins send messages, only admins edit info), the invite code and the picture.
// Pure bookkeeping with WhatsApp's rules: who may do what, and the per-participant outcome of an
// add (added, already a member, not on WhatsApp, privacy forbids: invite sent). The network wires
// it to connections and tells members what changed; this module has its own tests.
import { createHash, randomBytes } from "node:crypto";
import { userJid } from "../whatsapp";
import { SimError } from "./sim-error";

export interface SimGroupSettings {
  /** Only admins send messages ("announcement" group) */
  announce: boolean;
  /** Only admins edit the group's info (subject, description, picture) */
  restrict: boolean;
}

export interface SimGroupPicture {
  mimetype: string;
  /** base64 */
  data: string;
  sha256: string;
}

interface GroupState {
  id: string;
  subject: string;
  description: string;
  /** The creator's phone */
  owner: string;
  /** Unix seconds */
  createdAt: number;
  /** phone -> admin; insertion order = joining order */
  participants: Map<string, boolean>;
  settings: SimGroupSettings;
  inviteCode: string;
  picture?: SimGroupPicture;
}

/** A group as a member sees it. */
export interface SimGroup {
  id: string;
  subject: string;
  description: string;
  owner: string;
  createdAt: number;
  participants: Array<{ id: string; admin: boolean; superAdmin: boolean }>;
  settings: SimGroupSettings;
}

/** What happened to one participant of an add, remove, promote or demote. */
export type SimParticipantStatus = "added" | "already_member" | "not_on_whatsapp" | "invite_sent" | "removed" | "promoted" | "demoted" | "not_a_member";
export interface SimParticipantResult {
  id: string;
  status: SimParticipantStatus;
}

export type SimGroupChange = "create" | "join" | "add" | "leave" | "remove" | "promote" | "demote" | "subject" | "description" | "settings" | "picture" | "invite_revoked";

/** A change members are told about. `by`: who did it (`<phone>@c.us`). */
export interface SimGroupEvent {
  groupId: string;
  change: SimGroupChange;
  by: string;
  participants?: string[];
  /** subject / description: the new text; settings: the new settings */
  value?: string | SimGroupSettings;
  /** Phones to tell: the members after the change, and those it removed */
  audience: string[];
}

/** Who may add `phone` to a group: a profile setting (WhatsApp's "Who can add me to groups"). */
export type AddPolicy = (phone: string, by: string) => "ok" | "not_on_whatsapp" | "privacy";

export interface GroupsSnapshot {
  groups: Array<Omit<GroupState, "participants"> & { participants: Array<[string, boolean]> }>;
}

/** WhatsApp's own limit of members per group. */
export const GROUP_SIZE_MAX = 1024;
export const SUBJECT_MAX = 100;
export const DESCRIPTION_MAX = 2048;

const nowSeconds = () => Math.floor(Date.now() / 1000);

export class SimGroups {
  private readonly groups = new Map<string, GroupState>();
  private readonly byCode = new Map<string, string>();
  /** The groups each phone is a member of (phone -> group ids) */
  private readonly memberships = new Map<string, Set<string>>();

  constructor(
    private readonly canAdd: AddPolicy,
    private readonly onChange: () => void = () => {},
  ) {}

  /** `by` creates a group with itself as its owner and admin; the others as canAdd allows. */
  create(by: string, subject: string, participants: string[]): { group: SimGroup; results: SimParticipantResult[]; event: SimGroupEvent } {
    checkSubject(subject);
    const id = `120363${(BigInt(`0x${randomBytes(8).toString("hex")}`) % 10n ** 12n).toString().padStart(12, "0")}@g.us`;
    const g: GroupState = { id, subject, description: "", owner: by, createdAt: nowSeconds(), participants: new Map([[by, true]]), settings: { announce: false, restrict: false }, inviteCode: newInviteCode() };
    this.groups.set(id, g);
    this.byCode.set(g.inviteCode, id);
    this.join(by, id);
    const results = this.addTo(g, by, participants);
    this.onChange();
    const added = results.filter((r) => r.status === "added").map((r) => r.id);
    return { group: this.view(g), results, event: { groupId: id, change: "create", by: userJid(by), participants: added, value: subject, audience: this.members(g) } };
  }

  /** The group as `phone` sees it; undefined when it is not a member (or there is no such group). */
  get(phone: string, groupId: string): SimGroup | undefined {
    const g = this.groups.get(groupId);
    return g?.participants.has(phone) ? this.view(g) : undefined;
  }

  /** The subject of any group (a chat list names group chats by it). */
  subjectOf(groupId: string): string | undefined {
    return this.groups.get(groupId)?.subject;
  }

  /** The oracle's view: the group whoever asks, with its invite code and picture digest. */
  inspect(groupId: string): (SimGroup & { inviteCode: string; picture: { mimetype: string; sha256: string } | null }) | undefined {
    const g = this.groups.get(groupId);
    return g && { ...this.view(g), inviteCode: g.inviteCode, picture: g.picture ? { mimetype: g.picture.mimetype, sha256: g.picture.sha256 } : null };
  }

  /** Whether `phone` is an admin of the group (false when not a member). */
  isAdmin(phone: string, groupId: string): boolean {
    return this.groups.get(groupId)?.participants.get(phone) === true;
  }

  /** The members' phones (undefined: no such group). */
  membersOf(groupId: string): string[] | undefined {
    const g = this.groups.get(groupId);
    return g && this.members(g);
  }

  /** The groups `phone` is a member of, newest first, after position `before` (a group id from a previous page). */
  list(phone: string, limit: number, before?: string): { items: SimGroup[]; next?: string } {
    const ids = [...(this.memberships.get(phone) ?? [])].reverse();
    const start = before === undefined ? 0 : ids.indexOf(before) + 1;
    if (before !== undefined && start === 0) return { items: [] };
    const page = ids.slice(start, start + limit);
    return { items: page.map((id) => this.view(this.groups.get(id)!)), next: start + limit < ids.length ? page[page.length - 1] : undefined };
  }

  /** Subject, description and settings; info needs an admin when `restrict`, settings always do. */
  update(by: string, groupId: string, change: { subject?: string; description?: string; settings?: Partial<SimGroupSettings> }): { group: SimGroup; events: SimGroupEvent[] } {
    const g = this.memberGroup(by, groupId);
    const admin = g.participants.get(by) === true;
    if ((change.subject !== undefined || change.description !== undefined) && g.settings.restrict && !admin) throw notAdmin("edit this group's info (only admins may)");
    if (change.settings !== undefined && !admin) throw notAdmin("change this group's settings");
    if (change.subject !== undefined) checkSubject(change.subject);
    if (change.description !== undefined && change.description.length > DESCRIPTION_MAX) throw new SimError("VALIDATION_ERROR", `description must be at most ${DESCRIPTION_MAX} characters`, "description");
    const events: SimGroupEvent[] = [];
    const tell = (e: Omit<SimGroupEvent, "groupId" | "by" | "audience">) => events.push({ groupId, by: userJid(by), audience: this.members(g), ...e });
    if (change.subject !== undefined && change.subject !== g.subject) {
      g.subject = change.subject;
      tell({ change: "subject", value: g.subject });
    }
    if (change.description !== undefined && change.description !== g.description) {
      g.description = change.description;
      tell({ change: "description", value: g.description });
    }
    if (change.settings !== undefined) {
      const next = { ...g.settings, ...change.settings };
      if (next.announce !== g.settings.announce || next.restrict !== g.settings.restrict) {
        g.settings = next;
        tell({ change: "settings", value: { ...next } });
      }
    }
    if (events.length) this.onChange();
    return { group: this.view(g), events };
  }

  /** `by` leaves; the last admin leaving makes the longest-standing member an admin, as WhatsApp does. */
  leave(by: string, groupId: string): SimGroupEvent[] {
    const g = this.memberGroup(by, groupId);
    const audience = this.members(g);
    this.drop(g, by);
    const events: SimGroupEvent[] = [{ groupId, change: "leave", by: userJid(by), participants: [userJid(by)], audience }];
    const heir = this.ensureAdmin(g);
    if (heir) events.push({ groupId, change: "promote", by: userJid(by), participants: [userJid(heir)], audience: this.members(g) });
    this.onChange();
    return events;
  }

  /** An admin adds, removes, promotes or demotes participants; each gets its own result. */
  participants(by: string, groupId: string, action: "add" | "remove" | "promote" | "demote", phones: string[]): { results: SimParticipantResult[]; events: SimGroupEvent[] } {
    const g = this.memberGroup(by, groupId);
    if (g.participants.get(by) !== true) throw notAdmin(`${action} participants`);
    const before = this.members(g);
    let results: SimParticipantResult[];
    if (action === "add") {
      results = this.addTo(g, by, phones);
    } else {
      results = unique(phones).map((phone): SimParticipantResult => {
        const id = userJid(phone);
        if (!g.participants.has(phone)) return { id, status: "not_a_member" };
        if (action === "remove") {
          if (phone === g.owner && by !== g.owner) throw notAdmin("remove the group's creator");
          this.drop(g, phone);
          return { id, status: "removed" };
        }
        if (action === "demote" && phone === g.owner && by !== g.owner) throw notAdmin("demote the group's creator");
        g.participants.set(phone, action === "promote");
        return { id, status: action === "promote" ? "promoted" : "demoted" };
      });
    }
    const done = results.filter((r) => r.status === (action === "add" ? "added" : action === "remove" ? "removed" : action === "promote" ? "promoted" : "demoted")).map((r) => r.id);
    const events: SimGroupEvent[] = [];
    if (done.length) {
      events.push({ groupId, change: action, by: userJid(by), participants: done, audience: [...new Set([...before, ...this.members(g)])] });
      const heir = this.ensureAdmin(g);
      if (heir) events.push({ groupId, change: "promote", by: userJid(by), participants: [userJid(heir)], audience: this.members(g) });
      this.onChange();
    }
    return { results, events };
  }

  /** The invite code (admins only). */
  inviteCode(by: string, groupId: string): string {
    const g = this.memberGroup(by, groupId);
    if (g.participants.get(by) !== true) throw notAdmin("see the invite code");
    return g.inviteCode;
  }

  /** A new invite code; the old one stops working (admins only). */
  revokeInvite(by: string, groupId: string): { code: string; event: SimGroupEvent } {
    const g = this.memberGroup(by, groupId);
    if (g.participants.get(by) !== true) throw notAdmin("revoke the invite code");
    this.byCode.delete(g.inviteCode);
    g.inviteCode = newInviteCode();
    this.byCode.set(g.inviteCode, g.id);
    this.onChange();
    return { code: g.inviteCode, event: { groupId, change: "invite_revoked", by: userJid(by), audience: this.members(g).filter((p) => g.participants.get(p)) } };
  }

  /** `phone` joins by invite code; a member already is answered with the group too. */
  joinByCode(phone: string, code: string): { group: SimGroup; event?: SimGroupEvent } {
    const id = this.byCode.get(code);
    const g = id ? this.groups.get(id) : undefined;
    if (!g) throw new SimError("NOT_FOUND", "no group has this invite code (wrong or revoked)");
    if (g.participants.has(phone)) return { group: this.view(g) };
    if (g.participants.size >= GROUP_SIZE_MAX) throw new SimError("GROUP_FULL", `the group has ${GROUP_SIZE_MAX} members`);
    g.participants.set(phone, false);
    this.join(phone, g.id);
    this.onChange();
    return { group: this.view(g), event: { groupId: g.id, change: "join", by: userJid(phone), participants: [userJid(phone)], audience: this.members(g) } };
  }

  /** Sets the picture (admins only when `restrict`); `picture` null removes it. */
  setPicture(by: string, groupId: string, picture: { mimetype: string; data: string } | null): SimGroupEvent {
    const g = this.memberGroup(by, groupId);
    if (g.settings.restrict && g.participants.get(by) !== true) throw notAdmin("change this group's picture (only admins may)");
    if (picture) g.picture = { ...picture, sha256: createHash("sha256").update(Buffer.from(picture.data, "base64")).digest("hex") };
    else delete g.picture;
    this.onChange();
    return { groupId, change: "picture", by: userJid(by), audience: this.members(g) };
  }

  /** The picture as a member sees it: null when there is none. */
  picture(phone: string, groupId: string): SimGroupPicture | null {
    const g = this.memberGroup(phone, groupId);
    return g.picture ? { ...g.picture } : null;
  }

  /**
   * Whether `phone` may post to the group now: members only, and only admins in an announcement
   * group. Throws WhatsApp's refusal otherwise. Returns the members to deliver to.
   */
  checkPost(phone: string, groupId: string): string[] {
    const g = this.memberGroup(phone, groupId);
    if (g.settings.announce && g.participants.get(phone) !== true) throw notAdmin("send messages to this group (only admins may)");
    return this.members(g);
  }

  snapshot(): GroupsSnapshot {
    return { groups: [...this.groups.values()].map((g) => ({ ...g, settings: { ...g.settings }, participants: [...g.participants] })) };
  }

  restore(snapshot?: GroupsSnapshot): void {
    this.groups.clear();
    this.byCode.clear();
    this.memberships.clear();
    for (const s of snapshot?.groups ?? []) {
      const g: GroupState = { ...s, participants: new Map(s.participants) };
      this.groups.set(g.id, g);
      this.byCode.set(g.inviteCode, g.id);
      for (const p of g.participants.keys()) this.join(p, g.id);
    }
  }

  // --- internals ---

  private addTo(g: GroupState, by: string, phones: string[]): SimParticipantResult[] {
    return unique(phones).map((phone): SimParticipantResult => {
      const id = userJid(phone);
      if (g.participants.has(phone)) return { id, status: "already_member" };
      const verdict = this.canAdd(phone, by);
      if (verdict === "not_on_whatsapp") return { id, status: "not_on_whatsapp" };
      // WhatsApp sends a private invite link instead when the person's privacy forbids being added
      if (verdict === "privacy") return { id, status: "invite_sent" };
      if (g.participants.size >= GROUP_SIZE_MAX) throw new SimError("GROUP_FULL", `a group has at most ${GROUP_SIZE_MAX} members`);
      g.participants.set(phone, false);
      this.join(phone, g.id);
      return { id, status: "added" };
    });
  }

  /** A group `phone` is a member of; NOT_FOUND otherwise (WhatsApp shows non-members nothing). */
  private memberGroup(phone: string, groupId: string): GroupState {
    const g = this.groups.get(groupId);
    if (!g || !g.participants.has(phone)) throw new SimError("NOT_FOUND", `${phone} is not a member of ${groupId}`);
    return g;
  }

  private ensureAdmin(g: GroupState): string | undefined {
    if (!g.participants.size || [...g.participants.values()].some(Boolean)) return undefined;
    const heir = g.participants.keys().next().value as string;
    g.participants.set(heir, true);
    return heir;
  }

  private drop(g: GroupState, phone: string): void {
    g.participants.delete(phone);
    this.memberships.get(phone)?.delete(g.id);
  }

  private join(phone: string, groupId: string): void {
    let set = this.memberships.get(phone);
    if (!set) this.memberships.set(phone, (set = new Set()));
    set.add(groupId);
  }

  private members(g: GroupState): string[] {
    return [...g.participants.keys()];
  }

  private view(g: GroupState): SimGroup {
    return {
      id: g.id,
      subject: g.subject,
      description: g.description,
      owner: userJid(g.owner),
      createdAt: g.createdAt,
      participants: [...g.participants].map(([p, admin]) => ({ id: userJid(p), admin, superAdmin: p === g.owner && admin })),
      settings: { ...g.settings },
    };
  }
}

function checkSubject(subject: string): void {
  if (typeof subject !== "string" || !subject.trim() || subject.length > SUBJECT_MAX) throw new SimError("VALIDATION_ERROR", `subject must be 1-${SUBJECT_MAX} characters`, "subject");
}

function notAdmin(what: string): SimError {
  return new SimError("NOT_ADMIN", `only a group admin may ${what}`);
}

function newInviteCode(): string {
  return randomBytes(16).toString("base64url").slice(0, 22);
}

function unique(phones: string[]): string[] {
  return [...new Set(phones)];
}

// Engine capabilities (DESIGN section 4): beyond the core every engine implements, an engine
// declares a set of named capabilities, each a group of optional verbs or message fields. The API
// answers a capability the session's engine lacks with 501 NOT_SUPPORTED; the contract suite runs
// each capability on every engine that declares it, so a declaration is a tested promise.
import type { EngineMessage } from "./types";

export const CAPABILITIES = [
  /** listChats, getChat */
  "chats",
  /** listMessages, getMessage */
  "history",
  /** listContacts, getContact, checkPhones, setBlocked */
  "contacts",
  /** MessageContent.replyTo */
  "replies",
  /** MessageContent.mentions */
  "mentions",
  /** react */
  "reactions",
  /** editMessage */
  "edit",
  /** deleteMessage (for everyone or for me) */
  "revoke",
  /** MessageContent.location */
  "location",
  /** MessageContent.contact (a vCard) */
  "vcard",
  /** MessageContent.poll */
  "polls",
  /** sendPresence */
  "presence",
  /** markRead */
  "read",
  /** `message_sent` events for own messages sent from any device (the phone included) */
  "sentEvents",
  /** createGroup, listGroups, getGroup, updateGroup, leaveGroup, changeParticipants, invite codes, pictures; `group_update` events; group messages carry `author` */
  "groups",
  /** `call` events, rejectCall */
  "calls",
  /** WhatsApp Business labels: listLabels, getChatLabels, setChatLabel; `label` events */
  "labels",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** A page of a list, newest first; `next` is the engine's own position for the following page. */
export interface EnginePage<T> {
  items: T[];
  next?: string;
}

export interface PageQuery {
  /** 1..100 */
  limit: number;
  /** The engine's position from a previous page's `next`. */
  before?: string;
}

export interface HistoryQuery extends PageQuery {
  /** Only messages at or after this Unix second. */
  since?: number;
  /** Only own (true) or only others' (false) messages. */
  fromMe?: boolean;
}

export interface ChatSummary {
  /** `<digits>@c.us`, `<digits>@g.us`, `<digits>@lid` */
  id: string;
  name: string;
  isGroup: boolean;
  unreadCount: number;
  /** Unix seconds of the last activity */
  timestamp: number;
  lastMessage: EngineMessage | null;
}

export interface ContactInfo {
  /** `<phone>@c.us`, or `<lid>@lid` when the phone is hidden */
  id: string;
  phone: string | null;
  lid: string | null;
  name: string | null;
  pushname: string | null;
  isBusiness: boolean;
  about: string | null;
  pictureUrl: string | null;
  blocked: boolean;
}

export interface PhoneCheck {
  phone: string;
  exists: boolean;
  id: string | null;
  lid: string | null;
}

export type PresenceState = "typing" | "recording" | "paused";
export const PRESENCE_STATES: readonly PresenceState[] = ["typing", "recording", "paused"];

export interface GroupSettings {
  /** Only admins send messages */
  announce: boolean;
  /** Only admins edit the group's info (subject, description, picture) */
  restrict: boolean;
}

export interface GroupParticipant {
  /** `<phone>@c.us` (or `<lid>@lid` where the engine only knows that) */
  id: string;
  admin: boolean;
  /** The group's creator (WhatsApp's "superadmin") */
  superAdmin: boolean;
}

export interface GroupInfo {
  /** `<digits>@g.us` */
  id: string;
  subject: string;
  description: string;
  /** The creator, when WhatsApp tells */
  owner: string | null;
  /** Unix seconds, when WhatsApp tells */
  createdAt: number | null;
  participants: GroupParticipant[];
  settings: GroupSettings;
}

export interface GroupChange {
  subject?: string;
  description?: string;
  settings?: Partial<GroupSettings>;
}

export type ParticipantAction = "add" | "remove" | "promote" | "demote";
/**
 * One participant's outcome: added, already_member, not_on_whatsapp, invite_sent (their privacy
 * forbids being added: WhatsApp sent them an invite instead); removed, promoted, demoted; not_a_member.
 */
export type ParticipantStatus = "added" | "already_member" | "not_on_whatsapp" | "invite_sent" | "removed" | "promoted" | "demoted" | "not_a_member";
export interface ParticipantResult {
  id: string;
  status: ParticipantStatus;
}

export interface GroupPicture {
  mimetype: string;
  /** base64 */
  data: string;
}

/** A change of a group the account is (or was) in, and who made it. */
export interface GroupUpdate {
  groupId: string;
  /** create, join, add, leave, remove, promote, demote, subject, description, settings, picture, invite_revoked */
  change: string;
  /** Who did it (`<phone>@c.us`) */
  by: string;
  participants?: string[];
  /** subject / description: the new text; settings: the new settings */
  value?: string | GroupSettings;
}

export interface IncomingCall {
  callId: string;
  /** The caller */
  from: string;
  isVideo: boolean;
  isGroup: boolean;
  /** Unix seconds */
  timestamp: number;
}

export interface Label {
  id: string;
  name: string;
  /** #rrggbb */
  color: string;
}

/** The optional verbs; an engine implements those of the capabilities it declares. */
export interface CapabilityVerbs {
  listChats?(query: PageQuery): Promise<EnginePage<ChatSummary>>;
  /** undefined: no such chat */
  getChat?(chatId: string): Promise<ChatSummary | undefined>;
  /** undefined: no such chat */
  listMessages?(chatId: string, query: HistoryQuery): Promise<EnginePage<EngineMessage> | undefined>;
  /** undefined: no such message */
  getMessage?(messageId: string): Promise<EngineMessage | undefined>;
  /** "" removes the reaction. false: no such message. */
  react?(messageId: string, emoji: string): Promise<boolean>;
  /** false: no such message (or not own / not text) */
  editMessage?(messageId: string, text: string): Promise<boolean>;
  /** false: no such message */
  deleteMessage?(messageId: string, forEveryone: boolean): Promise<boolean>;
  /** false: no such chat */
  markRead?(chatId: string): Promise<boolean>;
  sendPresence?(chatId: string, state: PresenceState): Promise<void>;
  listContacts?(query: PageQuery): Promise<EnginePage<ContactInfo>>;
  /** undefined: unknown contact */
  getContact?(contactId: string): Promise<ContactInfo | undefined>;
  checkPhones?(phones: string[]): Promise<PhoneCheck[]>;
  /** false: unknown contact */
  setBlocked?(contactId: string, blocked: boolean): Promise<boolean>;
  createGroup?(subject: string, participants: string[]): Promise<{ group: GroupInfo; participants: ParticipantResult[] }>;
  /** The groups the account is in, newest first */
  listGroups?(query: PageQuery): Promise<EnginePage<GroupInfo>>;
  /** undefined: no such group (or not a member) */
  getGroup?(groupId: string): Promise<GroupInfo | undefined>;
  /** undefined: no such group. Throws GROUP_NOT_ADMIN when the account may not. */
  updateGroup?(groupId: string, change: GroupChange): Promise<GroupInfo | undefined>;
  /** false: no such group */
  leaveGroup?(groupId: string): Promise<boolean>;
  /** undefined: no such group. Throws GROUP_NOT_ADMIN when the account is not an admin. */
  changeParticipants?(groupId: string, action: ParticipantAction, participants: string[]): Promise<ParticipantResult[] | undefined>;
  /** undefined: no such group */
  getInviteCode?(groupId: string): Promise<string | undefined>;
  /** The new code; undefined: no such group */
  revokeInviteCode?(groupId: string): Promise<string | undefined>;
  /** The group joined; undefined: no group has this code */
  joinGroup?(code: string): Promise<string | undefined>;
  /**
   * null removes it. false: no such group. An engine may re-encode the picture (wwebjs: the
   * library sends a 640x640 JPEG), so what WhatsApp keeps need not be the bytes given.
   */
  setGroupPicture?(groupId: string, picture: GroupPicture | null): Promise<boolean>;
  /** What WhatsApp keeps (see setGroupPicture); null: none; undefined: no such group */
  getGroupPicture?(groupId: string): Promise<GroupPicture | null | undefined>;
  /** false: no such call ringing this account */
  rejectCall?(callId: string): Promise<boolean>;
  /** Throws LABELS_NOT_AVAILABLE on an account that is not WhatsApp Business */
  listLabels?(): Promise<Label[]>;
  /** undefined: no such chat */
  getChatLabels?(chatId: string): Promise<Label[] | undefined>;
  setChatLabel?(chatId: string, labelId: string, on: boolean): Promise<"ok" | "no_chat" | "no_label">;
}

/** The verbs each capability needs (message-field capabilities need none). */
export const CAPABILITY_VERBS: Record<Capability, (keyof CapabilityVerbs)[]> = {
  chats: ["listChats", "getChat"],
  history: ["listMessages", "getMessage"],
  contacts: ["listContacts", "getContact", "checkPhones", "setBlocked"],
  replies: [],
  mentions: [],
  reactions: ["react"],
  edit: ["editMessage"],
  revoke: ["deleteMessage"],
  location: [],
  vcard: [],
  polls: [],
  presence: ["sendPresence"],
  read: ["markRead"],
  sentEvents: [],
  groups: ["createGroup", "listGroups", "getGroup", "updateGroup", "leaveGroup", "changeParticipants", "getInviteCode", "revokeInviteCode", "joinGroup", "setGroupPicture", "getGroupPicture"],
  calls: ["rejectCall"],
  labels: ["listLabels", "getChatLabels", "setChatLabel"],
};

/** The capabilities a message's content uses. */
export function capabilitiesOfContent(content: { replyTo?: unknown; mentions?: unknown[]; mentionAll?: boolean; location?: unknown; contact?: unknown; poll?: unknown }): Capability[] {
  const out: Capability[] = [];
  if (content.replyTo !== undefined) out.push("replies");
  if (content.mentions?.length || content.mentionAll) out.push("mentions");
  // the group's members are read to mention them all
  if (content.mentionAll) out.push("groups");
  if (content.location !== undefined) out.push("location");
  if (content.contact !== undefined) out.push("vcard");
  if (content.poll !== undefined) out.push("polls");
  return out;
}

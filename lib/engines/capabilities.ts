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
};

/** The capabilities a message's content uses. */
export function capabilitiesOfContent(content: { replyTo?: unknown; mentions?: unknown[]; location?: unknown; contact?: unknown; poll?: unknown }): Capability[] {
  const out: Capability[] = [];
  if (content.replyTo !== undefined) out.push("replies");
  if (content.mentions?.length) out.push("mentions");
  if (content.location !== undefined) out.push("location");
  if (content.contact !== undefined) out.push("vcard");
  if (content.poll !== undefined) out.push("polls");
  return out;
}

// WhatsApp ids (WhatsApp calls them wids or jids): `<user>@<server>`, where the server says what the
// id names. Phones and ids are map keys, folder names and ledger entries, so they are parsed into
// one canonical form here and nowhere else: digits only, `s.whatsapp.net` (the multi-device wire
// name) read as `c.us`, a bare phone number read as its `c.us` id.

/** The kinds of ids wafleet handles, by server. */
export const ID_SERVERS = {
  /** a user, by phone number */
  user: "c.us",
  /** a user, by privacy id (WhatsApp's "LID": hides the phone number) */
  lid: "lid",
  /** a group: `<digits>@g.us`, or the older `<creator phone>-<seconds>@g.us` */
  group: "g.us",
  /** a channel */
  newsletter: "newsletter",
} as const;

export type IdKind = keyof typeof ID_SERVERS;

export interface WhatsAppId {
  kind: IdKind;
  /** The part before `@`. */
  user: string;
  server: (typeof ID_SERVERS)[IdKind];
  /** `<user>@<server>`, the canonical string. */
  serialized: string;
}

const PHONE = /^\d{5,20}$/;
const DIGITS = /^\d{1,24}$/;
const OLD_GROUP = /^\d{5,20}-\d{1,20}$/;

/** The canonical phone (digits only, 5-20 of them), or undefined; a leading `+` is allowed and dropped. */
export function parsePhone(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const digits = value.startsWith("+") ? value.slice(1) : value;
  return PHONE.test(digits) ? digits : undefined;
}

/**
 * Any id wafleet handles, canonical, or undefined for anything else (status broadcasts, garbage,
 * path tricks). A bare phone number (with or without `+`) is the user with that phone.
 */
export function parseId(value: unknown): WhatsAppId | undefined {
  if (typeof value !== "string" || value.length > 64) return undefined;
  const at = value.indexOf("@");
  if (at === -1) {
    const phone = parsePhone(value);
    return phone ? make("user", phone) : undefined;
  }
  const user = value.slice(0, at);
  switch (value.slice(at + 1)) {
    case "c.us":
    case "s.whatsapp.net":
      return PHONE.test(user) ? make("user", user) : undefined;
    case "lid":
      return DIGITS.test(user) ? make("lid", user) : undefined;
    case "g.us":
      return DIGITS.test(user) || OLD_GROUP.test(user) ? make("group", user) : undefined;
    case "newsletter":
      return DIGITS.test(user) ? make("newsletter", user) : undefined;
    default:
      return undefined;
  }
}

function make(kind: IdKind, user: string): WhatsAppId {
  const server = ID_SERVERS[kind];
  return { kind, user, server, serialized: `${user}@${server}` };
}

/** The phone of a user id (`<digits>@c.us`) or of a bare phone number; undefined for anything else (groups, LIDs, garbage). */
export function parseUserJid(value: unknown): string | undefined {
  const id = parseId(value);
  return id?.kind === "user" ? id.user : undefined;
}

/** A person: a user by phone or by LID. */
export function isPersonId(id: WhatsAppId | undefined): boolean {
  return id?.kind === "user" || id?.kind === "lid";
}

/** `<phone>@c.us` */
export function userJid(phone: string): string {
  return `${phone}@${ID_SERVERS.user}`;
}

/** `<digits>@lid` */
export function lidJid(lid: string): string {
  return `${lid}@${ID_SERVERS.lid}`;
}

/** The part before `@` (the phone of a user id), without a leading `+`. */
export function userOf(jid: string): string {
  return jid.replace(/@.*$/, "").replace(/^\+/, "");
}

// The same grammar as parseId, as patterns for request validation (fastest-validator, OpenAPI).
const PHONE_SRC = "\\+?[0-9]{5,20}";
const USER_SRC = "[0-9]{5,20}@(?:c\\.us|s\\.whatsapp\\.net)";
const LID_SRC = "[0-9]{1,24}@lid";
const GROUP_SRC = "(?:[0-9]{1,24}|[0-9]{5,20}-[0-9]{1,20})@g\\.us";
const NEWSLETTER_SRC = "[0-9]{1,24}@newsletter";

/** A chat: a phone number, a user (by phone or LID), a group or a channel. */
export const CHAT_ID_PATTERN = new RegExp(`^(?:${PHONE_SRC}|${USER_SRC}|${LID_SRC}|${GROUP_SRC}|${NEWSLETTER_SRC})$`);
/** A person: a phone number, or a user by phone or by LID. */
export const CONTACT_ID_PATTERN = new RegExp(`^(?:${PHONE_SRC}|${USER_SRC}|${LID_SRC})$`);
/** A group id. */
export const GROUP_ID_PATTERN = new RegExp(`^${GROUP_SRC}$`);
/** A phone number in international format, digits only (a leading + allowed). */
export const PHONE_PATTERN = new RegExp(`^${PHONE_SRC}$`);

/** The canonical form of a chat id from the API (a bare phone is its user id); unchanged if it does not parse. */
export function canonicalChatId(value: string): string {
  return parseId(value)?.serialized ?? value;
}

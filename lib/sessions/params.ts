// Validation schemas (fastest-validator) for session actions: the gateway validates with these and
// the OpenAPI document is generated from them, so there is one definition per field.
import type { MessageContent } from "../engines/types";
import { WafleetError } from "../errors";
import { MEDIA_ID_PATTERN } from "../media/ids";
import { CHAT_ID_PATTERN, CONTACT_ID_PATTERN, PHONE_PATTERN } from "../whatsapp";
import { ENGINES } from "../config";
import { ID_PATTERN } from "./storage";

const idMessages = { stringPattern: "expected 1-64 characters of A-Z a-z 0-9 _ -", stringMin: "must not be empty" };

export const workspaceIdParam = { type: "string", pattern: ID_PATTERN, messages: idMessages } as const;
export const sessionIdParam = { type: "string", pattern: ID_PATTERN, messages: idMessages } as const;


export const sessionRef = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam } as const;

export const createSessionParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: { ...sessionIdParam, optional: true },
  accountId: { type: "string", min: 1, max: 128, optional: true, nullable: true },
  start: { type: "boolean", optional: true },
  metadata: { type: "object", optional: true, maxProps: 32 },
  engine: { type: "enum", values: [...ENGINES], optional: true, messages: { enumValue: `expected one of ${ENGINES.join(", ")}` } },
} as const;

export const listSessionsParams = { $$strict: true, workspaceId: workspaceIdParam } as const;

/** What a media message may carry (WhatsApp's own media kinds); anything else is refused. */
export const MEDIA_MIMETYPES = [
  "image/jpeg",
  "image/png",
  "image/webp",
  "image/gif",
  "video/mp4",
  "video/3gpp",
  "audio/mpeg",
  "audio/ogg",
  "audio/aac",
  "audio/mp4",
  "audio/amr",
  "application/pdf",
  "text/plain",
  "text/csv",
  "application/zip",
  "application/msword",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.ms-excel",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.ms-powerpoint",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
] as const;

/** The schema's own ceiling on decoded media (API_MEDIA_MAX_BYTES may only lower it). */
export const MEDIA_MAX_BYTES_CEILING = 64 * 1024 * 1024;

export const sendMessageParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  to: { type: "string", pattern: CHAT_ID_PATTERN, messages: { stringPattern: "expected a phone number (digits) or a chat id like 15550001111@c.us" } },
  text: { type: "string", min: 1, max: 65536, optional: true },
  media: {
    type: "object",
    optional: true,
    strict: true,
    props: {
      mimetype: { type: "enum", values: [...MEDIA_MIMETYPES], optional: true },
      mediaId: { type: "string", pattern: MEDIA_ID_PATTERN, optional: true, messages: { stringPattern: "expected a mediaId from POST /workspaces/:workspaceId/media" } },
      data: { type: "string", min: 4, max: Math.ceil(MEDIA_MAX_BYTES_CEILING / 3) * 4, base64: true, optional: true, messages: { stringBase64: "expected standard base64 (A-Z a-z 0-9 + /, padded with =)" } },
      url: { type: "string", min: 10, max: 2048, pattern: /^https?:\/\/[^\s]+$/i, optional: true, messages: { stringPattern: "expected an http:// or https:// URL" } },
      // eslint-disable-next-line no-control-regex
      filename: { type: "string", min: 1, max: 255, pattern: /^(?!\.{1,2}$)[^/\\\x00-\x1f]+$/, optional: true, messages: { stringPattern: "expected a file name without slashes or control characters" } },
    },
  },
  caption: { type: "string", min: 1, max: 4096, optional: true },
  voice: { type: "boolean", optional: true },
  replyTo: { type: "string", min: 1, max: 256, pattern: /^[\x21-\x7e]+$/, optional: true, messages: { stringPattern: "expected a message id (visible ASCII)" } },
  mentions: { type: "array", optional: true, max: 64, unique: true, items: { type: "string", pattern: CONTACT_ID_PATTERN, messages: { stringPattern: "expected a person id: a phone number, <digits>@c.us or <digits>@lid" } } },
  linkPreview: { type: "boolean", optional: true },
  mentionAll: { type: "boolean", optional: true },
  location: {
    type: "object",
    optional: true,
    strict: true,
    props: {
      latitude: { type: "number", min: -90, max: 90 },
      longitude: { type: "number", min: -180, max: 180 },
      name: { type: "string", min: 1, max: 256, optional: true },
      address: { type: "string", min: 1, max: 1024, optional: true },
    },
  },
  contact: { type: "object", optional: true, strict: true, props: { vcard: { type: "string", min: 20, max: 65536, pattern: /^BEGIN:VCARD\r?\n[\s\S]*END:VCARD\s*$/, messages: { stringPattern: "expected vCard text: BEGIN:VCARD ... END:VCARD" } } } },
  poll: {
    type: "object",
    optional: true,
    strict: true,
    props: {
      name: { type: "string", min: 1, max: 256 },
      options: { type: "array", min: 2, max: 12, unique: true, items: { type: "string", min: 1, max: 100 } },
      multiple: { type: "boolean", optional: true },
    },
  },
} as const;

export interface SendMessageInput {
  to: string;
  text?: string;
  media?: { mimetype?: string; mediaId?: string; data?: string; url?: string; filename?: string };
  caption?: string;
  voice?: boolean;
  replyTo?: string;
  mentions?: string[];
  linkPreview?: boolean;
  /** Mention every member of the group `to` (expanded by the session's owner). */
  mentionAll?: boolean;
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  contact?: { vcard: string };
  poll?: { name: string; options: string[]; multiple?: boolean };
}

const invalid = (field: string, message: string, type: string) => new WafleetError("VALIDATION_ERROR", `Invalid field(s): ${field}`, [{ field, message, type }]);

/** Decoded size of a base64 string without decoding it. */
export function base64Bytes(data: string): number {
  const pad = data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0;
  return (data.length / 4) * 3 - pad;
}

/**
 * The checks one schema cannot express: a message is text or media (exactly one); media carries
 * data or url (exactly one); a caption needs media; decoded media fits maxBytes.
 */
export function checkMessageShape(p: SendMessageInput, maxBytes: number): void {
  const kinds = [p.text, p.media, p.location, p.contact, p.poll].filter((x) => x !== undefined).length;
  if (kinds !== 1) throw invalid("text", "send exactly one of text, media, location, contact or poll", "oneOf");
  if (p.caption !== undefined && !p.media) throw invalid("caption", "a caption goes with media only", "dependency");
  if (p.voice && !/^audio\//.test(p.media?.mimetype ?? "")) throw invalid("voice", "a voice note is audio media", "dependency");
  if (p.linkPreview !== undefined && p.text === undefined) throw invalid("linkPreview", "linkPreview goes with text only", "dependency");
  if (p.mentionAll && !p.to.endsWith("@g.us")) throw invalid("mentionAll", "mentionAll goes with a group chat (to: <digits>@g.us)", "dependency");
  if (p.media) {
    const sources = [p.media.data, p.media.url, p.media.mediaId].filter((x) => x !== undefined).length;
    if (sources !== 1) throw invalid("media.data", "send exactly one of media.mediaId, media.data (base64) or media.url", "oneOf");
    if (p.media.mediaId === undefined && p.media.mimetype === undefined) throw invalid("media.mimetype", "media.mimetype is required with media.data or media.url", "required");
    if (p.media.data !== undefined && base64Bytes(p.media.data) > maxBytes) throw new WafleetError("MEDIA_TOO_LARGE", `The media is larger than ${maxBytes} bytes`, { limit: maxBytes });
  }
}

/**
 * The engine's MessageContent. Media given by mediaId is read from the media store (`read`); a
 * media.url is resolved by the gateway before the action is called.
 */
export async function messageContentOf(
  p: SendMessageInput,
  maxBytes: number,
  read?: (mediaId: string) => Promise<{ mimetype: string; filename?: string; data: string }>,
): Promise<MessageContent> {
  checkMessageShape(p, maxBytes);
  const extras: MessageContent = {};
  if (p.replyTo !== undefined) extras.replyTo = p.replyTo;
  if (p.mentions?.length) extras.mentions = [...p.mentions];
  if (p.mentionAll) extras.mentionAll = true;
  if (p.text !== undefined) return { text: p.text, ...extras, ...(p.linkPreview !== undefined ? { linkPreview: p.linkPreview } : {}) };
  if (p.location) return { location: { ...p.location }, ...extras };
  if (p.contact) return { contact: { vcard: p.contact.vcard }, ...extras };
  if (p.poll) return { poll: { name: p.poll.name, options: [...p.poll.options], multiple: p.poll.multiple === true }, ...extras };
  const m = p.media!;
  const caption = p.caption ? { caption: p.caption } : {};
  const voice = p.voice ? { voice: true } : {};
  if (m.mediaId !== undefined) {
    if (!read) throw new WafleetError("MEDIA_NOT_FOUND", "This node has no media store");
    const stored = await read(m.mediaId);
    const filename = m.filename ?? stored.filename;
    return { media: { mimetype: m.mimetype ?? stored.mimetype, data: stored.data, ...(filename ? { filename } : {}) }, ...caption, ...voice, ...extras };
  }
  if (m.data === undefined) throw invalid("media.url", "media.url is resolved by the API gateway; send media.data or media.mediaId to this action", "oneOf");
  return { media: { mimetype: m.mimetype!, data: m.data, ...(m.filename ? { filename: m.filename } : {}) }, ...caption, ...voice, ...extras };
}

export const pairingCodeParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  phoneNumber: { type: "string", pattern: /^\+?[0-9]{5,20}$/, messages: { stringPattern: "expected a phone number in international format, digits only" } },
} as const;

// --- the WhatsApp surface: chats, history, contacts, message actions ---

const chatIdParam = { type: "string", pattern: CHAT_ID_PATTERN, messages: { stringPattern: "expected a chat id: a phone number, <digits>@c.us, <digits>@lid, a group <digits>@g.us" } } as const;
const contactIdParam = { type: "string", pattern: CONTACT_ID_PATTERN, messages: { stringPattern: "expected a person id: a phone number, <digits>@c.us or <digits>@lid" } } as const;
const messageIdParam = { type: "string", min: 1, max: 256, pattern: /^[\x21-\x7e]+$/, messages: { stringPattern: "expected a message id (visible ASCII, URL-encoded in the path)" } } as const;
const limitParam = { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true } as const;
const cursorParam = { type: "string", min: 1, max: 512, optional: true } as const;

export const PAGE_LIMIT_DEFAULT = 50;

export const listChatsParams = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam, limit: limitParam, cursor: cursorParam } as const;
export const chatRef = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam, chatId: chatIdParam } as const;
export const listMessagesParams = {
  ...chatRef,
  limit: limitParam,
  cursor: cursorParam,
  since: { type: "number", integer: true, min: 0, max: 1e11, convert: true, optional: true },
  fromMe: { type: "boolean", convert: true, optional: true },
} as const;
export const presenceParams = { ...chatRef, state: { type: "enum", values: ["typing", "recording", "paused"] } } as const;
export const messageRef = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam, messageId: messageIdParam } as const;
export const editMessageParams = { ...messageRef, text: { type: "string", min: 1, max: 65536 } } as const;
export const deleteMessageParams = { ...messageRef, for: { type: "enum", values: ["everyone", "me"], optional: true } } as const;
export const reactParams = { ...messageRef, emoji: { type: "string", min: 0, max: 32 } } as const;
export const listContactsParams = listChatsParams;
export const contactRef = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam, contactId: contactIdParam } as const;
export const checkContactsParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  sessionId: sessionIdParam,
  phones: { type: "array", min: 1, max: 100, items: { type: "string", pattern: PHONE_PATTERN, messages: { stringPattern: "expected a phone number in international format, digits only" } } },
} as const;

// What a wafleet message is in whatsapp-web.js's terms, both ways: the content and options of
// `client.sendMessage` (replies, mentions, link previews, voice notes, locations, vCards, polls),
// and a library Message as an EngineMessage.
import type { Message, MessageSendOptions } from "whatsapp-web.js";
import { Location, MessageMedia, Poll } from "whatsapp-web.js";
import type { MessageType } from "../../whatsapp";
import { ackLevelOf } from "../../whatsapp";
import type { EngineMessage, MessageContent } from "../types";

/** whatsapp-web.js's message types (WhatsApp Web's own names) as wafleet's. */
const WA_TYPES: Record<string, MessageType> = {
  chat: "text",
  image: "image",
  video: "video",
  audio: "audio",
  ptt: "voice",
  document: "document",
  sticker: "sticker",
  location: "location",
  vcard: "vcard",
  multi_vcard: "vcard",
  poll_creation: "poll",
  revoked: "revoked",
};

export function messageTypeOf(waType: string | undefined): MessageType {
  return (waType && WA_TYPES[waType]) || "unknown";
}

/** The payload and options `client.sendMessage` takes for `content`. */
export function sendArgsOf(content: MessageContent): { payload: string | MessageMedia | Location | Poll; options: MessageSendOptions } {
  // wafleet marks chats read only when asked (POST .../read), as the simulator engine does
  const options: MessageSendOptions = { linkPreview: content.linkPreview === true, sendSeen: false };
  if (content.replyTo) options.quotedMessageId = content.replyTo;
  if (content.mentions?.length) options.mentions = [...content.mentions];
  let payload: string | MessageMedia | Location | Poll;
  if (content.media) {
    payload = new MessageMedia(content.media.mimetype, content.media.data, content.media.filename);
    if (content.caption ?? content.text) options.caption = content.caption ?? content.text;
    if (content.voice) options.sendAudioAsVoice = true;
  } else if (content.location) {
    const { latitude, longitude, name, address } = content.location;
    payload = new Location(latitude, longitude, { ...(name ? { name } : {}), ...(address ? { address } : {}) });
  } else if (content.poll) {
    payload = new Poll(content.poll.name, [...content.poll.options], { allowMultipleAnswers: content.poll.multiple, messageSecret: undefined });
  } else if (content.contact) {
    payload = content.contact.vcard;
    options.parseVCards = true;
  } else {
    payload = content.text ?? content.caption ?? "";
  }
  return { payload, options };
}

/** A library Message as wafleet shows it (no media bytes: those come with the `message` event only). */
export function engineMessageOf(msg: Message): EngineMessage {
  const data = (msg as unknown as { _data?: Record<string, any> })._data ?? {};
  const type = messageTypeOf(msg.type);
  const out: EngineMessage = {
    id: msg.id._serialized,
    chatId: msg.id.remote,
    from: msg.from,
    to: msg.to,
    fromMe: msg.fromMe,
    body: type === "vcard" || type === "location" || type === "poll" ? "" : msg.body,
    timestamp: msg.timestamp,
    type,
  };
  if (msg.fromMe) {
    const ack = ackLevelOf(msg.ack);
    if (ack) out.ack = ack;
  }
  // a group's message: the library's `author` is the member who wrote it
  if (msg.author && !msg.fromMe) out.author = msg.author;
  if (typeof data.quotedStanzaID === "string") out.replyTo = data.quotedStanzaID;
  const mentions = (msg.mentionedIds ?? []).map((m: unknown) => (typeof m === "string" ? m : (m as { _serialized?: string })?._serialized)).filter((m): m is string => !!m);
  if (mentions.length) out.mentions = mentions;
  if (type === "location" && msg.location) {
    const loc = msg.location as unknown as { latitude: number | string; longitude: number | string; description?: string; name?: string; address?: string };
    const [name, ...address] = String(loc.description ?? loc.name ?? "").split("\n");
    out.location = { latitude: Number(loc.latitude), longitude: Number(loc.longitude), ...(name ? { name } : {}), ...(address.length ? { address: address.join("\n") } : {}) };
  }
  if (type === "vcard") out.vcard = msg.vCards?.[0] ?? msg.body;
  if (type === "poll") {
    const options = ((data.pollOptions ?? []) as Array<{ name: string }>).map((o) => o.name);
    out.poll = { name: String(data.pollName ?? ""), options, multiple: data.pollSelectableOptionsCount === 0 };
  }
  if (type === "revoked") out.revoked = true;
  if (data.mimetype && msg.hasMedia) out.media = { mimetype: data.mimetype, ...(data.filename ? { filename: data.filename } : {}) };
  return out;
}

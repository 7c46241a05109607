// The kinds of messages wafleet sends and receives, and how a media's MIME type maps onto them.

export const MESSAGE_TYPES = ["text", "image", "video", "audio", "voice", "document", "sticker", "location", "vcard", "poll", "revoked", "unknown"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export type MediaKind = "image" | "video" | "audio" | "document";

/** How WhatsApp shows media of this MIME type (anything not image, video or audio is a document). */
export function mediaKindOf(mimetype: string): MediaKind {
  if (/^image\//i.test(mimetype)) return "image";
  if (/^video\//i.test(mimetype)) return "video";
  if (/^audio\//i.test(mimetype)) return "audio";
  return "document";
}

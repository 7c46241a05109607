// Media messages between the network and WhatsApp's Message protobuf, for the fake WhatsApp server:
// an incoming media message is encrypted under a fresh media key and hosted on the media host (the
// client downloads it); an outgoing one is fetched from what the client uploaded and decrypted with
// the key its message carries, so the network relays the plaintext bytes like any engine's send.
import { mediaKindOf } from "../../whatsapp";
import type { SimIncomingMessage, SimMedia, SimMessageFields } from "../protocol";
import { MediaCodecError, decryptMedia, encryptMedia } from "./media-host";
import type { MediaHost, WaMediaType } from "./media-host";

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The Message a phone sends for the network's media message (context info as the caller builds it). */
export function waMediaMessageOf(host: MediaHost, m: Pick<SimIncomingMessage, "body" | "media"> & SimMessageFields, ctx: Record<string, unknown>): Record<string, unknown> {
  const media = m.media!;
  const kind = mediaKindOf(media.mimetype);
  const plain = Buffer.from(media.data, "base64");
  const e = encryptMedia(plain, kind);
  const { url, directPath } = host.host(e.enc);
  const common = { url, directPath, mediaKey: e.mediaKey, fileEncSha256: e.fileEncSha256, fileSha256: e.fileSha256, fileLength: e.fileLength, mimetype: media.mimetype, mediaKeyTimestamp: nowSeconds(), ...ctx };
  const caption = m.body ? { caption: m.body } : {};
  switch (kind) {
    case "image":
      return { imageMessage: { ...common, ...caption } };
    case "video":
      return { videoMessage: { ...common, ...caption } };
    case "audio":
      return { audioMessage: { ...common, ...(m.voice ? { ptt: true } : {}) } };
    default:
      return { documentMessage: { ...common, ...caption, fileName: media.filename ?? "file", ...(media.filename ? { title: media.filename } : {}) } };
  }
}

const MEDIA_FIELDS = [
  ["imageMessage", "image"],
  ["videoMessage", "video"],
  ["audioMessage", "audio"],
  ["documentMessage", "document"],
  ["stickerMessage", "sticker"],
] as const;

/** The media part of an outgoing Message, if it has one: which field, and WhatsApp's media type. */
export function mediaPartOf(msg: any): { field: string; type: WaMediaType; part: any } | undefined {
  const inner = msg?.documentWithCaptionMessage?.message ?? msg;
  for (const [field, type] of MEDIA_FIELDS) if (inner?.[field]) return { field, type, part: inner[field] };
  return undefined;
}

/**
 * An outgoing media Message as the network's send frame carries it: the media decrypted from the
 * upload it names, the caption as the body, audio as a voice note when it is push-to-talk.
 * Throws MediaCodecError when the upload is missing or does not match what the message claims.
 */
export function simMediaOf(host: MediaHost, found: { type: WaMediaType; part: any }): { media: SimMedia; body: string; voice?: true } {
  const p = found.part;
  const enc = host.fileOf(p.directPath ?? undefined, p.url ?? undefined);
  if (!enc) throw new MediaCodecError("MEDIA_NOT_FOUND", "the media host has no upload for this message");
  if (!p.mediaKey) throw new MediaCodecError("MEDIA_BAD_KEY", "the message has no media key");
  const buf = (v: unknown) => (v ? Buffer.from(v as Uint8Array) : undefined);
  const plain = decryptMedia(enc, Buffer.from(p.mediaKey), found.type, { fileEncSha256: buf(p.fileEncSha256), fileSha256: buf(p.fileSha256), fileLength: p.fileLength === undefined || p.fileLength === null ? undefined : Number(p.fileLength) });
  if (plain.length > host.maxBytes) throw new MediaCodecError("MEDIA_TOO_LARGE", `the media is larger than ${host.maxBytes} bytes`);
  const mimetype = typeof p.mimetype === "string" && p.mimetype ? p.mimetype : "application/octet-stream";
  const filename = found.type === "document" && typeof p.fileName === "string" && p.fileName ? p.fileName : undefined;
  const media: SimMedia = { mimetype, data: plain.toString("base64"), ...(filename ? { filename } : {}) };
  return { media, body: typeof p.caption === "string" ? p.caption : "", ...(found.type === "audio" && p.ptt ? { voice: true as const } : {}) };
}

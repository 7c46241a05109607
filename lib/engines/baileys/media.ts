// Media on the baileys engine: what Baileys is asked to send for wafleet's media (it encrypts, asks
// the server for `media_conn` and uploads), and incoming media downloaded with Baileys' own
// `downloadContentFromMessage`, bounded and checked against the hash its message carries, before
// the message is handed on. In simulation the fake server's media host has a self-signed
// certificate: only then does the engine get agents that trust it (never a global TLS change).
import { createHash } from "node:crypto";
import https from "node:https";
import type { Agent as UndiciAgent } from "undici";
import { mediaKindOf } from "../../whatsapp";
import type { MessageType } from "../../whatsapp";
import { EngineError } from "../errors";
import type { EngineMedia } from "../types";
import { loadBaileys } from "./library";

/** Why a received message's media was not downloaded (logged; the message goes on without the bytes). */
export class MediaDownloadError extends Error {
  constructor(
    readonly code: "MEDIA_TOO_LARGE" | "MEDIA_DOWNLOAD_FAILED",
    message: string,
  ) {
    super(message);
    this.name = "MediaDownloadError";
  }
}

/** The largest media the engine downloads (WhatsApp's own ceiling for media is about this). Default 64 MiB. */
export const BAILEYS_MEDIA_MAX_BYTES = 64 * 1024 * 1024;

/** Agents for the media host's uploads (Node https) and downloads (fetch), when it needs its own trust root. */
export class MediaAgents {
  readonly fetchAgent: https.Agent;
  readonly dispatcher: UndiciAgent;

  constructor(ca: string) {
    this.fetchAgent = new https.Agent({ ca, keepAlive: false });
    // loaded here: only a simulated engine needs it
    const { Agent } = require("undici") as typeof import("undici");
    this.dispatcher = new Agent({ connect: { ca }, keepAliveTimeout: 1000 });
  }

  close(): void {
    this.fetchAgent.destroy();
    void this.dispatcher.close().catch(() => undefined);
  }
}

/** What Baileys sends for wafleet's media: an image, video, audio (a voice note) or document message. */
export function mediaContentOf(media: EngineMedia, caption: string | undefined, voice: boolean | undefined): Record<string, unknown> {
  const bytes = Buffer.from(media.data, "base64");
  if (!bytes.length) throw new EngineError("VALIDATION_ERROR", "The media is empty");
  const kind = mediaKindOf(media.mimetype);
  if (voice && kind !== "audio") throw new EngineError("VALIDATION_ERROR", "Only audio can be sent as a voice note");
  const withCaption = caption ? { caption } : {};
  switch (kind) {
    case "image":
      return { image: bytes, mimetype: media.mimetype, ...withCaption };
    case "video":
      return { video: bytes, mimetype: media.mimetype, ...withCaption };
    case "audio":
      // WhatsApp shows no caption on audio; a caption given is sent on its own by the caller
      return { audio: bytes, mimetype: media.mimetype, ptt: !!voice };
    default:
      return { document: bytes, mimetype: media.mimetype, fileName: media.filename ?? "file", ...withCaption };
  }
}

const MEDIA_FIELDS = [
  ["imageMessage", "image"],
  ["videoMessage", "video"],
  ["audioMessage", "audio"],
  ["documentMessage", "document"],
  ["stickerMessage", "sticker"],
] as const;

export interface MediaPart {
  /** Baileys' media type (the download's key derivation) */
  type: "image" | "video" | "audio" | "document" | "sticker";
  /** wafleet's message type */
  messageType: MessageType;
  /** The media message itself (url, directPath, mediaKey, hashes, mimetype, …) */
  part: any;
}

/** The media of a received (normalized) message, if it has any. */
export function mediaPartOf(content: any): MediaPart | undefined {
  const inner = content?.documentWithCaptionMessage?.message ?? content;
  for (const [field, type] of MEDIA_FIELDS) {
    const part = inner?.[field];
    if (!part) continue;
    const messageType: MessageType = type === "audio" && part.ptt ? "voice" : type;
    return { type, messageType, part };
  }
  return undefined;
}

/** What a media message is, without its bytes: mimetype and (documents) file name. */
export function describeMedia(m: MediaPart): { mimetype: string; filename?: string } {
  const mimetype = typeof m.part.mimetype === "string" && m.part.mimetype ? m.part.mimetype : "application/octet-stream";
  const filename = typeof m.part.fileName === "string" && m.part.fileName ? m.part.fileName : undefined;
  return { mimetype, ...(filename ? { filename } : {}) };
}

/**
 * Downloads and decrypts a received message's media with Baileys' downloadContentFromMessage.
 * Refuses media past `maxBytes` (MEDIA_TOO_LARGE), and bytes that do not hash to the message's
 * fileSha256 (MEDIA_DOWNLOAD_FAILED, as for any other failure); gives up after `timeoutMs`.
 */
export async function downloadMedia(m: MediaPart, opts: { dispatcher?: UndiciAgent; maxBytes: number; timeoutMs: number }): Promise<EngineMedia> {
  const p = m.part;
  const declared = Number(p.fileLength ?? 0);
  if (declared > opts.maxBytes) throw new MediaDownloadError("MEDIA_TOO_LARGE", `The media is ${declared} bytes, more than the ${opts.maxBytes} this engine downloads`);
  if (!p.mediaKey || (!p.directPath && !p.url)) throw new MediaDownloadError("MEDIA_DOWNLOAD_FAILED", "The message names no media to download");
  const { downloadContentFromMessage } = loadBaileys();
  let stream: NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
  const chunks: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      stream = await downloadContentFromMessage({ mediaKey: p.mediaKey, directPath: p.directPath, url: p.url }, m.type, opts.dispatcher ? { options: { dispatcher: opts.dispatcher } } : {});
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > opts.maxBytes) throw new MediaDownloadError("MEDIA_TOO_LARGE", `The media is more than the ${opts.maxBytes} bytes this engine downloads`);
        chunks.push(chunk);
      }
    })();
    work.catch(() => undefined); // settled by the race below; a late failure after the deadline is not unhandled
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        stream?.destroy?.();
        reject(new MediaDownloadError("MEDIA_DOWNLOAD_FAILED", `The media was not downloaded within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
    });
    await Promise.race([work, expired]);
  } catch (err) {
    if (err instanceof MediaDownloadError) throw err;
    throw new MediaDownloadError("MEDIA_DOWNLOAD_FAILED", `The media could not be downloaded: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  const plain = Buffer.concat(chunks);
  if (p.fileSha256 && !createHash("sha256").update(plain).digest().equals(Buffer.from(p.fileSha256))) {
    throw new MediaDownloadError("MEDIA_DOWNLOAD_FAILED", "The downloaded media does not match its fileSha256");
  }
  return { ...describeMedia(m), data: plain.toString("base64") };
}

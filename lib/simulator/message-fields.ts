// The optional parts of a message (reply, mentions, location, vCard, poll, voice) as frames and
// admin requests carry them: validated here into clean values, and the message's type derived.
import { mediaKindOf, parseId } from "../whatsapp";
import type { SimMedia, SimMessageFields } from "./protocol";
import { SimError } from "./sim-error";

const MAX_ID = 128;

/** Clean fields from `raw`, or a SimError naming the bad field. */
export function parseMessageFields(raw: Record<string, unknown>): SimMessageFields {
  const out: SimMessageFields = {};
  if (raw.replyTo !== undefined) {
    if (typeof raw.replyTo !== "string" || !raw.replyTo || raw.replyTo.length > MAX_ID) throw bad("replyTo", "replyTo must be a message id");
    out.replyTo = raw.replyTo;
  }
  if (raw.mentions !== undefined) {
    if (!Array.isArray(raw.mentions) || raw.mentions.length > 1024) throw bad("mentions", "mentions must be a list of person ids");
    out.mentions = raw.mentions.map((m) => {
      const id = parseId(m);
      if (id?.kind !== "user" && id?.kind !== "lid") throw bad("mentions", `not a person id: ${JSON.stringify(m)}`);
      return id.serialized;
    });
  }
  if (raw.location !== undefined) {
    const l = raw.location as Record<string, unknown>;
    if (typeof l !== "object" || l === null || typeof l.latitude !== "number" || typeof l.longitude !== "number" || Math.abs(l.latitude) > 90 || Math.abs(l.longitude) > 180) {
      throw bad("location", "location needs latitude (-90..90) and longitude (-180..180)");
    }
    out.location = { latitude: l.latitude, longitude: l.longitude };
    if (typeof l.name === "string") out.location.name = l.name;
    if (typeof l.address === "string") out.location.address = l.address;
  }
  if (raw.vcard !== undefined) {
    if (typeof raw.vcard !== "string" || !/^BEGIN:VCARD/i.test(raw.vcard)) throw bad("vcard", "vcard must be vCard text (BEGIN:VCARD ...)");
    out.vcard = raw.vcard;
  }
  if (raw.poll !== undefined) {
    const p = raw.poll as Record<string, unknown>;
    const options = p?.options;
    if (typeof p !== "object" || p === null || typeof p.name !== "string" || !p.name || !Array.isArray(options) || options.length < 2 || options.length > 12 || options.some((o) => typeof o !== "string" || !o)) {
      throw bad("poll", "poll needs a name and 2-12 options");
    }
    if (new Set(options).size !== options.length) throw bad("poll", "poll options must differ");
    out.poll = { name: p.name, options: options as string[], multiple: p.multiple === true };
  }
  if (raw.voice !== undefined) {
    if (typeof raw.voice !== "boolean") throw bad("voice", "voice must be a boolean");
    if (raw.voice) out.voice = true;
  }
  return out;
}

/** The type WhatsApp shows for a message with this content. */
export function messageTypeOf(media: SimMedia | undefined, fields: SimMessageFields): string {
  if (fields.poll) return "poll";
  if (fields.location) return "location";
  if (fields.vcard) return "vcard";
  if (media) {
    const kind = mediaKindOf(media.mimetype);
    return kind === "audio" && fields.voice ? "voice" : kind;
  }
  return "text";
}

function bad(field: string, message: string): SimError {
  return new SimError("VALIDATION_ERROR", message, field);
}

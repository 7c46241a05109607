// Media ids: ULIDs (26 Crockford base32 characters), so an id is safe as a key and says when its
// media was stored (the retention sweeper reads the age from the key alone). An inbound message's
// media gets an id derived from the message, so a redelivered message is stored once.
import { createHash } from "node:crypto";
import { decodeTime, ulid } from "ulid";

export const MEDIA_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function isMediaId(value: unknown): value is string {
  return typeof value === "string" && MEDIA_ID_PATTERN.test(value);
}

/** A fresh id for an upload. */
export function newMediaId(now = Date.now()): string {
  return ulid(now);
}

/** The id of a received message's media: the message's time, then 80 bits of a hash of who and what. */
export function inboundMediaId(workspaceId: string, sessionId: string, messageId: string, timestampSec: number): string {
  const ms = Number.isFinite(timestampSec) && timestampSec > 0 ? Math.min(Math.round(timestampSec * 1000), 2 ** 48 - 1) : Date.now();
  const time = ulid(ms).slice(0, 10);
  const digest = createHash("sha256").update(`${workspaceId}\n${sessionId}\n${messageId}`).digest();
  let bits = 0n;
  for (const b of digest.subarray(0, 10)) bits = (bits << 8n) | BigInt(b);
  let rand = "";
  for (let i = 0; i < 16; i++) {
    rand = CROCKFORD[Number(bits & 31n)] + rand;
    bits >>= 5n;
  }
  return time + rand;
}

/** When the media was stored (uploads) or sent (inbound), ms since the epoch. */
export function mediaIdTime(mediaId: string): number {
  return decodeTime(mediaId);
}

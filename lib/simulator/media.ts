// Media attached to a message, as frames and admin requests carry it (base64 data, a mimetype).
import type { SimMedia } from "./protocol";

/** A clean copy of `value` if it is media (extra keys dropped), undefined if it is not. */
export function parseMedia(value: unknown): SimMedia | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { mimetype, data, filename } = value as Record<string, unknown>;
  if (typeof mimetype !== "string" || !mimetype || typeof data !== "string") return undefined;
  if (filename !== undefined && typeof filename !== "string") return undefined;
  return filename === undefined ? { mimetype, data } : { mimetype, data, filename };
}

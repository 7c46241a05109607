// Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`,
// `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, made by the official library so
// any Standard Webhooks verifier accepts them. Secrets are `whsec_` + base64 of random bytes.
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";

export const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{32,344}={0,2}$/;

/** A new signing secret: 32 random bytes. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export interface SignatureHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

const signers = new Map<string, Webhook>();

function signer(secret: string): Webhook {
  let w = signers.get(secret);
  if (!w) {
    if (signers.size > 10_000) signers.clear();
    w = new Webhook(secret);
    signers.set(secret, w);
  }
  return w;
}

/** The three Standard Webhooks headers for `body`; `id` is the event's ULID so receivers can deduplicate. */
export function signatureHeaders(secret: string, id: string, body: string, at: Date = new Date()): SignatureHeaders {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signer(secret).sign(id, at, body),
  };
}
